"""The LSTM: one-step ONNX export parity, the batched generation loop, and the handler as TorchServe drives it."""
import json

import numpy as np
import pytest
import torch

from genai_ops.checkpoint import build_from_checkpoint
from genai_serve.nets.lstm import LSTMStep, TinyLSTMLM, numpy_step
from genai_serve.text.rnn import Row, generate_batch
from genai_serve.text.sampling import Decoding
from genai_serve.text.tokenize import Vocab, detokenize, tokenize


def run(handler, context, bodies):
    out = handler.handle([{"body": b} for b in bodies], context)
    return [json.loads(o) for o in out], [context.status[i][0] for i in range(len(bodies))]


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return TinyLSTMLM(vocab_size=30).eval()


def sampled(seed, top_k=None):
    return Decoding(False, 1.0, top_k, np.random.default_rng(seed))


def test_step_equals_the_full_sequence_network(net):
    tokens = torch.randint(0, 30, (3, 9))
    full, _ = net(tokens)
    h = c = torch.zeros(1, 3, net.hidden_size)
    step = LSTMStep(net)
    with torch.no_grad():
        for t in range(9):
            logits, h, c = step(tokens[:, t : t + 1], h, c)
            torch.testing.assert_close(logits, full[:, t], atol=1e-5, rtol=0)


def test_batched_loop_gives_each_row_what_it_gets_alone(net):
    step = numpy_step(net)

    def rows():  # fresh generators each time: prompts of different lengths, budgets and decodings
        return [Row([0, 5, 6, 7], 12, sampled(1)), Row([0, 9], 20, sampled(2, top_k=5)), Row([0, 3, 4], 7, Decoding()),
                Row([0, 8], 0, sampled(4))]

    together = generate_batch(step, rows(), net.hidden_size, eos=1, banned=(0, 2))
    alone = [generate_batch(step, [r], net.hidden_size, eos=1, banned=(0, 2))[0] for r in rows()]
    assert together == alone
    assert together[3] == []  # no budget: nothing generated
    for ids, r in zip(together, rows()):
        assert len(ids) <= r.budget and not {0, 2} & set(ids) and 1 not in ids


def test_rows_stop_at_end_of_text_without_stopping_the_others():
    class EosAfterTwo:  # a fake network: token 7 is always followed by </s>, everything else by 7
        def __call__(self, tokens, h, c):
            logits = np.zeros((len(tokens), 10), np.float32)
            logits[:, 7] = 5.0
            logits[tokens[:, 0] == 7, 1] = 10.0
            return logits, h + 1, c

    rows = [Row([0, 3], 10, Decoding()), Row([0, 7], 10, Decoding()), Row([0, 4, 4, 4], 10, Decoding())]
    assert generate_batch(EosAfterTwo(), rows, 4, eos=1) == [[7], [], [7]]


def test_lstm_export_passed_parity_on_random_and_real_states(text_exports):
    info = json.loads((text_exports.artifact_dir("lstm") / "export.json").read_text())
    assert info["parity"]["passed"] and set(info["parity"]["max_abs_diff"]) == {"random_bs1", "random_bs7", "real"}
    assert max(info["parity"]["max_abs_diff"].values()) <= 1e-4
    vocab = json.loads((text_exports.artifact_dir("lstm") / "vocab.json").read_text())
    assert vocab["tokens"][:3] == ["<s>", "</s>", "<unk>"] and vocab["hidden_size"] == 128


def test_handler_matches_the_torch_loop_and_seeds_reproduce_alone_or_batched(text_handler, text_exports):
    handler, ctx = text_handler("lstm")
    body = {"start_word": "the count", "length": 15, "mode": "sample", "seed": 11}
    alone, _ = run(handler, ctx, [body])
    batch, codes = run(handler, ctx, [{"start_word": "bigram", "length": 30, "seed": 2}, body,
                                      {"start_word": "we are", "length": 4, "mode": "greedy"}, {"start_word": "x"}])
    assert codes == [200] * 4
    assert batch[1] == alone[0] and alone[0]["seed"] == 11 and alone[0]["model"] == "lstm"
    assert isinstance(batch[3]["seed"], int)  # no seed: a fresh one, returned so the text can be reproduced
    # the ONNX loop gives what the torch network gives with the same generator
    net, ckpt = build_from_checkpoint(text_exports.checkpoint("lstm"))
    vocab = Vocab(ckpt["extra"]["vocab"])
    start = tokenize("the count")
    ids = generate_batch(numpy_step(net), [Row([0, *vocab.encode(start)], 13, sampled(11))], 128, 1, (0, 2))[0]
    assert alone[0]["generated_text"] == detokenize([*start, *(vocab.tokens[i] for i in ids)])
    assert len(tokenize(batch[2]["generated_text"])) <= 4 and batch[2]["seed"] is None


def test_unknown_start_words_come_back_as_written_and_generation_goes_on(text_handler):
    handler, ctx = text_handler("lstm")
    (out,), _ = run(handler, ctx, [{"start_word": "Zyxwv", "length": 12, "seed": 5}])
    assert out["generated_text"].startswith("zyxwv") and "<unk>" not in out["generated_text"]


@pytest.mark.parametrize("bad, field", [({"length": 5}, "start_word"), ({"start_word": "a", "length": 0}, "length"),
                                        ({"start_word": "a", "length": 501}, "length"),
                                        ({"start_word": "a", "temperature": 0}, "temperature"),
                                        ({"start_word": "a", "top_k": 0}, "top_k"), ({"start_word": "a", "mode": "beam"}, "mode"),
                                        ({"start_word": "   "}, "start_word"), ({"start_word": 5}, "start_word"),
                                        ({"start_word": "a", "seed": -1}, "seed")])
def test_bad_requests_are_400_naming_the_field_and_the_rest_of_the_batch_is_served(text_handler, bad, field):
    handler, ctx = text_handler("lstm")
    out, codes = run(handler, ctx, [bad, {"start_word": "The", "length": 10}])
    assert codes == [400, 200] and out[0]["field"] == field


def test_random_gate_inputs_support_token_ids_and_a_batch_axis_other_than_zero():
    from export.onnx import input_specs, random_inputs

    specs = input_specs({"tokens": {"shape": [1], "dtype": "int64", "high": 30}, "h": {"shape": [1, 128], "batch_axis": 1},
                         "x": [3]})
    feed = random_inputs(specs, 5, np.random.default_rng(0))
    assert feed["tokens"].shape == (5, 1) and feed["tokens"].dtype == np.int64
    assert 0 <= feed["tokens"].min() and feed["tokens"].max() < 30
    assert feed["h"].shape == (1, 5, 128) and feed["h"].dtype == np.float32
    assert feed["x"].shape == (5, 3)  # the old form: a bare per-sample shape, batch first
