"""The batched KV-cache decoding loop: the same tokens as transformers' greedy generate (per prompt, in a
left-padded batch), seeds independent of the batch, per-row stops, and the sampler's filters."""
import numpy as np
import pytest
import torch

from genai_serve.gpt2.decode import Row, choose, generate
from genai_serve.gpt2.onnx_step import OnnxDecoder
from genai_serve.runtime import make_session

PROMPTS = ["Question: Where did Julia live?\nAnswer:", "Once upon a time", "The", "The queen had a dog named Pip"]


@pytest.fixture(scope="module")
def pair(gpt2_exports):
    """(torch model, tokenizer, ONNX decoder) of version 1.0."""
    from transformers import AutoTokenizer, GPT2LMHeadModel

    hf_dir = gpt2_exports.checkpoints / "gpt2_qa" / "1.0"
    onnx = gpt2_exports.artifact_dir("gpt2_qa", "1.0") / "model.onnx"
    return (GPT2LMHeadModel.from_pretrained(hf_dir).eval(), AutoTokenizer.from_pretrained(hf_dir),
            OnnxDecoder(make_session(onnx, threads=1)))


def test_batched_greedy_loop_equals_hf_generate_prompt_by_prompt(pair):
    model, tok, decoder = pair
    rows = [Row(tok(p)["input_ids"], 12) for p in PROMPTS]
    generate(decoder, rows, eos=-1)  # no stop token: every row runs its full budget
    for row in rows:
        ids = torch.tensor([row.prompt])
        ref = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=12,
                             min_new_tokens=12, pad_token_id=tok.eos_token_id)[0, len(row.prompt):].tolist()
        assert row.tokens == ref


def sampled(prompt, seed, max_new=10, **kw):
    return Row(prompt, max_new, temperature=kw.get("temperature", 1.0), top_k=kw.get("top_k"), top_p=kw.get("top_p", 1.0),
               rng=np.random.default_rng(seed))


def test_a_seed_gives_the_same_tokens_alone_and_inside_a_left_padded_batch(pair):
    _, tok, decoder = pair
    ids = [tok(p)["input_ids"] for p in PROMPTS]
    alone = generate(decoder, [sampled(ids[2], 7)], eos=-1)[0].tokens
    batch = generate(decoder, [sampled(ids[0], 1), sampled(ids[2], 7), sampled(ids[3], 2, max_new=3)], eos=-1)
    assert batch[1].tokens == alone
    assert batch[0].tokens != alone
    assert generate(decoder, [sampled(ids[2], 8)], eos=-1)[0].tokens != alone


def test_rows_stop_at_their_own_budget_and_leave_the_batch(pair):
    _, tok, decoder = pair
    calls = []

    def counting(*args):
        calls.append(args[0].shape[0])
        return decoder(*args)

    rows = generate(counting, [Row(tok("The")["input_ids"], n) for n in (1, 5, 0, 3)], eos=-1)
    assert [len(r.tokens) for r in rows] == [1, 5, 0, 3]
    assert calls == [3, 2, 2, 1, 1]  # row 2 never runs; rows drop out as they finish


def test_a_row_stops_at_end_of_text_without_emitting_it():
    eos, vocab = 3, 6
    following = {5: 4, 4: eos, 2: 2}  # a fake network: the next token depends on the last one

    def step(ids, mask, pos, past):
        logits = np.zeros((ids.shape[0], ids.shape[1], vocab), np.float32)
        for j, last in enumerate(ids[:, -1]):
            logits[j, -1, following[int(last)]] = 1.0
        return logits, [np.zeros((ids.shape[0], 1, 0, 1), np.float32)]

    rows = generate(step, [Row([5], 10), Row([2, 2], 4)], eos=eos)
    assert rows[0].tokens == [4] and rows[0].stopped_at_eos
    assert rows[1].tokens == [2, 2, 2, 2] and not rows[1].stopped_at_eos


def test_sampler_filters():
    logits = np.array([1.0, 3.0, 2.0, 0.5])
    assert choose(logits, Row([], 1)) == 1  # temperature 0 = greedy
    rng = np.random.default_rng(0)
    assert {choose(logits, Row([], 1, 1.0, top_k=1, rng=rng)) for _ in range(20)} == {1}
    assert {choose(logits, Row([], 1, 1.0, top_p=0.01, rng=rng)) for _ in range(20)} == {1}
    assert {choose(logits, Row([], 1, 1.0, top_k=2, rng=rng)) for _ in range(200)} == {1, 2}
    picks = [choose(logits, Row([], 1, 5.0, rng=rng)) for _ in range(400)]
    assert set(picks) == {0, 1, 2, 3}  # a high temperature reaches every token
