"""KServe v2 (Open Inference Protocol) tensors <-> a model's own JSON request and answer, for the KServe runtime.

Most models here take a few named parameters (`{"start_word": "The", "length": 10}`), not arrays. In v2 form each
parameter is a tensor of one value named after the field, the way Triton users send an LLM's `text_input`:

  {"inputs": [{"name": "start_word", "datatype": "BYTES", "shape": [1], "data": ["The"]},
              {"name": "length", "datatype": "INT32", "shape": [1], "data": [10]}]}

`native_request` turns that into the model's JSON request; `answer_outputs` turns the model's JSON answer back
into v2 outputs, one tensor per top-level field. A request with any tensor of more than one value is a real
array (cnn's pixels) and is not translated: the runtime hands it to TorchServe's own OIP route unchanged, where
a model that takes tensors reads it and every other model answers 400 naming `inputs`.

Standard library only: this runs in KServe's virtualenv, which holds none of the serving packages.
"""
from __future__ import annotations

import json
import math

NUMERIC = {"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64"}


def is_parameter_request(inputs: list[dict]) -> bool:
    """True when every input is one value (shape [] or [1] or [1, 1]...): the model's own fields in tensor form."""
    return bool(inputs) and all(math.prod(t.get("shape") or [1]) == 1 for t in inputs)


def native_request(inputs: list[dict]) -> dict:
    """[{name, datatype, shape, data}] of one value each -> {name: value}; the model's schema checks the values."""
    params = {}
    for t in inputs:
        data = t.get("data")
        while isinstance(data, list) and len(data) == 1:
            data = data[0]
        if isinstance(data, bytes):
            data = data.decode("utf-8")
        if t.get("datatype") == "BOOL":
            data = bool(data)
        params[t["name"]] = data
    return params


def answer_outputs(answer: dict) -> list[dict]:
    """A model's JSON answer -> v2 outputs, one tensor per field, in the answer's order."""
    return [_tensor(name, value) for name, value in answer.items()]


def _tensor(name: str, value) -> dict:
    if isinstance(value, bool):
        return {"name": name, "datatype": "BOOL", "shape": [1], "data": [value]}
    if isinstance(value, int):
        return {"name": name, "datatype": "INT64", "shape": [1], "data": [value]}
    if isinstance(value, float):
        return {"name": name, "datatype": "FP64", "shape": [1], "data": [value]}
    if isinstance(value, str):
        return {"name": name, "datatype": "BYTES", "shape": [1], "data": [value]}
    shape = _shape(value)
    if shape is not None:
        flat = _flatten(value)
        if all(isinstance(v, str) for v in flat):
            return {"name": name, "datatype": "BYTES", "shape": shape, "data": flat}
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in flat):
            datatype = "INT64" if all(isinstance(v, int) for v in flat) else "FP64"
            return {"name": name, "datatype": datatype, "shape": shape, "data": flat}
    # objects, lists of objects, nulls: one BYTES value holding the field's JSON
    return {"name": name, "datatype": "BYTES", "shape": [1], "data": [json.dumps(value)]}


def _shape(value) -> list[int] | None:
    """The shape of a rectangular nested list of scalars, else None."""
    if not isinstance(value, list):
        return [] if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None
    if not value:
        return [0]
    inner = [_shape(v) for v in value]
    if any(s is None for s in inner) or any(s != inner[0] for s in inner):
        return None
    return [len(value), *inner[0]]


def _flatten(value) -> list:
    if not isinstance(value, list):
        return [value]
    return [x for v in value for x in _flatten(v)]
