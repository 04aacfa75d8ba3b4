"""gpt2_qa's OpenAI-compatible API through a real TorchServe, driven by the official `openai` client:
completions, chat, streamed chat, the model list and OpenAI-shaped errors, on both versions; structured outputs
(.parse() with a pydantic model, json_schema streamed and not, json_object), logprobs, priority, tokenize and
detokenize."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

openai = pytest.importorskip("openai")

QUESTION = [{"role": "system", "content": "Julia was a lonely princess who lived in the town of Thornmoor."},
            {"role": "user", "content": "Where did Julia live?"}]


def client(served, version: str):
    return openai.OpenAI(base_url=served.server.url("inference", f"/predictions/gpt2_qa/{version}/v1"),
                         api_key=served.server.token("inference"), max_retries=0, timeout=120)


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_completions(served, version):
    out = client(served, version).completions.create(model="gpt2_qa", prompt="Once upon a time", max_tokens=6,
                                                     temperature=0, seed=1)
    assert out.object == "text_completion" and out.model == f"gpt2_qa/{version}"
    assert isinstance(out.choices[0].text, str) and out.choices[0].finish_reason in ("stop", "length")
    assert 0 < out.usage.completion_tokens <= 6 and out.usage.total_tokens == out.usage.prompt_tokens + out.usage.completion_tokens


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_chat_completions_with_n_and_seed(served, version):
    c = client(served, version)
    first = c.chat.completions.create(model="gpt2_qa", messages=QUESTION, max_tokens=8, n=2, seed=7, temperature=1.0)
    again = c.chat.completions.create(model="gpt2_qa", messages=QUESTION, max_tokens=8, n=2, seed=7, temperature=1.0)
    assert len(first.choices) == 2 and all(ch.message.role == "assistant" for ch in first.choices)
    assert [ch.message.content for ch in first.choices] == [ch.message.content for ch in again.choices]


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_streamed_chat(served, version):
    c = client(served, version)
    stream = c.chat.completions.create(model="gpt2_qa", messages=QUESTION, max_tokens=8, seed=3, stream=True,
                                       stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    reasons = [ch.choices[0].finish_reason for ch in chunks if ch.choices and ch.choices[0].finish_reason]
    assert len(reasons) == 1 and chunks[-1].usage.completion_tokens >= 1
    plain = c.chat.completions.create(model="gpt2_qa", messages=QUESTION, max_tokens=8, seed=3)
    assert text == plain.choices[0].message.content


def test_the_model_list_and_openai_shaped_errors(served):
    c = client(served, "2.0")
    assert [m.id for m in c.models.list().data] == ["gpt2_qa/2.0"]
    with pytest.raises(openai.BadRequestError) as err:
        c.chat.completions.create(model="gpt2_qa", messages=QUESTION, max_tokens=100000)
    assert err.value.status_code == 400 and err.value.body["param"] == "max_tokens"
    assert "max_tokens" in err.value.body["message"]


# -- structured outputs, logprobs, priority, tokenize (genai_serve/gpt2/grammar.py, openai_api.py) ----------------
def _place_model():
    from typing import Literal

    from pydantic import BaseModel

    class Place(BaseModel):  # every field ends within a few tokens, so the grammar finishes within max_tokens
        city: Literal["Thornmoor", "Marshby", "Elsewhere"]
        sure: bool

    return Place


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_sdk_parse_returns_the_pydantic_object(served, version):
    Place = _place_model()
    out = client(served, version).chat.completions.parse(model="gpt2_qa", messages=QUESTION, response_format=Place,
                                                         max_tokens=80, seed=1, temperature=1.0)
    choice = out.choices[0]
    assert choice.finish_reason == "stop" and isinstance(choice.message.parsed, Place)
    assert Place.model_validate_json(choice.message.content) == choice.message.parsed


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_json_schema_streamed_and_not_and_json_object(served, version):
    import json

    c = client(served, version)
    schema = {**_place_model().model_json_schema(), "additionalProperties": False}  # no extra keys to run on
    fmt = {"type": "json_schema", "json_schema": {"name": "place", "strict": True, "schema": schema}}
    plain = c.chat.completions.create(model="gpt2_qa", messages=QUESTION, response_format=fmt, max_tokens=80, seed=2)
    stream = c.chat.completions.create(model="gpt2_qa", messages=QUESTION, response_format=fmt, max_tokens=80, seed=2,
                                       stream=True)
    text = "".join(ch.choices[0].delta.content or "" for ch in stream if ch.choices)
    assert plain.choices[0].finish_reason == "stop"
    assert text == plain.choices[0].message.content and set(json.loads(text)) == {"city", "sure"}
    obj = c.completions.create(model="gpt2_qa", prompt="Once upon a time", max_tokens=12, seed=3,
                               extra_body={"response_format": {"type": "json_object"}})
    if obj.choices[0].finish_reason == "stop":
        assert isinstance(json.loads(obj.choices[0].text), dict)
    else:  # a grammar that cannot finish within max_tokens ends as OpenAI's does
        assert obj.choices[0].finish_reason == "length" and obj.choices[0].text.startswith("{")


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_logprobs_and_top_logprobs_streamed_and_not(served, version):
    c = client(served, version)
    out = c.chat.completions.create(model="gpt2_qa", messages=QUESTION, max_tokens=6, seed=4, logprobs=True,
                                    top_logprobs=3)
    content = out.choices[0].logprobs.content
    assert len(content) == out.usage.completion_tokens and all(len(t.top_logprobs) <= 3 for t in content)
    assert "".join(t.token for t in content) == out.choices[0].message.content
    streamed = [t for ch in c.chat.completions.create(model="gpt2_qa", messages=QUESTION, max_tokens=6, seed=4,
                                                      logprobs=True, top_logprobs=3, stream=True)
                if ch.choices and ch.choices[0].logprobs for t in ch.choices[0].logprobs.content]
    assert [t.token for t in streamed] == [t.token for t in content]
    comp = c.completions.create(model="gpt2_qa", prompt="Once upon a time", max_tokens=4, seed=1, logprobs=2)
    assert len(comp.choices[0].logprobs.tokens) == len(comp.choices[0].logprobs.token_logprobs) >= 1


def test_bad_schemas_are_400s_naming_response_format(served):
    c = client(served, "2.0")
    for fmt in ({"type": "xml"}, {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "frob"}}}):
        with pytest.raises(openai.BadRequestError) as err:
            c.chat.completions.create(model="gpt2_qa", messages=QUESTION, response_format=fmt)
        assert err.value.status_code == 400 and err.value.body["param"] == "response_format"


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_priority_tokenize_and_detokenize(served, version):
    c = client(served, version)
    out = c.chat.completions.create(model="gpt2_qa", messages=QUESTION, max_tokens=4, extra_body={"priority": 5})
    assert out.choices[0].finish_reason in ("stop", "length")
    base = f"/predictions/gpt2_qa/{version}"
    tokens = served.server.call("POST", "inference", f"{base}/tokenize", json={"prompt": "Once upon a time"}).json()
    assert tokens["count"] == len(tokens["tokens"]) > 0
    back = served.server.call("POST", "inference", f"{base}/detokenize", json={"tokens": tokens["tokens"]})
    assert back.json() == {"prompt": "Once upon a time"}
    bare = served.server.call("POST", "inference", f"{base}/tokenize", token=None, json={"prompt": "x"})
    assert bare.status_code == 400 and "Token Authorization failed" in bare.text  # TorchServe's token check
