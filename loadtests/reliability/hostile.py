"""Hostile and malformed requests for every registry model, generated from its registry entry: at least
CORPUS_SIZE per model, the same ones on every run (labels name a failing case), none written by hand.

  field cases     each `request:` field set to values its schema refuses, drawn by hypothesis from the field's
                  spec (strategies.py), and to odd but valid text; a required field left out
  body cases      encodings, number literals, nesting, malformed JSON, content types (bodies.py)
  image cases     non-images, bombs, other formats, base64, multipart edge cases (uploads.py; image models)
  prompt cases    prompts at and over the context budget (prompts.py; gpt2_qa)

Every case is the model's smallest valid request (case.base_params) with one thing broken, so it says what the
answer must be (case.Case): a 4xx naming the field, or, for the few valid ones, a 200. A new field or model is
covered without anyone writing cases; `sample` is the short, deterministic subset `make test` sends.
"""
from __future__ import annotations

import hashlib
import math
import random
import zlib

from genai_ops.registry import ModelSpec
from loadtests.reliability import bodies, prompts, uploads
from loadtests.reliability.case import JSON, Case, base_params, dumps, is_image_model, short
from loadtests.reliability.strategies import draw, invalid, odd_text

__all__ = ["Case", "cases_for", "sample", "fingerprint", "oversized_case", "CORPUS_SIZE", "SHORT"]

CORPUS_SIZE = 520  # per model (500 or more); field cases fill up to it
SHORT = 60  # per model in `make test`: enough for every kind of case at least once
MIN_PER_FIELD = 12  # a model with many fields still gets this many bad values for each
ODD_TEXTS = 4  # valid odd strings per free-text field


def _seed(*parts: str) -> int:
    """A stable seed per model and field: adding a field does not change what the others draw."""
    return zlib.crc32("/".join(parts).encode())


def _unique(values: list, n: int, body) -> list[tuple[object, bytes]]:
    """The first n (value, body(value)) pairs whose bodies differ: a request is sent once."""
    seen, out = set(), []
    for value in values:
        blob = body(value)
        if blob not in seen:
            seen.add(blob)
            out.append((value, blob))
        if len(out) == n:
            break
    return out


def field_cases(spec: ModelSpec, per_field: int) -> list[Case]:
    base, out = base_params(spec), []
    for name, field in spec.request.items():
        rest = {k: v for k, v in base.items() if k != name}
        # A few more than needed: distinct draws can make the same body (e.g. two spellings of one NaN).
        drawn = draw(invalid(field), per_field + per_field // 4 + 8, _seed(spec.name, name))
        for i, ((what, value), blob) in enumerate(_unique(drawn, per_field, lambda p: dumps({**rest, name: p[1]}))):
            out.append(Case(f"{name} #{i}: {what} {short(value)}", blob, JSON, name, kind=f"field {name}",
                            refused_by="schema"))
        if field.get("required"):
            out.append(Case(f"{name}: missing", dumps(rest), JSON, name, kind=f"field {name}", refused_by="schema"))
        out += _odd_text_cases(spec, name, field, rest)
    return out


def _odd_text_cases(spec: ModelSpec, name: str, field: dict, rest: dict) -> list[Case]:
    """Valid but odd text (control characters, NUL, other scripts): a 200, or a 4xx naming the field where
    the model finds nothing to work with (e.g. no word to start from)."""
    if "choices" in field or (field["type"], field.get("items", "str")) not in (("str", "str"), ("list", "str")):
        return []
    text = odd_text(field)
    strategy = text.map(lambda s: [s]) if field["type"] == "list" else text
    drawn = draw(strategy, 3 * ODD_TEXTS, _seed(spec.name, name, "odd"))
    return [Case(f"{name} #{i}: odd text {short(value)}", blob, JSON, name, kind="odd text", refused_by="")
            for i, (value, blob) in enumerate(_unique(drawn, ODD_TEXTS, lambda v: dumps({**rest, name: v})))]


def body_cases(spec: ModelSpec) -> list[Case]:
    out = (bodies.encoding_cases(spec) + bodies.number_cases(spec) + bodies.nesting_cases(spec)
           + bodies.syntax_cases(spec) + bodies.content_type_cases(spec) + prompts.prompt_cases(spec))
    if is_image_model(spec):
        out += uploads.image_cases(spec) + uploads.multipart_cases(spec)
    return out


def cases_for(spec: ModelSpec, size: int = CORPUS_SIZE) -> list[Case]:
    """The whole corpus of one model: its body cases, then field cases enough to reach `size`."""
    fixed = body_cases(spec)
    fields = max(1, len(spec.request))
    per_field = max(MIN_PER_FIELD, math.ceil((size - len(fixed)) / fields))
    return fixed + field_cases(spec, per_field)


def sample(cases: list[Case], n: int = SHORT) -> list[Case]:
    """n cases with every kind among them (round robin over kinds, each kind's cases in a fixed shuffled order),
    the same ones on every run."""
    groups: dict[str, list[Case]] = {}
    for case in cases:
        groups.setdefault(case.kind, []).append(case)
    for kind, group in groups.items():
        random.Random(kind).shuffle(group)
    picked, rank = [], 0
    while len(picked) < min(n, len(cases)):
        picked += [group[rank] for group in groups.values() if rank < len(group)][: n - len(picked)]
        rank += 1
    return picked


def fingerprint(cases: list[Case]) -> str:
    """A digest of a corpus: equal on two machines or runs exactly when they send the same requests."""
    return hashlib.sha256(repr(cases).encode()).hexdigest()[:16]


def oversized_case(limit: int) -> Case:
    """One byte over max_request_size: TorchServe refuses it with 413 before any handler runs."""
    return Case("body over max_request_size", b"0" * (limit + 1), "application/octet-stream", None, (413,),
                kind="size", refused_by="torchserve")
