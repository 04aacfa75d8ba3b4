"""Prompts at and over a language model's context budget (gpt2_qa): the handler refuses a request whose prompt
tokens + new tokens exceed the model's n_positions (genai_serve/gpt2/service.py, naming the field that set the
budget: max_new_tokens, max_length, or length in text mode), before any decoding.

The corpus is built offline, without the served tokenizer, so prompt sizes are bracketed instead of counted: a
prompt of N one-letter words is at least N tokens in any GPT-2 byte-level BPE (its pre-tokenizer makes each
" x" a piece of its own, and a piece is one token or more). N above the registry's `max_length` ceiling (1024,
GPT-2's longest context) is over budget for every GPT-2; N near a context size is a VALID case: a 200 for one
tokenizer and a 400 naming the budget field for another are both right. Every valid case asks for 1 new token
(or a max_length a few tokens past the prompt), so 500 cases stay cheap.
"""
from __future__ import annotations

import random
import string

from genai_ops.registry import ModelSpec
from loadtests.reliability.case import JSON, Case, base_params, dumps

NEAR = (-24, -16, -12, -8, -4, -1, 0)  # prompt words relative to a context size


def applies(spec: ModelSpec) -> bool:
    return {"question", "context", "max_new_tokens"} <= set(spec.request)


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(string.ascii_lowercase) for _ in range(n))


def prompt_cases(spec: ModelSpec) -> list[Case]:
    if not applies(spec):
        return []
    req, rng = spec.request, random.Random(f"{spec.name}/prompt")
    ceiling = int(req.get("max_length", {}).get("max", 1024))
    longest_context = req["context"]["max_length"] // 2  # one-letter words and their spaces
    base = base_params(spec)
    by_length = {k: v for k, v in base.items() if k != "max_new_tokens"}  # so max_length sets the budget

    def case(label, params, field, layer):
        return Case(label, dumps(params), JSON, field, kind="prompt budget", refused_by=layer)

    out = []
    for n in sorted({ceiling + 1, ceiling + 50, (ceiling + longest_context) // 2, longest_context}):
        out.append(case(f"context of {n} words, over any GPT-2 context", {**base, "context": _words(rng, n)},
                        "max_new_tokens", "model"))
    for q in (10, 300, req["question"]["max_length"] // 2):
        out.append(case(f"question of {q} words + context of {ceiling + 1 - q}: over",
                        {**base, "question": _words(rng, q), "context": _words(rng, ceiling + 1 - q)},
                        "max_new_tokens", "model"))
    out.append(case(f"max_length {ceiling} and a context of {ceiling + 10} words",
                    {**by_length, "max_length": ceiling, "context": _words(rng, ceiling + 10)}, "max_length", "model"))
    for max_length in sorted(rng.sample(range(1, 41), 4)):  # 40 words are 40 tokens or more
        out.append(case(f"max_length {max_length}, shorter than a prompt of 40 words",
                        {**by_length, "context": _words(rng, 40), "max_length": max_length}, "max_length", "model"))
    for size in (ceiling // 4, ceiling // 2, ceiling):  # near each GPT-2 context size: valid, 200 or 400
        for d in NEAR:
            out.append(case(f"context of {size + d} words, near {size}", {**base, "context": _words(rng, size + d)},
                            "max_new_tokens", ""))
        for extra in (16, 24):  # the template is some 15 tokens: room for a few new ones, or none
            n = size - 40
            out.append(case(f"context of {n} words, max_length {n + extra}",
                            {**by_length, "context": _words(rng, n), "max_length": n + extra}, "max_length", ""))
    text_longest = req["start_word"]["max_length"] // 2
    for n in sorted({ceiling // 4 - 1, ceiling // 2 - 2, ceiling // 2, text_longest}):
        out.append(case(f"text mode, {n} words to continue", {**base, "mode": "text", "start_word": _words(rng, n),
                                                                "length": 1}, "length", ""))
    longest_question = _words(rng, req["question"]["max_length"] // 2)
    out.append(case("a question of the longest length", {**base, "question": longest_question},
                    "max_new_tokens", ""))
    return out
