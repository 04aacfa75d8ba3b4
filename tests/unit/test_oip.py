"""genai_serve/oip.py: Open Inference Protocol JSON tensors in and out, every mistake a 400 naming its field."""
import json

import numpy as np
import pytest

from genai_serve import oip
from genai_serve.errors import InputError

OUT = ("probs", "pred_id")


def body(shape, datatype, data, **extra) -> dict:
    return {"inputs": [{"name": "x", "shape": shape, "datatype": datatype, "data": data}], **extra}


def test_flat_and_nested_data_read_to_the_same_array_of_the_datatype():
    flat = oip.read_request(body([2, 3], "UINT8", [1, 2, 3, 4, 5, 6]), 100, OUT)
    nested = oip.read_request(body([2, 3], "UINT8", [[1, 2, 3], [4, 5, 6]], id="a"), 100, OUT)
    for request in (flat, nested):
        (name, x), = request.inputs
        assert name == "x" and x.dtype == np.uint8 and x.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert nested.id == "a" and flat.id is None and flat.outputs is None
    (_, f), = oip.read_request(body([2], "FP32", [0.5, 1]), 10, OUT).inputs
    assert f.dtype == np.float32 and f.tolist() == [0.5, 1.0]
    (_, b), = oip.read_request(body([2], "BOOL", [True, False]), 10, OUT).inputs
    assert b.dtype == np.bool_


@pytest.mark.parametrize("params, field, status", [
    ({"inputs": []}, "inputs", 400),
    ({"inputs": "x"}, "inputs", 400),
    ({"inputs": [1]}, "inputs[0]", 400),
    ({"inputs": [{"name": "x", "shape": [1], "datatype": "UINT8"}]}, "inputs[0].data", 400),
    ({**body([1], "UINT8", [1]), "extra": 1}, "extra", 400),
    ({"inputs": [{"name": "x", "shape": [1], "datatype": "UINT8", "data": [1], "what": 0}]}, "inputs[0].what", 400),
    (body([1], "UINT8", [1], id=3), "id", 400),
    (body([-1], "UINT8", [1]), "inputs[0].shape", 400),
    (body([1.5], "UINT8", [1]), "inputs[0].shape", 400),
    (body([1000, 1000], "UINT8", [0]), "inputs[0].shape", 413),  # more elements than allowed, refused before reading
    (body([1], "COMPLEX", [1]), "inputs[0].datatype", 400),
    (body([2], "UINT8", [1]), "inputs[0].data", 400),  # too few values
    (body([2, 2], "UINT8", [[1, 2], [3]]), "inputs[0].data", 400),  # ragged
    (body([2, 2], "UINT8", [[1, 2, 3, 4]]), "inputs[0].data", 400),  # nested against another shape
    (body([1], "UINT8", [-1]), "inputs[0].data", 400),
    (body([1], "UINT8", [1.5]), "inputs[0].data", 400),
    (body([1], "INT64", [10 ** 30]), "inputs[0].data", 400),
    (body([1], "FP32", ["a"]), "inputs[0].data", 400),
    (body([1], "FP32", [None]), "inputs[0].data", 400),
    (body([1], "FP32", [float("nan")]), "inputs[0].data", 400),
    (body([1], "BOOL", [1]), "inputs[0].data", 400),
    (body([1], "UINT8", {"a": 1}), "inputs[0].data", 400),
    (body([1], "UINT8", [1], outputs=[{"name": "nope"}]), "outputs", 400),
    (body([1], "UINT8", [1], outputs="probs"), "outputs", 400),
])
def test_every_mistake_is_an_input_error_naming_the_field(params, field, status):
    with pytest.raises(InputError) as err:
        oip.read_request(params, 1000, OUT)
    assert err.value.field == field and err.value.status == status, err.value.message


def test_the_response_carries_the_asked_outputs_in_order_as_json_tensors():
    request = oip.read_request(body([1], "UINT8", [1], id="q", outputs=[{"name": "pred_id"}, {"name": "probs"}]), 10, OUT)
    out = oip.response("cnn", "1.0", request, {"probs": np.array([[0.25, 0.75]], np.float32),
                                              "pred_id": np.array([1], np.int64)})
    assert json.loads(json.dumps(out)) == {"model_name": "cnn", "model_version": "1.0", "id": "q", "outputs": [
        {"name": "pred_id", "shape": [1], "datatype": "INT64", "data": [1]},
        {"name": "probs", "shape": [1, 2], "datatype": "FP32", "data": [0.25, 0.75]}]}
    assert oip.tensor("label", np.array(["ship"]))["datatype"] == "BYTES"
