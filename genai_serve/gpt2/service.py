"""gpt2_qa requests -> decoding rows -> responses (the handler maps TorchServe onto these functions).

Modes: "qa" (a question, with or without context; the default when `question` is given) and "text"
(continue `start_word` for `length` tokens). Fields of both seed apps are accepted as they are:
  sps-genai app      /gpt2/answer            {question, max_length (prompt + new tokens), temperature, top_p}
                     /gpt2/answer/multiple   {question, num_responses, max_length, temperature}
  post-training app  /generate_with_llm      {start_word?, length, question?, context?, max_new_tokens, use_rl_model}
Constrained decoding and the other per-request options (genai_serve/gpt2/grammar.py, decode.py):
  "format": "strict"  QA only: the model generates the prefix, a one-line answer and the suffix under a grammar
                      mask, so format_ok is true by construction ("free", the default, samples unconstrained; a
                      version's default is models.yaml's handler_config.default_format). It needs room for the
                      prefix, the suffix and an answer (grammar.Grammars.strict_min_tokens: 20 with GPT-2's
                      tokenizer).
  "logprobs": k       each response carries per token {"token", "logprob", "top_logprobs": k most likely}, from the
                      distribution sampled from (after temperature, top_k, top_p and the mask; greedy: the masked
                      softmax at temperature 1).
  "priority": p       higher first in each scheduler step (genai_serve/scheduler.py).
Token budget: text mode reads `length`, then max_new_tokens; QA mode max_new_tokens; then max_length minus the
prompt (as in the sps-genai app), then the default (64 for QA, 50 for text).
`use_rl_model` cannot pick a version: TorchServe routes a request to the version in its URL before the handler
sees it. The response says which version answered; if use_rl_model asks for the other one, a `note` says
which URL serves it (the post-training app also fell back silently from RL to SFT when RL was missing).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genai_serve.errors import InputError
from genai_serve.gpt2 import template
from genai_serve.gpt2.decode import Row
from genai_serve.replies import NativeApi

RL_VERSION_STAGE = "rl"
TEXT_DEFAULT_LENGTH = 50  # the post-training app's default `length`


@dataclass
class Job:
    mode: str
    prompt_text: str
    prompt_ids: list[int]
    max_new_tokens: int
    num_responses: int
    seed: int
    temperature: float
    top_p: float
    top_k: int | None
    enforce_format: bool
    stream: bool
    question: str | None = None
    context: str | None = None
    notes: list[str] = field(default_factory=list)
    stop: tuple[str, ...] = ()  # stop sequences (OpenAI API); the text ends before the first one
    timeout_s: float | None = None  # the scheduler stops the request after this long (a 408 naming timeout_s)
    api: Any = None  # the API that asked (genai_serve/replies.py): it shapes the request's final body and replies
    openai: Any = None  # the OpenAI API's per-request part (openai_api.OpenAIRequest), when it asked
    priority: int = 0  # higher first in each scheduler step
    logprobs: int | None = None  # None, or how many most likely tokens each token reports (0..20)
    format: str = "free"  # "strict": the answer format by a grammar mask
    constraint: Any = None  # () -> a new grammar.Constraint for one row, or None (unconstrained)

    @property
    def tokens(self) -> int:
        """Positions this request's every response may occupy: its cost per response in the scheduler."""
        return len(self.prompt_ids) + self.max_new_tokens

    def rows(self) -> list[Row]:
        """One decoding row per response, each with its own generator spawned from the request's seed, so a
        seed gives the same answers alone or batched, and the k-th answer does not depend on num_responses."""
        seqs = np.random.SeedSequence(self.seed).spawn(self.num_responses)
        return [Row(list(self.prompt_ids), self.max_new_tokens, self.temperature, self.top_k, self.top_p,
                    np.random.default_rng(s), grammar=self.constraint() if self.constraint else None,
                    logprobs=self.logprobs) for s in seqs]


def parse(params, tokenizer, eos_id: int, n_positions: int, seed: int, default_max_new: int,
          stage: str, grammars=None, default_format: str = "free") -> Job:
    mode = params.mode or ("qa" if params.question is not None else "text")
    notes = []
    if mode == "qa":
        if params.question is None or not params.question.strip():
            raise InputError("question: a non-empty question is required in qa mode", "question")
        text = template.prompt(params.question, params.context)
        ids = tokenizer.encode(text)
    else:
        text = params.start_word or ""
        if params.start_word is not None and not params.start_word.strip():
            raise InputError("start_word: contains only spaces", "start_word")
        ids = [eos_id] + (tokenizer.encode(text) if text else [])  # GPT-2's document start
    budget, budget_field = _budget(params, mode, len(ids), default_max_new)
    if len(ids) + budget > n_positions:
        raise InputError(f"{budget_field}: prompt ({len(ids)} tokens) + {budget} new tokens exceeds the model's "
                         f"context of {n_positions} tokens", budget_field)
    if params.use_rl_model is not None and params.use_rl_model != (stage == RL_VERSION_STAGE):
        want = "2.0 (RL)" if params.use_rl_model else "1.0 (SFT)"
        notes.append(f"use_rl_model={str(params.use_rl_model).lower()} asks for version {want}; the version is chosen "
                     f"by the URL: POST /predictions/gpt2_qa/{want.split()[0]}")
    fmt = getattr(params, "format", None) or default_format
    constraint = None
    if fmt == "strict" and mode == "qa":
        if grammars is None:
            raise InputError("format: this model version has no grammar engine; send \"format\": \"free\"", "format")
        if budget < grammars.strict_min_tokens:
            raise InputError(f"{budget_field}: \"format\": \"strict\" needs at least {grammars.strict_min_tokens} new tokens "
                             f"(the prefix, an answer and the suffix); got {budget}", budget_field)
        constraint = grammars.strict
    elif fmt == "strict" and getattr(params, "format", None):
        raise InputError("format: \"strict\" is the QA answer format: send a question (mode qa)", "format")
    return Job(mode, text, ids, budget, params.num_responses, seed, params.temperature, params.top_p, params.top_k,
               params.enforce_format, params.stream, params.question, params.context, notes,
               timeout_s=params.timeout_s, priority=getattr(params, "priority", None) or 0,
               logprobs=getattr(params, "logprobs", None), format=fmt if mode == "qa" else "free",
               constraint=constraint)


def _budget(params, mode: str, prompt_len: int, default: int) -> tuple[int, str]:
    # The post-training app sends both `length` (text mode's budget) and `max_new_tokens` (QA mode's) in every
    # body, so each mode reads its own field first.
    if mode == "text" and params.length is not None:
        return params.length, "length"
    if params.max_new_tokens is not None:
        return params.max_new_tokens, "max_new_tokens"
    if params.max_length is not None:
        if params.max_length <= prompt_len:
            raise InputError(f"max_length: {params.max_length} leaves no room after the prompt's {prompt_len} tokens "
                             f"(max_length counts the prompt, as in the sps-genai app; or send max_new_tokens)",
                             "max_length")
        return params.max_length - prompt_len, "max_length"
    return (TEXT_DEFAULT_LENGTH if mode == "text" else default), "max_new_tokens"


def response(job: Job, rows: list[Row], tokenizer, model_version: str, fine_tuned: bool) -> dict:
    """The body for one request. format_ok is what the model itself produced; enforce_format wraps after."""
    texts = [row_text(r, tokenizer) for r in rows]
    enforce = job.enforce_format or (job.mode == "qa" and not fine_tuned)
    responses = []
    for text, row in zip(texts, rows):
        ok = template.format_ok(text)
        out = text.strip()
        if job.mode == "qa" and enforce and not ok:
            out = template.enforce(out)
        item = {"text": out, "format_ok": ok, "new_tokens": len(row.tokens),
                "finish_reason": "eos" if row.stopped_at_eos else row.finish_reason}
        if job.logprobs is not None:
            item["logprobs"] = token_logprobs(row.token_logprobs, tokenizer)
        responses.append(item)
    body = {"model": "gpt2_qa", "model_version": model_version, "mode": job.mode, "seed": job.seed, "format": job.format,
            "prompt_tokens": len(job.prompt_ids), "completion_tokens": sum(len(r.tokens) for r in rows),
            "responses": responses}
    if job.mode == "qa":
        answers = [r["text"] for r in responses]
        body.update(question=job.question, answer=answers[0], answers=answers, format_ok=responses[0]["format_ok"],
                    format_enforced=enforce and any(not r["format_ok"] for r in responses),
                    generated_text=answers[0])  # the post-training app's field name
    else:
        joined = [(job.prompt_text + t) if job.prompt_text else t for t in texts]
        body.update(generated_text=joined[0], generated_texts=joined)
    if not fine_tuned:
        body["warning"] = ("no fine-tuned model in this archive: the base model answers and the format is enforced "
                           "by wrapping (format_ok shows what the model produced)")
    if job.notes:
        body["note"] = " ".join(job.notes)
    return body


class Gpt2NativeApi(NativeApi):
    """The native API's gpt2_qa body (`response`) for a finished request."""

    def __init__(self, tokenizer, model_version: str, fine_tuned: bool):
        self.tokenizer, self.model_version, self.fine_tuned = tokenizer, model_version, fine_tuned

    def final_body(self, job: Job, rows: list[Row]) -> dict:
        return response(job, rows, self.tokenizer, self.model_version, self.fine_tuned)


def token_logprobs(records, tokenizer) -> list[dict]:
    """Row.token_logprobs -> [{"token", "logprob", "bytes", "top_logprobs": [{"token", "logprob", "bytes"}]}]
    (OpenAI chat's per-token shape; `bytes` are the token's own bytes, which may end inside a UTF-8 character)."""
    def one(tok, lp):
        return {"token": tokenizer.token_text(tok), "logprob": lp, "bytes": list(tokenizer.token_bytes(tok))}
    return [{**one(tok, lp), "top_logprobs": [one(t, v) for t, v in top]} for tok, lp, top in records]


def row_text(row: Row, tokenizer) -> str:
    return row.text if row.text is not None else tokenizer.decode(row.tokens)
