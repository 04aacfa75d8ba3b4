"""The shared pre-training/SFT loop: the loss weighs exactly the tokens the rows say, and training on it learns."""
import random

import torch

from training.gpt2_base import copy_drill, sinusoidal_positions
from training.gpt2_steps import Row, pad, train, weighted_loss
from tests.unit.gpt2.conftest import TEXTS, tiny_model


def test_the_loss_is_the_cross_entropy_of_the_weighted_tokens_only():
    model, tok = tiny_model()
    ids = tok(TEXTS[4])["input_ids"]
    row = Row(ids, n_first=len(ids) - 1)  # only the last token is taught, the rest has weight 0
    loss, taught = weighted_loss(model, *pad([row], tok.pad_token_id))
    logits = model(input_ids=torch.tensor([ids])).logits[0, -2]
    expected = torch.nn.functional.cross_entropy(logits[None], torch.tensor([ids[-1]]))
    torch.testing.assert_close(loss, expected)
    assert abs(taught - expected.item()) < 1e-5


def test_sinusoidal_positions_replace_the_random_table():
    model, _ = tiny_model()
    sinusoidal_positions(model, scale=1.0)
    table = model.transformer.wpe.weight
    assert torch.allclose(table[0, 0::2], torch.zeros(table.shape[1] // 2)) and torch.allclose(table[0, 1::2], torch.ones(table.shape[1] // 2))
    assert torch.allclose(table[3, 0], torch.tensor(3.0).sin())


def test_training_on_copy_drills_lowers_the_copy_loss():
    model, tok = tiny_model()
    rng = random.Random(0)
    rows = [copy_drill(tok, TEXTS[5], rng) for _ in range(8)]
    before = weighted_loss(model, *pad(rows, tok.pad_token_id))[1]
    train(model, lambda _: rows, tok.pad_token_id, steps=60, lr=1e-2, warmup=5)
    after = weighted_loss(model, *pad(rows, tok.pad_token_id))[1]
    assert after < 0.5 * before, (before, after)


def test_the_compiled_loss_equals_the_eager_one_on_padded_rows_of_several_widths():
    """Long runs train through torch.compile (training/gpt2_steps.py): it must compute the same loss and
    gradient as the eager function, for every batch width (rows vary in length)."""
    from training.gpt2_steps import COMPILE_MIN_STEPS, loss_function

    model, tok = tiny_model()
    compiled = loss_function(COMPILE_MIN_STEPS)
    assert loss_function(COMPILE_MIN_STEPS - 1) is weighted_loss  # short runs stay eager
    for text, n_first in ((TEXTS[0], 3), (TEXTS[4] + " " + TEXTS[5], 9)):
        ids = tok(text)["input_ids"]
        batch = pad([Row(ids, n_first, 0.3), Row(ids[: len(ids) // 2], 2)], tok.pad_token_id)
        grads = []
        for fn in (weighted_loss, compiled):
            model.zero_grad()
            loss, taught = fn(model, *batch)
            loss.backward()
            grads.append((loss.detach(), taught, model.transformer.wte.weight.grad.clone()))
        for eager, fast in zip(*grads):
            torch.testing.assert_close(fast, eager, rtol=1e-4, atol=1e-5)
