"""Request schemas built once from the registry's `request:` section (pydantic), so every model validates
the same way and the same schema documents the API (`python -m genai_serve.schema` -> JSON Schema).

Spec per field: {type: int|float|str|bool|list, default, min, max, exclusive_min, exclusive_max, min_length,
max_length, choices, description, note}. `exclusive_min: 0` admits (0, max]: a step size of 0 would do nothing.
`note` says why a limit exists and is appended to its 400.
A list field also takes {items: int|float|str|bool (default str), min_items, max_items}; its min/max and
min_length/max_length then apply to each item (e.g. words: a list of 1..100 strings of 1..100 characters).
Form fields arrive as strings, so numbers in strings ("4") are accepted; booleans are refused for
numeric fields (JSON `true` is not a sample count), as are NaN/Infinity and fractional integers.
Unknown fields are ignored: the seed apps' clients send extra keys we do not use.
"""
from __future__ import annotations

import keyword
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model

from genai_serve.errors import InputError

_TYPES = {"int": int, "float": float, "str": str, "bool": bool}


def _refuse_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("booleans are not numbers")
    return value


def _coerce(py_type):
    def convert(value: Any) -> Any:
        if isinstance(value, str):
            try:
                return py_type(value)
            except ValueError:
                return value  # left for the Literal check to refuse with the allowed choices
        return value

    return convert


_KINDS = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false"}


def allowed_text(spec: dict) -> str:
    """Human words for what a field admits, used in every 400 for that field."""
    if spec["type"] == "list":
        item = {k: v for k, v in spec.items() if k not in ("items", "min_items", "max_items", "description")}
        each = allowed_text({**item, "type": spec.get("items", "str")})
        return f"a list of {spec.get('min_items', 0)}..{spec.get('max_items', 'any')} items, each {each}"
    kind = _KINDS[spec["type"]]
    if "choices" in spec:
        return "one of " + ", ".join(repr(c) for c in spec["choices"])
    lo, hi = spec.get("min", spec.get("exclusive_min")), spec.get("max", spec.get("exclusive_max"))
    if lo is not None and hi is not None:
        left = "(" if "exclusive_min" in spec else "["
        right = ")" if "exclusive_max" in spec else "]"
        return f"{kind} in {left}{lo}, {hi}{right}"
    if spec.get("max_length") is not None:
        return f"{kind} of {spec.get('min_length', 0)}..{spec['max_length']} characters"
    return kind


def _item_type(spec: dict):
    """The annotated type of one list item: the list spec's item type with its per-item bounds."""
    kind = spec.get("items", "str")
    bounds = {"ge": spec.get("min"), "le": spec.get("max"), "min_length": spec.get("min_length"),
              "max_length": spec.get("max_length"), "allow_inf_nan": False if kind == "float" else None}
    item = Annotated[_TYPES[kind], Field(**{k: v for k, v in bounds.items() if v is not None})]
    return Annotated[item, BeforeValidator(_refuse_bool)] if kind in ("int", "float") else item


def _list_field(spec: dict):
    constraints = {"min_length": spec.get("min_items"), "max_length": spec.get("max_items"),
                   "description": spec.get("description") or allowed_text(spec)}
    annotated = Annotated[list[_item_type(spec)], Field(**{k: v for k, v in constraints.items() if v is not None})]
    if spec.get("required"):
        return (annotated, ...)
    return (annotated | None, spec.get("default"))


def _field(name: str, spec: dict):
    if spec["type"] == "list":
        return _list_field(spec)
    py_type = _TYPES[spec["type"]]
    if "choices" in spec:
        py_type = Literal[tuple(spec["choices"])]
    constraints = {
        "ge": spec.get("min"),
        "le": spec.get("max"),
        "gt": spec.get("exclusive_min"),
        "lt": spec.get("exclusive_max"),
        "min_length": spec.get("min_length"),
        "max_length": spec.get("max_length"),
        "description": spec.get("description") or allowed_text(spec),
    }
    if spec["type"] == "float":
        constraints["allow_inf_nan"] = False
    constraints = {k: v for k, v in constraints.items() if v is not None}
    default = spec.get("default")
    annotated = Annotated[py_type, Field(**constraints)]
    if spec["type"] in ("int", "float"):
        annotated = Annotated[annotated, BeforeValidator(_refuse_bool)]
    if "choices" in spec and spec["type"] != "str":
        # A Literal compares values strictly; form fields arrive as strings ("32"), so coerce first.
        annotated = Annotated[annotated, BeforeValidator(_coerce(_TYPES[spec["type"]]))]
    if default is None and not spec.get("required", False):
        return (annotated | None, None)
    return (annotated, ... if spec.get("required") else default)


def build_request_model(model_name: str, request_spec: dict) -> type[BaseModel]:
    # A field named like a Python keyword ("return") is read as params.return_ (pydantic alias "return").
    fields = {}
    for name, spec in (request_spec or {}).items():
        annotated, default = _field(name, spec)
        if keyword.iskeyword(name):
            annotated = Annotated[annotated, Field(alias=name)]
            name = name + "_"
        fields[name] = (annotated, default)
    return create_model(
        f"{model_name.title().replace('_', '')}Request",
        __config__=ConfigDict(extra="ignore"),
        **fields,
    )


def validate(request_model: type[BaseModel], request_spec: dict, params: dict) -> BaseModel:
    """Validate params; the first problem becomes an InputError naming the field and its allowed range."""
    try:
        return request_model.model_validate(params)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or None
        spec = (request_spec or {}).get(str(err["loc"][0]) if err["loc"] else "", None)
        got = err.get("input")
        got_text = repr(got)[:80]
        allowed = f"; allowed: {allowed_text(spec)}" if spec else ""
        if spec and spec.get("note"):  # the registry's reason for a limit, e.g. why only 32 px
            allowed += f" ({spec['note']})"
        raise InputError(f"{field}: {err['msg'].lower()} (got {got_text}){allowed}", field) from None


def json_schema(model_name: str, request_spec: dict) -> dict:
    return build_request_model(model_name, request_spec).model_json_schema()
