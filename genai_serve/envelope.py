"""Decode one request as TorchServe hands it to a handler into (params, raw bytes).

TorchServe gives each request as a dict: the body under "data" or "body", multipart and urlencoded form
fields under their own names (URL query parameters never reach a handler: pytorch/serve#989). The body is
already a dict when the client sent Content-Type: application/json and it parsed; otherwise it is bytes (raw upload, malformed JSON, gRPC,
which never parses) or str (text/* content types). We accept, in that order of precedence:
  - a JSON object (parsed dict, or bytes/str that parse as one)   -> params
  - a base64 string under a `binary_fields` key inside the JSON    -> raw (e.g. {"image": "<b64>"})
  - raw bytes that are not JSON                                     -> raw
  - multipart/form fields: binary fields -> raw, the rest -> params (strings)
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field

from genai_serve.errors import InputError

BODY_KEYS = ("data", "body")


@dataclass
class Decoded:
    params: dict = field(default_factory=dict)
    raw: bytes | None = None
    raw_field: str | None = None


def _looks_like_json(blob: bytes) -> bool:
    head = blob.lstrip()[:1]
    return head in (b"{", b"[", b'"')


def _parse_json_bytes(blob: bytes, name: str):
    try:
        return json.loads(blob.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"body is not UTF-8 text: {exc}", name) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"body is not valid JSON: {exc.msg} at position {exc.pos}", name) from None
    except RecursionError:  # json.loads recurses per nesting level: "[[[[...]]]]" x 5000 exhausts the stack
        raise InputError("body nests JSON arrays/objects too deeply", name) from None
    except ValueError as exc:  # an integer of more than 4,300 digits (sys.int_info): Python refuses to read it
        raise InputError(f"body holds a number Python cannot read: {exc}", name) from None


def _b64(value: str, name: str) -> bytes:
    try:
        return base64.b64decode(value.split(",", 1)[-1] if value.startswith("data:") else value, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{name} must be base64-encoded bytes", name) from None


def _as_object(value, name: str) -> dict:
    if not isinstance(value, dict):
        raise InputError(f"expected a JSON object, got {type(value).__name__}", name)
    return value


def decode_request(request: dict, binary_fields: tuple[str, ...] = ()) -> Decoded:
    """`binary_fields`: names whose value is file content (e.g. ("file", "image") for an image model)."""
    if not isinstance(request, dict):
        raise InputError("malformed request envelope", "body")
    out = Decoded()
    for name, value in request.items():
        if name in BODY_KEYS:
            _merge_body(out, value, name, binary_fields)
        elif name in binary_fields:
            _set_raw(out, value if isinstance(value, (bytes, bytearray)) else _b64(str(value), name), name)
        elif isinstance(value, (bytes, bytearray)):
            try:
                out.params[name] = bytes(value).decode("utf-8")
            except UnicodeDecodeError:
                raise InputError(f"{name} is not UTF-8 text", name) from None
        else:
            out.params[name] = value
    return out


def _set_raw(out: Decoded, blob: bytes, name: str) -> None:
    out.raw, out.raw_field = bytes(blob), name


def _merge_body(out: Decoded, value, name: str, binary_fields) -> None:
    if value is None:
        return
    if isinstance(value, (bytes, bytearray)):
        if not value:
            return  # empty body: defaults apply (or the model says the input is missing)
        if not _looks_like_json(value):
            if not binary_fields:
                raise InputError("body must be a JSON object (send Content-Type: application/json)", name)
            _set_raw(out, value, name)
            return
        value = _parse_json_bytes(bytes(value), name)
    elif isinstance(value, str):
        stripped = value.strip()
        if not stripped:
            return
        value = _parse_json_bytes(stripped.encode(), name) if stripped[0] in "{[\"" else stripped
        if isinstance(value, str):  # a bare text body: base64 content for binary models, else an error
            if binary_fields:
                _set_raw(out, _b64(value, name), name)
                return
            raise InputError("expected a JSON object body", name)
    params = _as_object(value, name)
    for key, item in params.items():
        if key in binary_fields and isinstance(item, str):
            _set_raw(out, _b64(item, key), key)
        else:
            out.params[key] = item
