"""The OpenAI API on gpt2_qa: /v1/completions, /v1/chat/completions and /v1/models, as the official `openai` SDK
speaks them (base_url = http://127.0.0.1:8080/predictions/gpt2_qa/<version>/v1; TorchServe hands the path after
the version to the handler in the `url_path` header).

Requests are mapped onto the native request and validated by the same registry schema, so the limits are the
native ones; a 400 names the OpenAI parameter (`max_tokens`, not max_new_tokens) in OpenAI's error shape
{"error": {"message", "type", "param", "code"}}.
  completions  prompt -> text mode (the prompt is continued); defaults as OpenAI's: max_tokens 16, temperature 1,
               top_p 1, no top-k;
  chat         the last message must be the user's question; the passage to answer from is a system message, or
               a "Context: ..." paragraph before "Question: ..." in the user message; max_tokens (or
               max_completion_tokens) defaults to the model's default answer length;
  both         n, max_tokens, temperature, top_p, seed, stop (a string or up to 4), stream (server-sent events in
               OpenAI's chunk format, ending with `data: [DONE]`), stream_options.include_usage, usage;
               priority (an integer, as vLLM's: higher first in each scheduler step);
               response_format {"type": "text" | "json_object" | "json_schema", "json_schema": {"name", "schema",
               "strict"}}: the text is generated under a grammar mask (genai_serve/gpt2/grammar.py), so it parses
               and matches the schema by construction; a schema the grammar engine cannot compile is a 400 naming
               response_format. A row that runs out of max_tokens first ends with finish_reason "length";
  logprobs     chat: logprobs (bool) + top_logprobs (0..20); completions: logprobs (0..20): OpenAI's shapes,
               streamed and not, from the distribution sampled from (after temperature, top_p and the mask;
               temperature 0: the masked softmax at temperature 1). Tokens with probability 0 are left out of
               top_logprobs (JSON has no -infinity).
tokenize / detokenize (vLLM's shapes): POST .../tokenize {"prompt"} or {"messages"} -> {"count", "max_model_len",
  "tokens", "token_strs"?}; POST .../detokenize {"tokens"} -> {"prompt"}.
`OpenAIApi` is the API object the handler hands these requests to (genai_serve/replies.py): it turns a body into
a job, and the job's replies, final body and refusals into OpenAI's shapes. No TorchServe import: the handler
routes and sends; this module parses and renders.
"""
from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass

from genai_serve.errors import InputError
from genai_serve.gpt2 import template
from genai_serve.gpt2.service import row_text, token_logprobs
from genai_serve.replies import JSON, Immediate

ROUTES = {"v1/completions": "completions", "v1/chat/completions": "chat", "v1/models": "models",
          "tokenize": "tokenize", "detokenize": "detokenize"}
SSE = "text/event-stream"
# native field -> the OpenAI parameter a client sent it as (so a 400 names what the client wrote)
PARAM = {"max_new_tokens": "max_tokens", "num_responses": "n", "start_word": "prompt", "question": "messages",
         "context": "messages"}
ERROR_TYPES = {400: "invalid_request_error", 404: "not_found_error", 408: "timeout_error", 429: "rate_limit_error",
               500: "server_error"}


@dataclass
class OpenAIRequest:
    """What the OpenAI side of a job needs to shape its answer (kept on the native Job as `job.openai`)."""
    api: str  # completions | chat
    id: str
    created: int
    model: str
    include_usage: bool = False
    started: bool = False  # a chat stream's first chunk (the assistant role) went out


class OpenAIApi:
    """gpt2_qa's OpenAI API for one model version (`model_id`, e.g. "gpt2_qa/2.0")."""

    def __init__(self, model_id: str, tokenizer, default_max_tokens: int, created: int, grammars=None,
                 n_positions: int = 1024):
        self.model_id, self.tokenizer = model_id, tokenizer
        self.default_max_tokens, self.created = default_max_tokens, created
        self.grammars, self.n_positions = grammars, n_positions

    def parse(self, url_path: str, body, build_job):
        """A request on a v1/ path -> a job (or the model list, Immediate). `build_job(native fields)` validates
        them with the model's own schema and makes the native job; its errors are renamed to OpenAI's parameters."""
        api = route(url_path)
        if api == "models":
            return Immediate(models_list(self.model_id, self.created))
        if api == "tokenize":
            return Immediate(tokenize(body, self.tokenizer, self.n_positions))
        if api == "detokenize":
            return Immediate(detokenize(body, self.tokenizer))
        native, stops = to_native(api, body, self.default_max_tokens)
        constraint = response_format(body.get("response_format"), self.grammars)
        try:
            job = build_job(native)
        except InputError as exc:
            raise openai_error(exc) from None
        job.api, job.stop = self, stops
        job.top_k = None  # OpenAI's API has no top-k: sample from the whole distribution (after top_p)
        if constraint is not None:
            job.constraint, job.format = constraint, "free"
        job.openai = new_request(api, body, self.model_id)
        return job

    def content_type(self, job) -> str:
        return SSE if job.stream else JSON

    def render(self, reply, stream_started: bool) -> str:
        if reply.job.stream:
            return sse(reply.job.openai, reply.events, reply.final, reply.error)
        if reply.final is not None:
            return json.dumps(reply.final)
        return json.dumps(error_body(reply.error)) if reply.error is not None else ""

    def error_body(self, exc: InputError) -> dict:
        return error_body(exc)

    def final_body(self, job, rows) -> dict:
        texts = [row_text(r, self.tokenizer) for r in rows]
        logprobs = None if job.logprobs is None else [token_logprobs(r.token_logprobs, self.tokenizer) for r in rows]
        return final_body(job.openai, texts, [r.finish_reason for r in rows], len(job.prompt_ids),
                          sum(len(r.tokens) for r in rows), logprobs)


def route(url_path: str) -> str | None:
    """'v1/chat/completions' -> 'chat'; '' -> None (the native API); an unknown path -> InputError 404."""
    path = (url_path or "").strip("/")
    if not path:
        return None
    if path in ROUTES:
        return ROUTES[path]
    raise InputError(f"url_path: no endpoint {path!r} on this model; it serves {', '.join(ROUTES)}", "url_path", 404)


def models_list(model_id: str, created: int) -> dict:
    return {"object": "list", "data": [{"id": model_id, "object": "model", "created": created, "owned_by": "genai-serve"}]}


def tokenize(body, tokenizer, n_positions: int) -> dict:
    """vLLM's /tokenize: {"prompt"} (the text as given) or {"messages"} (the chat request's QA prompt)."""
    if not isinstance(body, dict):
        raise InputError("body: a JSON object is required", "body")
    if body.get("messages") is not None:
        text = template.prompt(*_chat_question(body["messages"]))
    elif isinstance(body.get("prompt"), str):
        text = body["prompt"]
    else:
        raise InputError("prompt: a string is required (or messages, as for chat)", "prompt")
    ids = tokenizer.encode(text)
    out = {"count": len(ids), "max_model_len": n_positions, "tokens": ids}
    if body.get("return_token_strs"):
        out["token_strs"] = [tokenizer.token_text(t) for t in ids]
    return out


def detokenize(body, tokenizer) -> dict:
    """vLLM's /detokenize: {"tokens": [ids]} -> {"prompt": text}."""
    tokens = body.get("tokens") if isinstance(body, dict) else None
    vocab = tokenizer.fast.get_vocab_size()
    if not isinstance(tokens, list) or not all(isinstance(t, int) and not isinstance(t, bool) and 0 <= t < vocab
                                               for t in tokens):
        raise InputError(f"tokens: a list of token ids in [0, {vocab}) is required", "tokens")
    return {"prompt": tokenizer.decode(tokens)}


def response_format(fmt, grammars):
    """OpenAI's response_format -> () -> a new grammar.Constraint per row, or None for free text. The grammar is
    compiled here (once per distinct schema: the grammars' cache), so a schema it cannot take is this request's 400
    naming response_format."""
    if fmt is None:
        return None
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "text":
        return None
    if kind not in ("json_object", "json_schema"):
        raise InputError("response_format: type must be 'text', 'json_object' or 'json_schema'", "response_format")
    if grammars is None:
        raise InputError("response_format: this model version has no grammar engine", "response_format")
    if kind == "json_object":
        grammars.json_object()
        return grammars.json_object
    spec = fmt.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, dict) else None
    if not isinstance(schema, dict):
        raise InputError("response_format: json_schema.schema must be a JSON schema object", "response_format")
    grammars.json_schema(schema)
    return lambda: grammars.json_schema(schema)


def _logprobs_option(api: str, body: dict) -> int | None:
    """How many most likely tokens each token reports (None: no logprobs)."""
    if api == "chat":
        want, top = body.get("logprobs"), body.get("top_logprobs")
        if want is not None and not isinstance(want, bool):
            raise InputError("logprobs: true or false", "logprobs")
        if top is not None and (not isinstance(top, int) or isinstance(top, bool) or not 0 <= top <= 20):
            raise InputError("top_logprobs: an integer in [0, 20]", "top_logprobs")
        if top is not None and not want:
            raise InputError("top_logprobs: needs logprobs: true", "top_logprobs")
        return (top or 0) if want else None
    k = body.get("logprobs")
    if k is None:
        return None
    if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k <= 20:
        raise InputError("logprobs: an integer in [0, 20]", "logprobs")
    return k


def to_native(api: str, body: dict, default_max_tokens: int) -> tuple[dict, tuple[str, ...]]:
    """An OpenAI body -> (native request fields, stop sequences). Raises InputError naming the OpenAI parameter."""
    if not isinstance(body, dict):
        raise InputError("body: a JSON object is required", "body")
    pick = lambda key, default: default if body.get(key) is None else body[key]  # null means "the default"
    native = {"temperature": pick("temperature", 1.0), "top_p": pick("top_p", 1.0), "num_responses": pick("n", 1),
              "seed": body.get("seed"), "stream": pick("stream", False), "priority": pick("priority", 0),
              "logprobs": _logprobs_option(api, body)}
    if api == "completions":
        native.update(mode="text", start_word=_prompt(body.get("prompt")), max_new_tokens=pick("max_tokens", 16))
    else:
        question, context = _chat_question(body.get("messages"))
        native.update(mode="qa", question=question, context=context,
                      max_new_tokens=pick("max_completion_tokens", pick("max_tokens", default_max_tokens)))
    return native, _stops(body.get("stop"))


def openai_error(exc: InputError) -> InputError:
    """Rename a native field in a validation error to the OpenAI parameter the client sent."""
    param = PARAM.get(exc.field, exc.field)
    message = exc.message
    if exc.field and param != exc.field and message.startswith(exc.field + ":"):
        message = param + message[len(exc.field):]
    return InputError(message, param, exc.status)


def error_body(exc: InputError) -> dict:
    return {"error": {"message": exc.message, "type": ERROR_TYPES.get(exc.status, "invalid_request_error"),
                      "param": exc.field, "code": None}}


def new_request(api: str, body: dict, model_id: str) -> OpenAIRequest:
    prefix = "chatcmpl" if api == "chat" else "cmpl"
    options = body.get("stream_options") or {}
    return OpenAIRequest(api, f"{prefix}-{uuid.uuid4().hex[:24]}", int(time.time()), model_id,
                         include_usage=bool(isinstance(options, dict) and options.get("include_usage")))


# -- responses ------------------------------------------------------------------------------------------
def final_body(req: OpenAIRequest, texts: list[str], finish_reasons: list[str], prompt_tokens: int,
               completion_tokens: int, logprobs: list[list[dict]] | None = None) -> dict:
    shaped = [None] * len(texts) if logprobs is None else [_logprobs(req, entries) for entries in logprobs]
    if req.api == "chat":
        choices = [{"index": k, "message": {"role": "assistant", "content": text}, "logprobs": lp,
                    "finish_reason": reason} for k, (text, reason, lp) in enumerate(zip(texts, finish_reasons, shaped))]
    else:
        choices = [{"index": k, "text": text, "logprobs": lp, "finish_reason": reason}
                   for k, (text, reason, lp) in enumerate(zip(texts, finish_reasons, shaped))]
    return {"id": req.id, "object": "chat.completion" if req.api == "chat" else "text_completion",
            "created": req.created, "model": req.model, "choices": choices,
            "usage": _usage(prompt_tokens, completion_tokens)}


def sse(req: OpenAIRequest, events: list[dict], final: dict | None, error: InputError | None) -> str:
    """Server-sent events for one reply: the role chunk first (chat), a chunk per text delta, then one chunk per
    choice with its finish_reason, the usage chunk if asked for, and [DONE]."""
    chunks = []
    if req.api == "chat" and not req.started:
        n = len(final["choices"]) if final else 1 + max((e["response"] for e in events), default=0)
        chunks += [_chunk(req, k, {"role": "assistant", "content": ""}) for k in range(n)]
    req.started = True
    chunks += [_chunk(req, e["response"], e["text"], logprobs=e.get("logprobs")) for e in events]
    if final is not None:
        chunks += [_chunk(req, c["index"], "" if req.api == "completions" else {}, c["finish_reason"])
                   for c in final["choices"]]
        if req.include_usage:
            chunks.append({**_chunk(req, 0, ""), "choices": [], "usage": final["usage"]})
    if error is not None:
        chunks.append(error_body(error))
    out = "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in chunks)
    return out + ("data: [DONE]\n\n" if final is not None or error is not None else "")


def _logprobs(req: OpenAIRequest, entries: list[dict] | None, offset: int = 0) -> dict | None:
    """The native per-token entries (service.token_logprobs) in OpenAI's shape for chat or completions."""
    if entries is None:
        return None
    if req.api == "chat":
        return {"content": entries, "refusal": None}
    offsets, at = [], offset
    for e in entries:
        offsets.append(at)
        at += len(e["token"])
    return {"tokens": [e["token"] for e in entries], "token_logprobs": [e["logprob"] for e in entries],
            "top_logprobs": [{t["token"]: t["logprob"] for t in e["top_logprobs"]} for e in entries],
            "text_offset": offsets}


def _chunk(req: OpenAIRequest, index: int, delta, finish_reason: str | None = None, logprobs=None) -> dict:
    if req.api == "chat":
        if isinstance(delta, str):
            delta = {"content": delta}
        choice = {"index": index, "delta": delta, "logprobs": _logprobs(req, logprobs), "finish_reason": finish_reason}
        return {"id": req.id, "object": "chat.completion.chunk", "created": req.created, "model": req.model,
                "choices": [choice]}
    choice = {"index": index, "text": delta, "logprobs": _logprobs(req, logprobs), "finish_reason": finish_reason}
    return {"id": req.id, "object": "text_completion", "created": req.created, "model": req.model, "choices": [choice]}


def _usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


# -- request parts ---------------------------------------------------------------------------------------
def _prompt(prompt) -> str:
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]  # the SDK may send a one-element list
    if not isinstance(prompt, str) or not prompt.strip():
        raise InputError("prompt: a non-empty string is required (one prompt per request; token-id prompts are not "
                         "supported)", "prompt")
    return prompt


def _text(content, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: only text parts mean anything to this model
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        if parts and all(isinstance(p, str) for p in parts):
            return "\n".join(parts)
    raise InputError(f"messages: {where} content must be text", "messages")


def _chat_question(messages) -> tuple[str, str | None]:
    """The QA template's (question, context) from chat messages (see the module docstring)."""
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise InputError("messages: a non-empty list of {role, content} objects is required", "messages")
    last = messages[-1]
    if last.get("role") != "user":
        raise InputError("messages: the last message must have role 'user' (the question)", "messages")
    user = _text(last.get("content"), "the user message's")
    system = [_text(m.get("content"), "a system message's") for m in messages[:-1]
              if m.get("role") in ("system", "developer")]
    marked = re.match(r"\s*context:\s*(?P<context>.*?)\n\s*question:\s*(?P<question>.*)\s*$", user,
                      re.IGNORECASE | re.DOTALL)
    if marked:
        return marked["question"], marked["context"]
    return user, ("\n".join(system) or None)


def _stops(stop) -> tuple[str, ...]:
    if stop is None:
        return ()
    stops = [stop] if isinstance(stop, str) else stop
    if (not isinstance(stops, list) or len(stops) > 4 or not all(isinstance(s, str) and 0 < len(s) <= 100
                                                                   for s in stops)):
        raise InputError("stop: a string or a list of up to 4 strings of 1..100 characters", "stop")
    return tuple(stops)
