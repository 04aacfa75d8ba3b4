"""Body-level garbage for every model: text encodings, number literals JSON allows but Python or the schema
cannot take, nesting, malformed or non-object JSON, wrong content types. Each is built from the model's
smallest valid request (case.base_params) with one thing broken, so the right answer is known: the envelope
names "body" for a body it cannot read; the schema names the field whose value it cannot take.

A body that does not look like JSON is an image model's input (genai_serve/envelope.py), so there the image
decoder refuses it (still naming "body"): `_unreadable` picks the layer.
"""
from __future__ import annotations

import json
from urllib.parse import urlencode

from genai_ops.registry import ModelSpec
from loadtests.reliability.case import JSON, Case, base_params, dumps, is_image_model, with_raw

# Byte sequences that are not UTF-8 (RFC 3629): each must make the body unreadable, wherever it sits.
NOT_UTF8 = {
    "lone continuation byte": b"\x80", "byte 0xFF": b"\xff", "truncated 2-byte sequence": b"\xc3",
    "bad continuation": b"\xc3\x28", "5-byte form": b"\xf8\x88\x80\x80\x80", "beyond U+10FFFF": b"\xf4\x90\x80\x80",
    "UTF-16 surrogate in UTF-8": b"\xed\xa0\x80", "overlong NUL": b"\xc0\x80",
    "overlong '/' in 2 bytes": b"\xc0\xaf", "overlong '/' in 3 bytes": b"\xe0\x80\xaf",
    "overlong '/' in 4 bytes": b"\xf0\x80\x80\xaf", "latin-1 'café'": "café".encode("latin-1"),
}
UNKNOWN = "x-unknown-field"  # the schema ignores unknown fields (the seeds' clients send extra keys)
DEEP = 10_000  # nesting json.loads cannot recurse through: the envelope refuses the body
SHALLOW = (50, 500)  # nesting json.loads reads: the schema refuses the value


def _unreadable(spec: ModelSpec) -> str:
    return "model" if is_image_model(spec) else "envelope"


def _text_fields(spec: ModelSpec) -> list[str]:
    return [n for n, f in spec.request.items() if f["type"] == "str" or f.get("items") == "str"]


def _splice(params: dict, name: str, raw: bytes) -> bytes:
    """params as JSON with `name`'s value the JSON string whose content is the raw bytes given."""
    marker = "\u2603MARK\u2603"
    body = json.dumps({**params, name: marker}, ensure_ascii=False).encode()
    return body.replace(marker.encode(), raw)


def encoding_cases(spec: ModelSpec) -> list[Case]:
    base, text = base_params(spec), json.dumps(base_params(spec))
    unreadable = _unreadable(spec)
    out = [Case(f"body in {codec}", raw, JSON, "body", kind="encoding", refused_by=layer) for codec, raw, layer in (
        ("UTF-16 with BOM", text.encode("utf-16"), unreadable),
        ("UTF-16BE with BOM", ("\ufeff" + text).encode("utf-16-be"), unreadable),
        ("UTF-16LE without BOM", text.encode("utf-16-le"), "envelope"),  # "{\0": looks like JSON, is not
        ("UTF-32 with BOM", text.encode("utf-32"), unreadable),
        ("UTF-8 with BOM", ("\ufeff" + text).encode(), unreadable),  # RFC 8259: JSON text is UTF-8 without one
    )]
    for where in [UNKNOWN, *_text_fields(spec)]:
        for what, raw in NOT_UTF8.items():
            out.append(Case(f"{where}: {what}", _splice(base, where, b"a" + raw + b"z"), JSON, "body", kind="encoding"))
        out.append(Case(f"{where}: raw control character in a JSON string", _splice(base, where, b"a\x01\x1fz"),
                        JSON, "body", kind="encoding"))
    for name in _text_fields(spec):  # valid JSON whose string is not text: a lone UTF-16 surrogate
        value = '["\\ud800"]' if spec.request[name]["type"] == "list" else '"a\\udfffz"'
        out.append(Case(f"{name}: lone surrogate escape", with_raw(base, name, value), JSON, name, kind="encoding",
                        refused_by="schema"))
    out.append(Case("latin-1 body sent as text/plain; charset=latin-1", _splice(base, UNKNOWN, "é".encode("latin-1")),
                    "text/plain; charset=latin-1", "body", kind="encoding"))
    return out


def number_cases(spec: ModelSpec) -> list[Case]:
    base, out = base_params(spec), []
    too_long = "9" * 5000  # Python reads at most 4,300 digits (sys.int_info): json.loads raises ValueError
    for name, field in spec.request.items():
        literals = ["1e309", "-1e309"]  # infinities: no field takes one
        if field["type"] in ("int", "float"):
            literals += [lit for lit, bound in (("1" + "0" * 400, "max"), ("-1" + "0" * 400, "min"))
                         if field.get(bound, field.get(f"exclusive_{bound}")) is not None]
            low = field.get("min", field.get("exclusive_min"))
            if low is not None and (low > 0 or "exclusive_min" in field and low >= 0):
                literals.append("1e-400")  # underflows to 0.0, outside the range
        else:
            literals.append("1" + "0" * 400)
        out += [Case(f"{name}: {lit[:12]}{'...' if len(lit) > 12 else ''}", with_raw(base, name, lit), JSON, name,
                     kind="number", refused_by="schema") for lit in literals]
        out.append(Case(f"{name}: a 5,000-digit integer", with_raw(base, name, too_long), JSON, "body", kind="number"))
    for lit in ("1e309", "1" + "0" * 400, "-1e-400"):  # an unknown field is ignored, whatever its number
        out.append(Case(f"unknown field: {lit[:12]}", with_raw(base, UNKNOWN, lit), JSON, None, kind="number",
                        refused_by=""))
    out.append(Case("unknown field: a 5,000-digit integer", with_raw(base, UNKNOWN, too_long), JSON, "body",
                    kind="number"))
    return out


def nesting_cases(spec: ModelSpec) -> list[Case]:
    base = base_params(spec)
    shapes = {"arrays": ("[" * DEEP, "]" * DEEP), "objects": ('{"a":' * DEEP, "1" + "}" * DEEP),
              "mixed": ('[{"a":' * (DEEP // 2), "1" + "}]" * (DEEP // 2))}
    out = [Case(f"body: {DEEP:,} nested {shape}", (head + tail).encode(), JSON, "body", kind="nesting")
           for shape, (head, tail) in shapes.items()]
    for name in spec.request:
        out.append(Case(f"{name}: {DEEP:,} nested arrays", with_raw(base, name, "[" * DEEP + "]" * DEEP), JSON, "body",
                        kind="nesting"))
        for depth in SHALLOW:
            for shape, (head, tail) in (("arrays", ("[" * depth, "]" * depth)),
                                        ("objects", ('{"a":' * depth, "1" + "}" * depth))):
                out.append(Case(f"{name}: {depth} nested {shape}", with_raw(base, name, head + tail), JSON, name,
                                kind="nesting", refused_by="schema"))
    return out


def syntax_cases(spec: ModelSpec) -> list[Case]:
    """JSON that is not an object, or not JSON at all; and duplicate keys (the last one wins, as in Python)."""
    base, text = base_params(spec), json.dumps(base_params(spec))
    unreadable = _unreadable(spec)
    # TorchServe's worker parses a JSON-typed body itself (ts/protocol/otf_message_handler.py): a number or
    # `true` reaches the envelope as a Python value that is not a dict, not as bytes an image decoder would get.
    bodies = {"JSON array": (b"[1, 2, 3]", "envelope"), "JSON string": (b'"hello"', "envelope"),
              "JSON number": (b"42", "envelope"), "JSON true": (b"true", "envelope"),
              "truncated JSON": (text[:-1].encode(), "envelope"),
              "trailing comma": (text[:-1].encode() + b", }", "envelope"),
              "single quotes": (text.replace('"', "'").encode(), "envelope"),
              "a comment": (b"/* hi */ " + text.encode(), unreadable),
              "two objects": ((text + text).encode(), "envelope"),
              "trailing garbage": (text.encode() + b" xyz", "envelope"),
              "an object inside an array": (f"[{text}]".encode(), "envelope")}
    out = [Case(label, body, JSON, "body", kind="syntax", refused_by=layer) for label, (body, layer) in bodies.items()]
    for name in base:
        if name in spec.request:
            bad = {"$": "an object is no field's value"}
            out.append(Case(f"{name}: duplicate key, the invalid value last", _duplicate(base, name, bad, last=True),
                            JSON, name, kind="syntax", refused_by="schema"))
            out.append(Case(f"{name}: duplicate key, the valid value last", _duplicate(base, name, bad, last=False),
                            JSON, name, kind="syntax", refused_by=""))
    return out


def _duplicate(base: dict, name: str, bad, last: bool) -> bytes:
    """base with `name` twice: its valid value and `bad`, the one that counts (the last) as asked."""
    valid, bad = json.dumps(base[name]), json.dumps(bad)
    first, second = (valid, bad) if last else (bad, valid)
    return with_raw(base, name, f"{first}, {json.dumps(name)}: {second}")


def content_type_cases(spec: ModelSpec) -> list[Case]:
    """The smallest valid JSON under other content types: TorchServe hands JSON types to the worker parsed,
    text/* as str, anything else as bytes, and the envelope reads a JSON object from each (so all are valid);
    form-encoded bodies arrive as one string per field, which the schema coerces or refuses."""
    base = base_params(spec)
    body = dumps(base)
    types = ["text/plain", "text/plain; charset=utf-8", "application/octet-stream", "application/x-ndjson",
             "application/json; charset=utf-8", "application/xml", "image/jpeg"]
    out = [Case(f"valid JSON as {ctype}", body, ctype, None, kind="content-type", refused_by="") for ctype in types]
    out.append(Case("valid JSON padded with whitespace", b"\n\t " + body + b"\r\n ", JSON, None, kind="content-type",
                    refused_by=""))
    form = {k: v for k, v in base.items() if k != "image"}  # a form field's bytes are not base64 text
    form_type = "application/x-www-form-urlencoded"
    if is_image_model(spec):  # no image in a form: the model says so
        out.append(Case("form-encoded without an image", urlencode(form).encode(), form_type, "image",
                        kind="content-type", refused_by="model"))
    else:
        out.append(Case("form-encoded fields", urlencode(form).encode(), form_type, None, kind="content-type",
                        refused_by=""))
    for name, field in spec.request.items():
        if field["type"] in ("int", "float", "bool"):
            out.append(Case(f"{name}: form field 'bogus'", urlencode({**form, name: "bogus"}).encode(), form_type,
                            name, kind="content-type", refused_by="schema"))
    if not spec.continuous:  # the defaults of an iterative model are real work: never send them a body it ignores
        layer, field = _defaults_only(spec)
        for label, blob, ctype in (("JSON sent as a form (its text one field name)", body, form_type),
                                   ("JSON null", b"null", JSON), ("empty body", b"", JSON)):
            out.append(Case(label, blob, ctype, field, kind="content-type", refused_by=layer))
    return out


def _defaults_only(spec: ModelSpec) -> tuple[str, str | None]:
    """(layer, field) for a request that sets nothing: the envelope reads an empty or null body as {} and a
    JSON text sent as a form as one field of that odd name, so every field takes its default."""
    required = [name for name, field in spec.request.items() if field.get("required")]
    if required:
        return "schema", required[0]
    if is_image_model(spec):
        return "model", "image"
    return "", None  # valid for the schema: a 200, or the model's 4xx (embeddings: which form?)
