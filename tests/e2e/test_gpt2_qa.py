"""gpt2_qa end to end through a real TorchServe (every version archived from the quick-trained pipeline):
QA, multiple answers, text mode, the seeds' bodies, streaming over chunked HTTP, /1.0, /2.0, /2.1 (2.0 in int8),
set-default switching without a restart, and bad inputs answered 400 naming the field with the workers unchanged."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.e2e

QA = {"question": "Where did Julia live?", "context": "Julia was a lonely princess who lived in the town of Thornmoor.",
      "max_new_tokens": 8, "seed": 0}


def post(served, body: dict, version: str | None = None, **kwargs):
    return served.server.predict(served.spec("gpt2_qa"), version, body=json.dumps(body).encode(),
                                 content_type="application/json", **kwargs)


def pids(served) -> set[int]:
    models = served.server.call("GET", "management", "/models/gpt2_qa/all").json()
    return {w["pid"] for m in models for w in m["workers"]}


def test_qa_answers_with_format_flag_version_and_token_counts(served):
    r = post(served, QA)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_version"] == served.spec("gpt2_qa").default_version
    assert body["mode"] == "qa" and isinstance(body["answer"], str) and isinstance(body["format_ok"], bool)
    assert 0 < body["completion_tokens"] <= 8 and body["prompt_tokens"] > 5 and body["seed"] == 0
    assert post(served, QA).json()["answer"] == body["answer"]  # same seed, same answer


def test_multiple_answers_and_a_concurrent_batch_keep_each_seed(served):
    mine = {**QA, "num_responses": 3, "temperature": 1.0, "seed": 42}
    alone = post(served, mine).json()
    assert len(alone["answers"]) == 3 and len(alone["responses"]) == 3
    others = [{**QA, "seed": i, "max_new_tokens": 4 + i} for i in range(3)]
    for _ in range(5):  # TorchServe batches what arrives within maxBatchDelay: retry until ours shares a batch
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda b: post(served, b), [mine, *others]))
        assert all(r.status_code == 200 for r in results), [r.text for r in results]
        if int(results[0].headers["X-Batch-Size"]) > 1:
            break
    assert int(results[0].headers["X-Batch-Size"]) > 1, "the requests were never batched together"
    assert results[0].json()["answers"] == alone["answers"]


def test_text_mode(served):
    r = post(served, {"start_word": "Once upon a time", "length": 6, "temperature": 0})
    assert r.status_code == 200, r.text
    assert r.json()["mode"] == "text" and r.json()["generated_text"].startswith("Once upon a time")


@pytest.mark.parametrize("body, n", [
    ({"question": "Where did Julia live?", "max_length": 60, "temperature": 0.7, "top_p": 0.9}, 1),  # the sps-genai app
    ({"question": "Where did Julia live?", "num_responses": 3, "max_length": 60, "temperature": 0.8}, 3),  # the sps-genai app
    ({"start_word": None, "length": 50, "question": "Where did Julia live?", "context": "Julia lived in Thornmoor.",
      "max_new_tokens": 10, "use_rl_model": True}, 1),  # the post-training app /generate_with_llm
])
def test_seed_shaped_bodies(served, body, n):
    r = post(served, body)
    assert r.status_code == 200, r.text
    assert len(r.json()["answers"]) == n


def test_both_versions_answer_on_their_urls_and_set_default_switches_without_restart(served):
    server, before = served.server, pids(served)
    assert post(served, QA, "1.0").json()["model_version"] == "1.0"
    assert post(served, QA, "2.0").json()["model_version"] == "2.0"
    note = post(served, {**QA, "use_rl_model": True}, "1.0").json()["note"]
    assert "/predictions/gpt2_qa/2.0" in note
    default = served.spec("gpt2_qa").default_version
    other = "1.0" if default == "2.0" else "2.0"
    try:
        server.set_default("gpt2_qa", other)
        assert post(served, QA).json()["model_version"] == other
    finally:
        server.set_default("gpt2_qa", default)  # other tests share this server
    assert post(served, QA).json()["model_version"] == default
    assert pids(served) == before


def test_the_int8_version_answers_on_its_url_from_its_own_archive(served):
    spec = served.spec("gpt2_qa")
    card = spec.archived_card(served.paths.model_store, "2.1")  # never a customized describe (continuous batching)
    assert card["quality"]["passed"] and card["net"]["precision"] == "int8"
    r = post(served, {**QA, "temperature": 0}, "2.1")
    assert r.status_code == 200, r.text
    assert r.json()["model_version"] == "2.1" and 0 < r.json()["completion_tokens"] <= 8


def test_streaming_sends_tokens_as_ndjson_then_the_final_body(served):
    body = {**QA, "max_new_tokens": 12, "temperature": 1.0, "seed": 3, "stream": True}
    r = post(served, body, stream=True)
    assert r.status_code == 200
    assert r.headers.get("Transfer-Encoding") == "chunked"
    lines = [json.loads(line) for line in r.iter_lines() if line]
    assert lines[-1]["type"] == "final" and all(line["type"] == "token" for line in lines[:-1])
    assert len(lines) >= 2
    final = lines[-1]
    assert "".join(line["text"] for line in lines[:-1]).strip() == final["answer"]
    plain = post(served, {**body, "stream": False}).json()
    assert plain["answer"] == final["answer"]


@pytest.mark.parametrize("body, field", [
    ({"question": ""}, "question"),
    ({"question": "Q?", "max_new_tokens": 0}, "max_new_tokens"),
    ({"question": "Q?", "max_new_tokens": 10000}, "max_new_tokens"),
    ({"question": "Q?", "temperature": -1}, "temperature"),
    ({"question": "Q?", "num_responses": 11}, "num_responses"),
])
def test_bad_inputs_get_a_400_naming_the_field_and_the_workers_survive(served, body, field):
    before = pids(served)
    r = post(served, body)
    assert r.status_code == 400, r.text
    assert r.json()["field"] == field
    assert pids(served) == before
    assert post(served, QA).status_code == 200


@pytest.mark.parametrize("version", ["1.0", "2.0", "2.1"])
def test_strict_format_holds_at_every_temperature_and_logprobs_come_back(served, version):
    from genai_serve.gpt2.template import format_ok

    for temperature in (0.0, 0.7, 1.0, 1.3):
        r = post(served, {**QA, "format": "strict", "max_new_tokens": 48, "temperature": temperature,
                          "num_responses": 3, "seed": 5, "logprobs": 2}, version)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["format"] == "strict" and not body["format_enforced"]
        for resp in body["responses"]:
            assert resp["format_ok"] and format_ok(resp["text"]), resp
            assert len(resp["logprobs"]) == resp["new_tokens"]
