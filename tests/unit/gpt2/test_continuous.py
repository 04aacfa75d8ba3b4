"""gpt2_qa under continuous batching and its OpenAI API, driven by an in-process TorchServe frontend on a tiny
random GPT-2: tokens identical alone / joined mid-generation / shared, abandoned rows leave the KV batch, stop
sequences, and the OpenAI request and response shapes (the real `openai` client is used in the e2e tests)."""
import json

import pytest

from loadtests.inprocess import Frontend
from tests.conftest import ask

QA = {"question": "Where did Julia live?", "context": "Julia lived in the town of Thornmoor.", "max_new_tokens": 8}
CHAT = {"url_path": "v1/chat/completions"}
COMPLETIONS = {"url_path": "v1/completions"}


def test_a_request_joining_mid_generation_gets_the_same_tokens_as_alone(gpt2_handler):
    h, ctx = gpt2_handler("1.0")
    mine = {**QA, "seed": 4, "temperature": 1.0, "num_responses": 2}
    [alone] = ask(h, ctx, [mine])
    h.scheduler.slice_s = 0.0  # one token per call, so the late request surely joins a running batch
    fe = Frontend(h, ctx)
    long = fe.submit({"start_word": "Once upon a time", "length": 60, "temperature": 1.0, "seed": 1})
    for _ in range(5):
        fe.step()
    assert len(h.engine.batch) == 1
    late = fe.submit(mine)
    fe.step()
    assert len(h.engine.batch) == 3  # its two rows joined the running one
    fe.run()
    assert fe.responses[late].json()["answers"] == alone.json()["answers"]
    assert fe.responses[long].status == 200


def test_an_abandoned_request_leaves_the_decoding_batch_at_the_next_step(gpt2_handler):
    h, ctx = gpt2_handler("1.0")
    h.scheduler.slice_s = 0.0
    fe = Frontend(h, ctx)
    gone = fe.submit({**QA, "max_new_tokens": 200, "num_responses": 3, "seed": 1, "temperature": 1.0})
    kept = fe.submit({**QA, "max_new_tokens": 200, "seed": 2, "temperature": 1.0})
    fe.step()
    fe.step()
    assert len(h.engine.batch) == 4
    fe.disconnect(gone)
    fe.step()
    assert len(h.engine.batch) <= 1 and len(h.scheduler) <= 1  # 3 rows gone before the next network call
    fe.disconnect(kept)


def test_stop_sequences_cut_the_text_and_finish_with_stop(gpt2_handler):
    h, ctx = gpt2_handler("1.0")
    body = {"prompt": "Once upon a time", "max_tokens": 30, "temperature": 0, "seed": 0}
    [free] = ask(h, ctx, [body], COMPLETIONS)
    text = free.json()["choices"][0]["text"]
    stop = text[3:5]  # two characters the greedy text surely contains
    assert len(stop) == 2 and stop in text
    [cut] = ask(h, ctx, [{**body, "stop": [stop]}], COMPLETIONS)
    choice = cut.json()["choices"][0]
    assert choice["text"] == text[:text.index(stop)] and choice["finish_reason"] == "stop"
    [streamed] = ask(h, ctx, [{**body, "stop": stop, "stream": True}], COMPLETIONS)
    deltas = [json.loads(c[len("data: "):]) for c in streamed.body.split("\n\n") if c.startswith("data: {")]
    assert "".join(d["choices"][0]["text"] for d in deltas) == choice["text"]  # nothing past the stop leaked


def test_chat_completion_maps_messages_to_the_qa_template_and_answers_in_openai_shape(gpt2_handler):
    h, ctx = gpt2_handler("2.0")
    messages = [{"role": "system", "content": "Julia lived in the town of Thornmoor."},
                {"role": "user", "content": "Where did Julia live?"}]
    [resp] = ask(h, ctx, [{"model": "gpt2_qa", "messages": messages, "max_tokens": 8, "seed": 3, "n": 2}], CHAT)
    body = resp.json()
    assert resp.status == 200 and body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["model"] == "gpt2_qa/2.0" and len(body["choices"]) == 2
    assert all(c["message"]["role"] == "assistant" and c["finish_reason"] in ("stop", "length") for c in body["choices"])
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] and usage["prompt_tokens"] > 10
    native = {"question": "Where did Julia live?", "context": "Julia lived in the town of Thornmoor.",
              "max_new_tokens": 8, "seed": 3, "num_responses": 2, "temperature": 1.0, "top_p": 1.0}
    marked = [{"role": "user", "content": "Context: Julia lived in the town of Thornmoor.\nQuestion: Where did Julia live?"}]
    [same] = ask(h, ctx, [{"messages": marked, "max_tokens": 8, "seed": 3, "n": 2}], CHAT)
    assert same.json()["usage"]["prompt_tokens"] == usage["prompt_tokens"]  # the same prompt either way
    [nat] = ask(h, ctx, [native])
    assert nat.json()["prompt_tokens"] == usage["prompt_tokens"]


def test_streamed_chat_is_server_sent_events_in_openai_chunks_ending_with_done(gpt2_handler):
    h, ctx = gpt2_handler("1.0")
    body = {"messages": [{"role": "user", "content": "Where?"}], "max_tokens": 6, "seed": 1, "stream": True,
            "stream_options": {"include_usage": True}}
    [resp] = ask(h, ctx, [body], CHAT)
    assert resp.content_type == "text/event-stream" and resp.body.endswith("data: [DONE]\n\n")
    chunks = [json.loads(e[len("data: "):]) for e in resp.body.split("\n\n") if e.startswith("data: {")]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == chunks[0]["id"] for c in chunks)
    finals = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert len(finals) == 1 and chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] >= 1
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    [plain] = ask(h, ctx, [{**body, "stream": False}], CHAT)
    assert text == plain.json()["choices"][0]["message"]["content"]


@pytest.mark.parametrize("headers, body, param, status", [
    (CHAT, {"messages": [{"role": "user", "content": "Q?"}], "max_tokens": 100000}, "max_tokens", 400),
    (CHAT, {"messages": [{"role": "user", "content": "Q?"}], "n": 11}, "n", 400),
    (CHAT, {"messages": [{"role": "assistant", "content": "hi"}]}, "messages", 400),
    (CHAT, {"messages": "hello"}, "messages", 400),
    (CHAT, {"messages": [{"role": "user", "content": "Q?"}], "temperature": -1}, "temperature", 400),
    (CHAT, {"messages": [{"role": "user", "content": "Q?"}], "stop": ["a", "b", "c", "d", "e"]}, "stop", 400),
    (COMPLETIONS, {"prompt": ""}, "prompt", 400),
    (COMPLETIONS, {"prompt": [1, 2, 3]}, "prompt", 400),
    ({"url_path": "v1/embeddings"}, {"input": "x"}, "url_path", 404),
])
def test_openai_errors_have_openai_shape_and_name_the_parameter_sent(gpt2_handler, headers, body, param, status):
    h, ctx = gpt2_handler("1.0")
    [bad] = ask(h, ctx, [body], headers)
    assert bad.status == status, bad.body
    error = bad.json()["error"]
    assert error["param"] == param and error["type"] and error["message"].startswith(param)


def test_the_model_list_answers_at_once(gpt2_handler):
    h, ctx = gpt2_handler("2.0")
    [resp] = ask(h, ctx, [b""], {"url_path": "v1/models"})
    assert resp.status == 200 and resp.json()["data"][0]["id"] == "gpt2_qa/2.0"
