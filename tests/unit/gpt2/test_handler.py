"""The gpt2_qa handler driven as TorchServe drives it, on versions exported from tiny random GPT-2s:
QA / multiple answers / text mode, seed-shaped bodies, batching, streaming, validation (400 naming the
field, the rest of the batch still answered) and the export record."""
import json

import pytest

from genai_serve.gpt2.template import PREFIX, SUFFIX, format_ok
from tests.conftest import ask

QA = {"question": "Where did Julia live?", "context": "Julia lived in the town of Thornmoor.", "max_new_tokens": 6}


def run(handler, ctx, bodies):
    return [r.json() for r in ask(handler, ctx, bodies)]


def test_qa_answer_carries_format_flag_version_and_token_counts(gpt2_handler):
    h, ctx = gpt2_handler("1.0")
    [resp] = ask(h, ctx, [{**QA, "seed": 3}])
    body = resp.json()
    assert resp.status == 200
    assert body["mode"] == "qa" and body["model_version"] == "1.0" and body["seed"] == 3
    assert body["answer"] == body["answers"][0] == body["generated_text"]
    assert body["format_ok"] is False and body["format_enforced"] is False  # random weights: no format, not forced
    assert body["completion_tokens"] == body["responses"][0]["new_tokens"] <= 6 and body["prompt_tokens"] > 10
    assert "warning" not in body


def test_a_seed_reproduces_every_answer_alone_and_inside_a_batch(gpt2_handler):
    h, ctx = gpt2_handler("1.0")
    mine = {**QA, "num_responses": 3, "seed": 11, "temperature": 1.0}
    [alone] = run(h, ctx, [mine])
    responses = ask(h, ctx, [{"question": "Who?", "max_new_tokens": 9, "seed": 1}, mine,
                             {"start_word": "The", "length": 2}])
    batch = [r.json() for r in responses]
    assert batch[1]["answers"] == alone["answers"] and len(alone["answers"]) == 3
    assert len(set(alone["answers"])) > 1  # three samples, three generators
    assert responses[1].headers["X-Batch-Size"] == "3"
    [one] = run(h, ctx, [{**mine, "num_responses": 1}])
    assert one["answers"] == alone["answers"][:1]  # the k-th answer does not depend on num_responses


def test_text_mode_continues_start_word_for_length_tokens(gpt2_handler):
    h, ctx = gpt2_handler("1.0")
    [body] = run(h, ctx, [{"start_word": "Once upon a time", "length": 5, "temperature": 0}])
    assert body["mode"] == "text" and body["generated_text"].startswith("Once upon a time")
    assert body["completion_tokens"] <= 5 and "answer" not in body


@pytest.mark.parametrize("body", [
    {"question": "Where?", "max_length": 150, "temperature": 0.7, "top_p": 0.9},  # the sps-genai app /gpt2/answer
    {"question": "Where?", "num_responses": 3, "max_length": 150, "temperature": 0.8},  # the sps-genai app /multiple
    {"start_word": None, "length": 50, "question": "Where?", "context": "Here.", "max_new_tokens": 80,
     "use_rl_model": True},  # the post-training app /generate_with_llm, QA
    {"start_word": "The king", "length": 8, "question": None, "context": None, "max_new_tokens": None,
     "use_rl_model": False},  # the post-training app text mode
])
def test_seed_bodies_are_accepted_as_they_are(gpt2_handler, body):
    h, ctx = gpt2_handler("1.0")
    [resp] = ask(h, ctx, [body])
    out = resp.json()
    assert resp.status == 200, out
    assert out["mode"] == ("qa" if body.get("question") else "text")
    assert len(out.get("answers", [None])) == body.get("num_responses", 1)


def test_seed2_text_mode_reads_length_although_its_body_also_carries_max_new_tokens(gpt2_handler):
    h, ctx = gpt2_handler("1.0")
    [out] = run(h, ctx, [{"start_word": "The king", "length": 3, "max_new_tokens": 80, "temperature": 0}])
    assert out["mode"] == "text" and out["completion_tokens"] <= 3
    [qa] = run(h, ctx, [{"question": "Where?", "length": 50, "max_new_tokens": 2, "temperature": 0}])
    assert qa["completion_tokens"] <= 2


def test_seed1_max_length_counts_the_prompt(gpt2_handler):
    h, ctx = gpt2_handler("1.0")
    [out] = run(h, ctx, [{"question": "Where?", "max_length": 20, "temperature": 0}])
    assert out["prompt_tokens"] + out["completion_tokens"] <= 20


def test_use_rl_model_that_contradicts_the_url_version_adds_a_note(gpt2_handler):
    h1, c1 = gpt2_handler("1.0")
    h2, c2 = gpt2_handler("2.0")
    assert "/predictions/gpt2_qa/2.0" in run(h1, c1, [{**QA, "use_rl_model": True}])[0]["note"]
    assert "note" not in run(h2, c2, [{**QA, "use_rl_model": True}])[0]
    assert "/predictions/gpt2_qa/1.0" in run(h2, c2, [{**QA, "use_rl_model": False}])[0]["note"]
    assert run(h2, c2, [QA])[0]["model_version"] == "2.0"


def test_enforce_format_wraps_and_says_so(gpt2_handler):
    h, ctx = gpt2_handler("1.0")
    [out] = run(h, ctx, [{**QA, "enforce_format": True, "seed": 1}])
    assert out["answer"].startswith(PREFIX) and out["answer"].endswith(SUFFIX) and format_ok(out["answer"])
    assert out["format_ok"] is False and out["format_enforced"] is True


def test_a_base_model_archive_enforces_the_format_and_warns(gpt2_handler):
    h, ctx = gpt2_handler("1.0")
    h.native.fine_tuned = False  # what generation.json's stage "base" sets at load
    [out] = run(h, ctx, [{**QA, "seed": 1}])
    assert "warning" in out and format_ok(out["answer"]) and out["format_enforced"] is True


@pytest.mark.parametrize("body, field", [
    ({"question": ""}, "question"),
    ({"question": "   "}, "question"),
    ({"question": "Q?", "max_new_tokens": 0}, "max_new_tokens"),
    ({"question": "Q?", "max_new_tokens": 10000}, "max_new_tokens"),
    ({"question": "Q?", "temperature": -1}, "temperature"),
    ({"question": "Q?", "num_responses": 11}, "num_responses"),
    ({"question": "Q?", "num_responses": 0}, "num_responses"),
    ({"question": "Q?", "top_p": 0}, "top_p"),
    ({"question": "Q?", "max_length": 3}, "max_length"),
    ({"mode": "qa", "start_word": "The"}, "question"),
    ({"start_word": "The", "length": 0}, "length"),
    ({"question": "Q?", "context": "word " * 1000, "max_new_tokens": 512}, "max_new_tokens"),
    ({"question": "Q?", "stream": "maybe"}, "stream"),
    ({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [0.0]}]}, "inputs"),  # OIP: as every model
])
def test_bad_inputs_get_a_400_naming_the_field_and_the_rest_of_the_batch_is_answered(gpt2_handler, body, field):
    h, ctx = gpt2_handler("1.0")
    bad, good = ask(h, ctx, [body, QA])
    assert bad.status == 400 and bad.json()["field"] == field, bad.body
    assert good.status == 200 and "answer" in good.json()


def test_streaming_sends_token_lines_then_the_same_final_body(gpt2_handler):
    h, ctx = gpt2_handler("1.0")
    streamed = {**QA, "seed": 5, "num_responses": 2, "stream": True, "temperature": 1.0, "max_new_tokens": 12}
    plain_resp, stream_resp = ask(h, ctx, [{**QA, "seed": 1}, streamed])
    assert "type" not in plain_resp.json() and plain_resp.content_type == "application/json"
    assert stream_resp.content_type == "application/x-ndjson" and stream_resp.body.endswith("\n")
    first = [json.loads(line) for line in stream_resp.chunks[0].splitlines()]
    assert first and {line["type"] for line in first} == {"token"}  # the first tokens went out before the end
    *lines, final = stream_resp.lines()
    assert {line["type"] for line in lines} == {"token"} and {line["response"] for line in lines} == {0, 1}
    assert final["type"] == "final"
    for k in (0, 1):  # the deltas of each response add up to its text
        assert "".join(line["text"] for line in lines if line["response"] == k).strip() == final["answers"][k]
    [plain] = run(h, ctx, [{**streamed, "stream": False}])
    assert plain["answers"] == final["answers"]


def test_export_record_has_the_gate_and_per_version_artifacts(gpt2_exports):
    for version in ("1.0", "2.0"):
        art = gpt2_exports.artifact_dir("gpt2_qa", version)
        info = json.loads((art / "export.json").read_text())
        assert info["version"] == version and info["parity"]["passed"] and info["parity"]["greedy_tokens_match_hf"]
        assert info["parity"]["max_abs_diff"]["logits"] <= 1e-3
        assert (art / "tokenizer" / "tokenizer.json").exists()
        assert json.loads((art / "generation.json").read_text())["stage"] == {"1.0": "sft", "2.0": "rl"}[version]


def test_describe_and_model_card(gpt2_handler):
    h, _ = gpt2_handler("2.0")
    card = h.describe()["model_card"]
    assert card["version"] == "2.0" and card["parity"]["passed"]


def test_requests_arriving_together_are_admitted_higher_priority_first(gpt2_handler):
    """When the work held leaves room for one of two new requests, the one with the higher priority gets it."""
    h, ctx = gpt2_handler("1.0")
    low = {**QA, "max_new_tokens": 8, "seed": 1, "priority": 0}
    high = {**QA, "max_new_tokens": 8, "seed": 1, "priority": 5}
    h.scheduler.max_cost = h.scheduler.cost(h.parse_request(high))  # room for exactly one of them
    first, second = ask(h, ctx, [low, high])
    assert (first.status, second.status) == (429, 200), (first.body, second.body)
    assert "Retry-After" in first.headers
