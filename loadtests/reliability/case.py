"""One hostile request and what the server must answer to it (the corpus is built in hostile.py)."""
from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass

from genai_ops.registry import ModelSpec

JSON = "application/json"
LAYERS = ("envelope", "schema", "model", "torchserve", "")


@dataclass(frozen=True)
class Case:
    """`refused_by` says which layer must refuse the request, so a unit test can check offline that the case
    really is invalid there: the envelope (genai_serve/envelope.py), the registry schema (genai_serve/schema.py),
    the model's own parsing (an image decoder, embeddings' forms, gpt2_qa's context budget), or TorchServe
    before any handler (`expected` None: any listed status is right).
    `refused_by` "" marks a VALID request: a correct 200 is right, and so is a 4xx naming `expected` (the model
    may still refuse what the schema admits, e.g. a prompt over gpt2_qa's context, text with no word in it).
    Never a 5xx, whatever the case."""

    label: str
    body: bytes
    content_type: str
    expected: str | None  # the field a 4xx must name (or a sub-field: "words" covers "words.0")
    status: tuple[int, ...] = (400,)
    kind: str = "syntax"  # the generator that made it; the short sample takes some of every kind
    refused_by: str = "envelope"

    def __post_init__(self):
        if self.refused_by not in LAYERS:
            raise ValueError(f"{self.label}: refused_by must be one of {LAYERS}")

    @property
    def accepts(self) -> bool:
        return not self.refused_by


def is_image_model(spec: ModelSpec) -> bool:
    """A model whose input is a file (its registry sample is one): bytes that are not JSON are its input."""
    return "file" in spec.sample


def base_params(spec: ModelSpec) -> dict:
    """The smallest valid request: the registry sample's JSON with every number it sets lowered to the field's
    minimum (1 image, 1 step, 1 new token: the iterative models answer a valid case in one step), or a tiny
    base64 PNG for an image model. Every case is this body with one thing broken."""
    params = dict(spec.sample.get("json", {}))
    for name, value in params.items():
        field = spec.request.get(name, {})
        if field.get("type") in ("int", "float") and "min" in field and not isinstance(value, bool):
            params[name] = field["min"]
    if is_image_model(spec):
        params["image"] = base64.b64encode(tiny_png()).decode("ascii")
    return params


def dumps(params: dict) -> bytes:
    return json.dumps(params, allow_nan=True).encode()


def with_raw(params: dict, name: str, literal: str) -> bytes:
    """params as JSON with `name` set to a literal written as is (1e309, a 5,000-digit integer, ...): text that
    json.dumps cannot produce from a Python value."""
    rest = {k: v for k, v in params.items() if k != name}
    head = json.dumps(rest)[:-1]
    return f'{head}{", " if rest else ""}{json.dumps(name)}: {literal}}}'.encode()


def short(value, limit: int = 40) -> str:
    """A value as a label shows it (labels name a failing case in reports)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


def tiny_png(size: int = 8, fmt: str = "PNG") -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (size, size), (200, 30, 30)).save(buf, format=fmt)
    return buf.getvalue()
