"""genai_ops/kserve_tensors.py: a model's own fields <-> KServe v2 one-value tensors, and its answer -> outputs."""
from __future__ import annotations

import json

import pytest

from genai_ops.kserve_tensors import answer_outputs, is_parameter_request, native_request


def one(name, datatype, value, shape=(1,)):
    return {"name": name, "datatype": datatype, "shape": list(shape), "data": [value]}


def test_one_value_tensors_become_the_models_fields():
    inputs = [one("start_word", "BYTES", "The"), one("length", "INT32", 10), one("temperature", "FP32", 0.5),
              one("greedy", "BOOL", True), {"name": "seed", "datatype": "INT64", "shape": [1, 1], "data": [[7]]},
              one("word", "BYTES", b"king")]
    assert is_parameter_request(inputs)
    assert native_request(inputs) == {"start_word": "The", "length": 10, "temperature": 0.5, "greedy": True,
                                      "seed": 7, "word": "king"}


@pytest.mark.parametrize("inputs", [
    [{"name": "image", "datatype": "UINT8", "shape": [64, 64, 3], "data": [0] * (64 * 64 * 3)}],
    [one("topk", "INT64", 3), {"name": "image", "datatype": "FP32", "shape": [2], "data": [0.1, 0.2]}],
    [],
])
def test_arrays_and_empty_requests_are_not_parameter_requests(inputs):
    assert not is_parameter_request(inputs)  # they go to TorchServe's OIP route as they are


def test_answer_fields_become_tensors_of_their_type_and_shape():
    answer = {"generated_text": "the king", "seed": 3, "temperature": 0.5, "in_vocabulary": True,
              "probs": [[0.1, 0.9], [0.5, 0.5]], "ids": [1, 2, 3], "labels": ["cat", "dog"],
              "results": [{"token": "queen", "score": 0.8}], "nothing": None, "ragged": [[1], [2, 3]]}
    out = {o["name"]: o for o in answer_outputs(answer)}
    assert list(out) == list(answer)  # the answer's order
    assert out["generated_text"] == {"name": "generated_text", "datatype": "BYTES", "shape": [1], "data": ["the king"]}
    assert out["seed"] == {"name": "seed", "datatype": "INT64", "shape": [1], "data": [3]}
    assert out["temperature"]["datatype"] == "FP64" and out["in_vocabulary"]["datatype"] == "BOOL"
    assert (out["probs"]["datatype"], out["probs"]["shape"], out["probs"]["data"]) == ("FP64", [2, 2],
                                                                                       [0.1, 0.9, 0.5, 0.5])
    assert (out["ids"]["datatype"], out["ids"]["shape"]) == ("INT64", [3])
    assert (out["labels"]["datatype"], out["labels"]["shape"], out["labels"]["data"]) == ("BYTES", [2], ["cat", "dog"])
    for name in ("results", "nothing", "ragged"):  # no tensor shape: the field's JSON as one BYTES value
        assert out[name]["datatype"] == "BYTES" and out[name]["shape"] == [1]
        assert json.loads(out[name]["data"][0]) == answer[name]
