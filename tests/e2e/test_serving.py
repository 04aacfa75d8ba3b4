"""End to end through a real TorchServe: real .mar files, HTTP, tokens, management API, metrics."""
from __future__ import annotations

import base64
import ipaddress
import io
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
from PIL import Image

from genai_ops.registry import REPO_ROOT

pytestmark = pytest.mark.e2e


def workers(served, name: str, version: str | None = None) -> list[dict]:
    path = f"/models/{name}" + (f"/{version}" if version else "")
    r = served.server.call("GET", "management", path)
    assert r.status_code == 200, r.text
    return r.json()[0]["workers"]


def worker_pids(served, name: str) -> set[int]:
    return {w["pid"] for w in workers(served, name)}


def png_of(response) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(response.json()["image_base64_png"])))


def test_cnn_answers_on_default_and_versioned_paths(served):
    spec = served.spec("cnn")
    for version in (None, "1.0"):
        r = served.server.predict(spec, version)
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"pred_id", "pred_label", "probs", "topk"}
        assert len(body["probs"]) == 10 and abs(sum(body["probs"]) - 1) < 1e-3


def test_cnn_accepts_a_multipart_upload_like_the_seed(served):
    blob, _ = served.spec("cnn").sample_body()
    r = served.server.call("POST", "inference", "/predictions/cnn", files={"file": ("ship.png", blob, "image/png")})
    assert r.status_code == 200, r.text
    assert r.json()["pred_label"]


def test_cnn_answers_an_oip_tensor_over_http_as_it_answers_the_uploaded_image(served):
    """The Open Inference Protocol JSON tensor through the real frontend and worker (TorchServe parses the JSON body
    before the handler sees it): the probabilities of the same pixels uploaded as PNG, in OIP's response shape;
    a wrong tensor is a 400 naming its field while its batch-mates succeed. OIP's own path answers the same."""
    import numpy as np

    spec = served.spec("cnn")
    png = (REPO_ROOT / spec.sample["file"]).read_bytes()
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    body = {"id": "ship-1", "inputs": [{"name": "image", "shape": list(pixels.shape), "datatype": "UINT8",
                                        "data": pixels.ravel().tolist()}]}
    uploaded = served.server.predict(spec, body=png, content_type="image/png").json()
    with ThreadPoolExecutor(8) as pool:  # good and bad together, so they can share batches
        good = [pool.submit(served.server.call, "POST", "inference", "/predictions/cnn", json=body) for _ in range(4)]
        bad = [pool.submit(served.server.call, "POST", "inference", "/predictions/cnn",
                           json={"inputs": [{**body["inputs"][0], "shape": [32, 32]}]}) for _ in range(4)]
    # OIP's own REST path: TorchServe routes /v2/models/<model>/infer to the same handler
    good.append(served.server.call("POST", "inference", "/v2/models/cnn/infer", json=body))
    for r in (f if hasattr(f, "status_code") else f.result() for f in good):
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["model_name"] == "cnn" and answer["id"] == "ship-1"
        outputs = {t["name"]: t for t in answer["outputs"]}
        assert outputs["probs"]["shape"] == [1, 10]
        np.testing.assert_allclose(outputs["probs"]["data"], uploaded["probs"], atol=2e-6)
        assert outputs["pred_label"]["data"] == [uploaded["pred_label"]]
    for r in (f.result() for f in bad):
        assert r.status_code == 400 and r.json()["field"] == "inputs[0].data", r.text


def test_gan_is_reproducible_by_seed_and_lays_out_the_seed_grid(served):
    spec = served.spec("gan")
    body = json.dumps({"num_samples": 16, "seed": 42}).encode()
    first = served.server.predict(spec, body=body, content_type="application/json")
    second = served.server.predict(spec, body=body, content_type="application/json")
    assert first.status_code == 200, first.text
    assert first.json()["image_base64_png"] == second.json()["image_base64_png"]
    assert png_of(first).size == (122, 122)


@pytest.mark.parametrize("api, path", [("inference", "/predictions/cnn"), ("management", "/models")])
def test_requests_without_or_with_a_wrong_or_swapped_token_are_refused(served, api, path):
    other = "management" if api == "inference" else "inference"
    method = "POST" if api == "inference" else "GET"
    for token in (None, "not-the-token", served.server.token(other)):
        r = served.server.call(method, api, path, token=token, data=b"x", headers={"Content-Type": "image/png"})
        assert r.status_code in (400, 401, 403), (token, r.status_code)
        assert "Token Authorization failed" in r.text


BAD_INPUTS = [
    ("cnn", b"this is not an image", "application/octet-stream", "body"),
    ("cnn", b"", "image/png", "image"),
    ("cnn", b'{"image": 12}', "application/json", "image"),
    ("gan", b'{"num_samples": 0}', "application/json", "num_samples"),
    ("gan", b'{"num_samples": 65}', "application/json", "num_samples"),
    ("gan", b'{"num_samples": "x"}', "application/json", "num_samples"),
    ("gan", b'{"num_samples": 4, "seed": "abc"}', "application/json", "seed"),
    ("gan", b'{"num_samples": ', "application/json", "body"),
    ("gan", b"[1, 2, 3]", "application/json", "body"),
    ("gan", '{"num_samples": "\u00e9\u00e8\u4e2d"}'.encode(), "application/json", "num_samples"),
    ("gan", b'{"num_samples": 4, "seed": "\xff"}', "application/json", "body"),
]


def test_bad_inputs_get_a_4xx_naming_the_field_and_the_worker_survives(served):
    pids = {name: worker_pids(served, name) for name in ("cnn", "gan")}
    for model, body, content_type, field in BAD_INPUTS:
        r = served.server.predict(served.spec(model), body=body, content_type=content_type)
        assert 400 <= r.status_code < 500, (model, body, r.status_code, r.text)
        assert r.json()["field"] == field, (body, r.text)
    assert {name: worker_pids(served, name) for name in pids} == pids
    for name in pids:
        assert served.server.predict(served.spec(name)).status_code == 200


def test_concurrent_good_and_bad_requests_each_get_their_own_answer(served):
    spec = served.spec("gan")
    bodies = [{"num_samples": 2, "seed": i} if i % 3 else {"num_samples": 99} for i in range(12)]

    def send(body):
        return served.server.predict(spec, body=json.dumps(body).encode(), content_type="application/json")

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(send, bodies))
    for body, r in zip(bodies, results):
        assert r.status_code == (400 if body["num_samples"] == 99 else 200), r.text


def test_customized_describe_returns_the_model_card_and_code_from_the_archive(served):
    r = served.server.call("GET", "management", "/models/cnn?customized=true")
    meta = json.loads(r.json()[0]["customizedMetadata"]) if isinstance(r.json()[0]["customizedMetadata"], str) \
        else r.json()[0]["customizedMetadata"]
    assert meta["model_card"]["name"] == "cnn" and meta["model_card"]["parity"]["passed"] is True
    assert "test_accuracy" in meta["model_card"]["metrics"]
    assert not meta["code_dir"].startswith(str(REPO_ROOT)), "workers must run the archived code, not the checkout"
    # Where the worker's network runs and why (genai_serve/runtime.py worker_device), whatever the machine.
    assert meta["device"]["runtime"] == "onnxruntime" and meta["device"]["reason"]


def test_scale_workers_up_and_down(served):
    mgmt, start = served.server, served.spec("gan").model_config["minWorkers"]
    assert len(workers(served, "gan")) == start  # registered with the registry's count (models.yaml)
    for n in (start + 1, 1, start):
        r = mgmt.call("PUT", "management", "/models/gan", params={"min_worker": n, "max_worker": n, "synchronous": "true"})
        assert r.status_code == 200, r.text
        assert len(workers(served, "gan")) == n


def test_register_version_two_set_default_and_unregister(served):
    server, spec = served.server, served.spec("cnn")
    subprocess.run([sys.executable, "-m", "export.archive", "cnn", "--version", "2.0", "--base", str(served.paths.base)],
                   cwd=REPO_ROOT, check=True)
    server.register(spec, "2.0")
    server.set_default("cnn", "2.0")
    assert server.call("GET", "management", "/models/cnn").json()[0]["modelVersion"] == "2.0"
    assert server.predict(spec, "2.0").status_code == 200
    # the default version cannot be removed while another version is registered
    assert server.call("DELETE", "management", "/models/cnn/2.0").status_code == 403
    assert server.call("DELETE", "management", "/models/cnn/1.0").status_code == 200
    assert server.predict(spec).status_code == 200
    assert server.predict(spec, "1.0").status_code == 404
    server.register(spec, "1.0")  # leave the server as the registry describes it
    server.set_default("cnn", "1.0")
    assert server.call("DELETE", "management", "/models/cnn/2.0").status_code == 200


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/evil.mar", "file:///etc/passwd", "../cnn-1.0.mar",
                                 "file:///tmp/../etc/cnn.mar"])
def test_registering_from_outside_the_model_store_is_refused(served, url):
    r = served.server.call("POST", "management", "/models", params={"url": url, "model_name": "evil"})
    assert 400 <= r.status_code < 500, (url, r.status_code, r.text)


def test_prometheus_metrics_count_the_requests(served):
    served.server.predict(served.spec("cnn"))
    text = served.server.call("GET", "metrics", "/metrics").text
    assert 'ts_inference_requests_total{model_name="cnn"' in text
    assert 'HandlerRequests{ModelName="gan"' in text


def test_every_listening_socket_is_on_loopback_and_the_key_file_is_private(served):
    jvm = psutil.Process(served.server.pid())
    procs = [jvm, *jvm.children(recursive=True)]
    listening = [c for p in procs for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
    assert {c.laddr.port for c in listening} >= set(served.server.ports.values())
    for conn in listening:  # the JVM reports IPv4 loopback as ::ffff:127.0.0.1
        ip = ipaddress.ip_address(conn.laddr.ip)
        assert (ip.ipv4_mapped or ip) == ipaddress.ip_address("127.0.0.1"), conn
    assert served.server.key_file.stat().st_mode & 0o077 == 0
