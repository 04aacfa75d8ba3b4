"""Hostile and malformed requests for every registry model, derived from its `request:` schema.

Every case is invalid by construction (a value outside the field's allowed set, a body that is not a JSON
object, bytes that are not an image...), so the only right answer is a 4xx naming the field; `expected` says
which field (None where TorchServe itself answers, e.g. the 413 for a body over max_request_size).
"""
from __future__ import annotations

import io
import json
import struct
import zlib
from dataclasses import dataclass

from genai_serve.registry import ModelSpec

JSON = "application/json"


@dataclass(frozen=True)
class Case:
    label: str
    body: bytes
    content_type: str
    expected: str | None  # the field the 400 must name; None: any 4xx (answered before the handler)
    status: tuple[int, ...] = (400,)


def _bad_values(name: str, spec: dict) -> list[tuple[str, object]]:
    """(label, value) pairs that this field must refuse."""
    kind, out = spec["type"], [("object", {"$gt": 1}), ("array", [[1, [2]]])]
    if kind in ("int", "float"):
        out += [("string", "abc"), ("boolean", True), ("huge", 10**30), ("negative huge", -10**30)]
        lo = spec.get("min", spec.get("exclusive_min"))
        hi = spec.get("max", spec.get("exclusive_max"))
        if "exclusive_min" in spec:
            out.append(("at exclusive min", spec["exclusive_min"]))
        elif lo is not None:
            out.append(("below min", lo - 1))
        if hi is not None:
            out.append(("above max", hi + 1))
        if kind == "int":
            out.append(("fractional", 1.5))
        else:
            out += [("NaN", float("nan")), ("Infinity", float("inf"))]
        if "choices" in spec:
            out.append(("not a choice", max(spec["choices"]) + 1))
    elif kind == "str":
        out += [("number", 12345), ("boolean", False)]
        if spec.get("max_length") is not None:
            out.append(("overlong", "x" * (spec["max_length"] + 1)))
        if spec.get("min_length"):
            out.append(("empty", ""))
        if "choices" in spec:
            out.append(("not a choice", "\u00e9\u4e2d-not-a-choice"))
    elif kind == "bool":
        out += [("string", "maybe"), ("number", 2)]
    elif kind == "list":
        out += [("not a list", "word"), ("wrong items", [{"a": 1}])]
        if spec.get("max_items") is not None:
            out.append(("too many items", ["x"] * (spec["max_items"] + 1)))
        if spec.get("min_items"):
            out.append(("empty list", []))
    if spec.get("default") is not None or spec.get("required"):
        out.append(("null", None))  # null is only valid for optional fields without a default
    return out


def _minimal_valid(spec: ModelSpec) -> dict:
    """The registry sample's JSON (so required fields are present) or {} for binary models."""
    return dict(spec.sample.get("json", {}))


def field_cases(spec: ModelSpec) -> list[Case]:
    base = _minimal_valid(spec)
    cases = []
    for name, field in spec.request.items():
        for label, value in _bad_values(name, field):
            body = json.dumps({**base, name: value}, allow_nan=True).encode()
            cases.append(Case(f"{name}: {label}", body, JSON, name))
        if field.get("required"):
            body = json.dumps({k: v for k, v in base.items() if k != name}).encode()
            cases.append(Case(f"{name}: missing", body, JSON, name))
    return cases


def envelope_cases(spec: ModelSpec) -> list[Case]:
    """Bodies that are not a JSON object at all; every model must refuse them the same way."""
    body_field = "body"
    cases = [
        Case("JSON array", b"[1, 2, 3]", JSON, body_field),
        Case("JSON string", b'"hello"', JSON, body_field),
        Case("truncated JSON", b'{"a": ', JSON, body_field),
        Case("non-UTF-8 JSON", b'{"a": "\xff\xfe"}', JSON, body_field),
        Case("deeply nested", ("[" * 5000 + "]" * 5000).encode(), JSON, body_field),
    ]
    if "file" in spec.sample:  # an image model: bytes that are not an image, truncated and bomb images
        png = tiny_png()
        cases += [
            Case("not an image", b"\x00\x01garbage" * 10, "application/octet-stream", body_field),
            Case("truncated PNG", png[: len(png) // 2], "image/png", body_field),
            Case("empty image body", b"", "image/png", "image"),
            Case("decompression bomb", bomb_png(), "image/png", body_field, (413,)),
            Case("base64 that is not", json.dumps({"image": "%%%not-base64%%%"}).encode(), JSON, "image"),
        ]
    else:
        cases.append(Case("binary garbage with an image type", b"\x89PNG\r\n\x1a\x00junk", "image/png", body_field))
    return cases


def oversized_case(limit: int) -> Case:
    """One byte over max_request_size: TorchServe refuses it with 413 before any handler runs."""
    return Case("body over max_request_size", b"0" * (limit + 1), "application/octet-stream", None, (413,))


def cases_for(spec: ModelSpec) -> list[Case]:
    return field_cases(spec) + envelope_cases(spec)


def tiny_png(size: int = 8) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (size, size), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def bomb_png(side: int = 60000) -> bytes:
    """A valid PNG header claiming side x side pixels (3.6 gigapixels) with one compressed row of data: a
    decoder that trusted the header would allocate ~10 GB."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + \
        chunk(b"IEND", b"")
