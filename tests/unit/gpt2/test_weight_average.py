"""Weight averaging at the end of training (training/gpt2_steps.py `average_from`): the model ends with the mean
of the weights it had at the averaged steps, not its last weights."""
import random

import torch

from tests.unit.gpt2.conftest import TEXTS, tiny_model
from training.gpt2_base import copy_drill
from training.gpt2_steps import WeightAverage, train


def drills(tok):
    rng = random.Random(0)
    return lambda _: [copy_drill(tok, rng.choice(TEXTS), rng) for _ in range(4)]


def test_the_average_is_the_mean_of_the_weights_it_was_fed():
    model, _ = tiny_model()
    average = WeightAverage(model)
    for value in (1.0, 2.0, 6.0):
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(value)
        average.update()
    average.apply()
    assert average.n == 3
    assert all(torch.allclose(p, torch.full_like(p, 3.0)) for p in model.parameters())


def test_training_with_averaging_ends_on_the_mean_and_counts_the_checkpoints(monkeypatch):
    model, tok = tiny_model()
    seen = []
    rows = drills(tok)

    class Recorder(WeightAverage):  # the weights fed to the average, to compare the end with
        def update(self):
            seen.append({n: p.detach().clone() for n, p in self.model.named_parameters()})
            super().update()

    monkeypatch.setattr("training.gpt2_steps.WeightAverage", Recorder)
    log = train(model, rows, tok.eos_token_id, steps=40, lr=3e-3, warmup=2, average_from=0.5, average_every=5)
    assert log["averaged_checkpoints"] == len(seen) == 4  # steps 20, 25, 30, 35
    for name, p in model.named_parameters():
        assert torch.allclose(p, torch.stack([s[name] for s in seen]).mean(0), atol=1e-6)
    first, last = seen[0]["transformer.h.0.mlp.c_fc.weight"], seen[-1]["transformer.h.0.mlp.c_fc.weight"]
    assert not torch.allclose(first, last)  # the weights moved between averaged steps: the mean is not any one of them
    assert "averaged_checkpoints" not in train(*tiny_model()[:1], rows, tok.eos_token_id, steps=4, lr=3e-3)
