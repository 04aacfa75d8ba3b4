"""gpt2_qa's OpenAI-compatible API through a real TorchServe, driven by the official `openai` client:
completions, chat, streamed chat, the model list and OpenAI-shaped errors, on both versions."""
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
