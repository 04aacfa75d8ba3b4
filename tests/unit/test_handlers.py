"""Handlers driven as TorchServe drives them (a list of requests, a context), on real ONNX Runtime sessions."""
import base64
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from genai_ops.checkpoint import build_from_checkpoint
from genai_serve.imaging import cnn_input


def png(color=(200, 30, 30), size=(48, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def run(handler, context, requests):
    return [json.loads(r) for r in handler.handle(requests, context)]


def test_cnn_batch_with_a_bad_member_answers_each_request(handler_factory):
    handler, ctx = handler_factory("cnn")
    out = run(handler, ctx, [{"body": png()}, {"body": b"garbage bytes"}, {"file": png((0, 0, 255))}, {"body": b""}])
    assert [ctx.status[i][0] for i in range(4)] == [200, 400, 200, 400]
    assert out[1]["field"] == "body" and "decodable image" in out[1]["error"]
    assert out[3]["field"] == "image"
    for good in (out[0], out[2]):
        assert abs(sum(good["probs"]) - 1) < 1e-4 and len(good["probs"]) == 10
        assert good["pred_label"] == good["topk"][0]["label"] and len(good["topk"]) == 3


def test_cnn_matches_the_torch_network_on_the_served_preprocessing(handler_factory, random_exports):
    handler, ctx = handler_factory("cnn")
    blob = png((10, 200, 90), (33, 77))
    got = run(handler, ctx, [{"body": {"image": base64.b64encode(blob).decode(), "topk": 10}}])[0]
    net, _ = build_from_checkpoint(random_exports.checkpoint("cnn"))
    x = torch.from_numpy(cnn_input(Image.open(io.BytesIO(blob)).convert("RGB")))[None]
    expected = torch.softmax(net(x), dim=1)[0].detach().numpy()
    np.testing.assert_allclose(got["probs"], expected, atol=1e-5)
    assert [t["id"] for t in got["topk"]] == list(np.argsort(-expected))


@pytest.mark.parametrize("bad, field", [({"num_samples": 0}, "num_samples"), ({"num_samples": 65}, "num_samples"),
                                        ({"num_samples": "x"}, "num_samples"), ({"seed": -3}, "seed")])
def test_gan_bad_parameters_are_400_for_that_request_only(handler_factory, bad, field):
    handler, ctx = handler_factory("gan")
    out = run(handler, ctx, [{"body": bad}, {"body": {"num_samples": 2, "seed": 1}}])
    assert ctx.status[0][0] == 400 and out[0]["field"] == field
    assert ctx.status[1][0] == 200 and out[1]["num_samples"] == 2


def test_gan_same_seed_same_grid_alone_or_in_a_batch(handler_factory):
    handler, ctx = handler_factory("gan")
    alone = run(handler, ctx, [{"body": {"num_samples": 4, "seed": 123}}])[0]
    batch = run(handler, ctx, [{"body": {"num_samples": 9, "seed": 5}}, {"body": {"num_samples": 4, "seed": 123}},
                               {"body": {"num_samples": 1}}])
    assert batch[1]["image_base64_png"] == alone["image_base64_png"]
    assert batch[0]["image_base64_png"] != alone["image_base64_png"]
    assert isinstance(batch[2]["seed"], int)  # a random seed is returned, so the output can be reproduced
    img = Image.open(io.BytesIO(base64.b64decode(alone["image_base64_png"])))
    assert img.size == (62, 62) and img.mode == "RGB"


def test_gan_default_is_sixteen_samples_and_query_strings_parse(handler_factory):
    handler, ctx = handler_factory("gan")
    out = run(handler, ctx, [{"body": b"", "num_samples": b"3", "seed": b"9"}, {"body": b""}])
    assert out[0]["num_samples"] == 3 and out[0]["seed"] == 9 and out[1]["num_samples"] == 16


def test_inference_bug_is_500_and_handler_keeps_serving(handler_factory, monkeypatch):
    handler, ctx = handler_factory("gan")
    monkeypatch.setattr(handler, "model", lambda batch: (_ for _ in ()).throw(RuntimeError("boom")))
    out = run(handler, ctx, [{"body": {"num_samples": 1}}])
    assert ctx.status[0][0] == 500 and out[0]["error"] == "internal error"


def test_describe_returns_the_model_card_and_schema(handler_factory):
    handler, ctx = handler_factory("cnn")
    ctx.headers[0] = {"describe": "True"}
    card = json.loads(handler.handle([{"body": b""}], ctx)[0])
    assert card["model_card"]["name"] == "cnn" and card["model_card"]["parity"]["passed"]
    assert "topk" in card["request_schema"]["properties"]


def test_handler_records_metrics(handler_factory):
    handler, ctx = handler_factory("gan")
    run(handler, ctx, [{"body": {"num_samples": 1}}, {"body": {"num_samples": 0}}])
    names = dict(ctx.metrics.recorded)
    assert names["HandlerRequests"] == 2 and names["HandlerRejected"] == 1 and names["HandlerBatchLatency"] > 0


def test_requests_of_a_batch_share_one_onnx_runtime_call(handler_factory):
    handler, ctx = handler_factory("gan")
    calls = []
    real = handler.model

    def counting(batch):
        calls.append(batch.shape)
        return real(batch)

    handler.model = counting
    out = run(handler, ctx, [{"body": {"num_samples": 3, "seed": 1}}, {"body": {"num_samples": 65}},
                             {"body": {"num_samples": 5, "seed": 2}}])
    assert calls == [(8, 100)]  # 3 + 5 latent vectors in one call; the invalid request never reached the model
    assert [o.get("num_samples") for o in out] == [3, None, 5]


def test_a_bug_parsing_one_request_is_a_500_for_it_alone_and_the_batch_still_runs(handler_factory):
    handler, ctx = handler_factory("gan")
    original = handler.parse

    def parse(decoded, params):
        if params.num_samples == 3:
            raise KeyError("a bug of ours")
        return original(decoded, params)

    handler.parse = parse
    out = run(handler, ctx, [{"body": {"num_samples": 2}}, {"body": {"num_samples": 3}}, {"body": {"num_samples": 1}}])
    assert [ctx.status[i][0] for i in range(3)] == [200, 500, 200]
    assert out[1] == {"error": "internal error", "field": None}


def oip_body(array: np.ndarray, datatype: str, **extra) -> dict:
    return {"inputs": [{"name": "image", "shape": list(array.shape), "datatype": datatype,
                        "data": array.ravel().tolist()}], **extra}


def test_cnn_answers_oip_tensors_as_it_answers_the_same_image_uploaded(handler_factory):
    """UINT8 pixels and the FP32 network input give the probabilities of the PNG upload; the answer is OIP's shape."""
    handler, ctx = handler_factory("cnn")
    blob = png((10, 200, 90), (33, 77))
    pixels = np.asarray(Image.open(io.BytesIO(blob)).convert("RGB"))
    out = run(handler, ctx, [{"body": blob}, {"body": oip_body(pixels, "UINT8", id="r1")},
                             {"body": oip_body(pixels[None], "UINT8")},
                             {"body": oip_body(cnn_input(Image.fromarray(pixels))[None], "FP32",
                                               outputs=[{"name": "pred_label"}])},
                             {"body": json.dumps(oip_body(pixels, "UINT8")).encode()}])  # as bytes: gRPC, text types
    assert [ctx.status[i][0] for i in range(5)] == [200] * 5
    uploaded = out[0]
    for body in (out[1], out[2], out[4]):
        assert body["model_name"] == "cnn" and body["model_version"] == "1.0"
        tensors = {t["name"]: t for t in body["outputs"]}
        assert tensors["probs"]["shape"] == [1, 10] and tensors["probs"]["datatype"] == "FP32"
        np.testing.assert_allclose(tensors["probs"]["data"], uploaded["probs"], atol=2e-6)
        assert tensors["pred_id"] == {"name": "pred_id", "shape": [1], "datatype": "INT64", "data": [uploaded["pred_id"]]}
        assert tensors["pred_label"]["data"] == [uploaded["pred_label"]] and tensors["pred_label"]["datatype"] == "BYTES"
    assert out[1]["id"] == "r1" and "id" not in out[2]
    assert [t["name"] for t in out[3]["outputs"]] == ["pred_label"]
    assert out[3]["outputs"][0]["data"] == [uploaded["pred_label"]]


@pytest.mark.parametrize("body, field", [
    (oip_body(np.zeros((32, 32), np.uint8), "UINT8"), "inputs[0].shape"),  # no channel axis
    (oip_body(np.zeros((3, 32, 32), np.float32), "FP32"), "inputs[0].shape"),  # FP32 not at the network's size
    (oip_body(np.zeros((2, 8, 8, 3), np.uint8), "UINT8"), "inputs[0].shape"),  # a batch of two in one request
    (oip_body(np.zeros((8, 8, 3), np.uint8), "INT32"), "inputs[0].shape"),  # right shape, wrong datatype
    ({"inputs": [{"name": "a", "shape": [2], "datatype": "UINT8", "data": [1, 2]}] * 2}, "inputs"),
    ({"inputs": [{"name": "a", "shape": [3], "datatype": "UINT8", "data": [1, 2]}]}, "inputs[0].data"),
    ({"inputs": [{"name": "a", "shape": [1], "datatype": "UINT8", "data": [256]}]}, "inputs[0].data"),
    ({"inputs": [{"name": "a", "shape": [8, 8, 3], "datatype": "UINT8", "data": [0] * 192}], "outputs": [{"name": "x"}]},
     "outputs"),
])
def test_cnn_bad_oip_tensors_are_400_naming_the_field_for_that_request_only(handler_factory, body, field):
    handler, ctx = handler_factory("cnn")
    out = run(handler, ctx, [{"body": body}, {"body": png()}])
    assert ctx.status[0][0] == 400 and out[0]["field"] == field, out[0]
    assert ctx.status[1][0] == 200 and len(out[1]["probs"]) == 10


@pytest.mark.parametrize("model", ["gan", "diffusion", "ebm"])
def test_a_model_without_tensor_inputs_refuses_an_oip_body(handler_factory, model):
    """One parsing path for every model: the iterative ones refuse an OIP body exactly as the one-shot ones do."""
    handler, ctx = handler_factory(model)
    out = run(handler, ctx, [{"body": {"inputs": [{"name": "z", "shape": [1], "datatype": "FP32", "data": [0.0]}]}}])
    assert ctx.status[0][0] == 400 and out[0]["field"] == "inputs" and "takes no tensor inputs" in out[0]["error"]
