"""The KServe v2 / Open Inference Protocol (OIP) JSON tensor shape, for clients that already hold arrays.

  request   {"id"?: str, "parameters"?: {}, "inputs": [{"name": str, "shape": [int, ...], "datatype": "UINT8" | "FP32" |
             ..., "data": [...], "parameters"?: {}}], "outputs"?: [{"name": str}]}
  response  {"model_name", "model_version", "id"?, "outputs": [{"name", "shape", "datatype", "data"}]}

`data` is row-major, flat or nested as `shape`. Only the JSON form of the protocol is read here (no binary tensor
extension). What a model does with the tensors is the handler's (handlers/cnn.py); this module only turns the JSON
into checked numpy arrays and arrays back into JSON, every mistake a 400 naming the field
(`inputs[0].shape`, ...). No TorchServe here: the same functions serve any front end.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from genai_serve.errors import InputError

DATATYPES = {"BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
             "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64, "FP32": np.float32,
             "FP64": np.float64}
NAMES = {np.dtype(t): name for name, t in DATATYPES.items()}
REQUEST_KEYS = {"id", "parameters", "inputs", "outputs"}
TENSOR_KEYS = {"name", "shape", "datatype", "data", "parameters"}


@dataclass
class Request:
    inputs: list[tuple[str, np.ndarray]]  # (name, array shaped as the client said)
    id: str | None = None
    outputs: list[str] | None = None  # the output names asked for; None: all of them


def is_oip(params: dict) -> bool:
    """A JSON body is an OIP request when it carries `inputs`; no model's own request schema has that field."""
    return "inputs" in params


def read_request(params: dict, max_elements: int, outputs: tuple[str, ...]) -> Request:
    """Check an OIP body against what the model takes (at most `max_elements` values per tensor) and returns
    (`outputs`, the names it can answer with)."""
    unknown = sorted(set(params) - REQUEST_KEYS)
    if unknown:
        raise InputError(f"unknown field {unknown[0]!r}: an OIP request has {sorted(REQUEST_KEYS)}", unknown[0])
    request_id = params.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InputError("id must be a string", "id")
    inputs = params["inputs"]
    if not isinstance(inputs, list) or not inputs:
        raise InputError("inputs must be a non-empty list of tensors {name, shape, datatype, data}", "inputs")
    tensors = [_tensor(t, f"inputs[{i}]", max_elements) for i, t in enumerate(inputs)]
    return Request(tensors, request_id, _output_names(params.get("outputs"), outputs))


def _tensor(t, where: str, max_elements: int) -> tuple[str, np.ndarray]:
    if not isinstance(t, dict):
        raise InputError(f"{where} must be an object {{name, shape, datatype, data}}", where)
    missing = [k for k in ("name", "shape", "datatype", "data") if k not in t]
    if missing:
        raise InputError(f"{where}.{missing[0]} is required", f"{where}.{missing[0]}")
    unknown = sorted(set(t) - TENSOR_KEYS)
    if unknown:
        raise InputError(f"unknown field {where}.{unknown[0]}", f"{where}.{unknown[0]}")
    if not isinstance(t["name"], str):
        raise InputError(f"{where}.name must be a string", f"{where}.name")
    shape = t["shape"]
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise InputError(f"{where}.shape must be a list of non-negative integers", f"{where}.shape")
    size = math.prod(shape)
    if size > max_elements:
        raise InputError(f"{where}.shape {shape} holds {size} elements: at most {max_elements} allowed",
                         f"{where}.shape", 413)
    datatype = t["datatype"]
    if datatype not in DATATYPES:
        raise InputError(f"{where}.datatype must be one of {sorted(DATATYPES)}", f"{where}.datatype")
    return t["name"], _array(t["data"], shape, size, datatype, f"{where}.data")


def _array(data, shape: list[int], size: int, datatype: str, where: str) -> np.ndarray:
    if not isinstance(data, list):
        raise InputError(f"{where} must be a list (flat or nested as the shape)", where)
    try:
        raw = np.asarray(data)
    except ValueError:  # ragged nesting
        raise InputError(f"{where} is ragged: nest it as the shape {shape} or send it flat", where) from None
    if raw.size != size or (raw.ndim > 1 and list(raw.shape) != shape):
        raise InputError(f"{where} holds {raw.size} values in shape {list(raw.shape)}; shape says {shape}", where)
    dtype = np.dtype(DATATYPES[datatype])
    if datatype == "BOOL":
        if raw.size and raw.dtype != np.bool_:
            raise InputError(f"{where} must hold true/false for BOOL", where)
    elif raw.size and raw.dtype.kind not in "iuf":  # strings, booleans, nulls, objects
        raise InputError(f"{where} must hold numbers for {datatype}", where)
    elif dtype.kind in "iu":
        if raw.dtype.kind == "f" and not np.array_equal(raw, np.round(raw)):
            raise InputError(f"{where} must hold integers for {datatype}", where)
        info = np.iinfo(dtype)
        if raw.size and (raw.min() < info.min or raw.max() > info.max):
            raise InputError(f"{where} values must lie in [{info.min}, {info.max}] for {datatype}", where)
    elif raw.size and not np.isfinite(raw).all():
        raise InputError(f"{where} must hold finite numbers", where)
    return raw.astype(dtype).reshape(shape)


def _output_names(outputs, available: tuple[str, ...]) -> list[str] | None:
    if outputs is None:
        return None
    if not isinstance(outputs, list) or not all(isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs):
        raise InputError("outputs must be a list of {name}", "outputs")
    names = [o["name"] for o in outputs]
    unknown = [n for n in names if n not in available]
    if unknown:
        raise InputError(f"unknown output {unknown[0]!r}: this model returns {list(available)}", "outputs")
    return names


def tensor(name: str, array: np.ndarray) -> dict:
    array = np.asarray(array)
    if array.dtype.kind in "US":
        return {"name": name, "shape": list(array.shape), "datatype": "BYTES", "data": array.ravel().tolist()}
    return {"name": name, "shape": list(array.shape), "datatype": NAMES[array.dtype], "data": array.ravel().tolist()}


def response(model_name: str, version: str | None, request: Request, outputs: dict[str, np.ndarray]) -> dict:
    """The OIP response with the outputs the request asked for (read_request checked the names), or all of them."""
    wanted = request.outputs if request.outputs is not None else list(outputs)
    body = {"model_name": model_name, "model_version": version}
    if request.id is not None:
        body["id"] = request.id
    body["outputs"] = [tensor(n, outputs[n]) for n in wanted]
    return body
