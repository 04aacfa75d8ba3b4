"""The benchmark tooling (loadtests/): the seeds' serving path reproduction answers as the sps-genai app did, the seed
Locust users' requests are accepted by it, and the numbers read back from logs and profiles are parsed right.
Speed is never asserted here (docs/BENCHMARKS.md holds the measurements). Nothing here imports locust:
it monkey-patches the whole process with gevent (tests/e2e/test_loadtest.py runs the Locust users for real)."""
from __future__ import annotations

import base64
import importlib
import io
import subprocess

import pytest
from PIL import Image

from tests.unit.test_handlers import png


@pytest.fixture
def seed_client(random_exports, monkeypatch):
    from fastapi.testclient import TestClient

    monkeypatch.setenv("GENAI_SEED_PROJECT", str(random_exports.base))
    import loadtests.seed_app as seed_app

    seed_app = importlib.reload(seed_app)  # PATHS is read at import
    with TestClient(seed_app.app) as client:
        yield client


def grid_size(body: dict) -> tuple[int, int]:
    image = Image.open(io.BytesIO(base64.b64decode(body["image_base64_png"])))
    assert image.mode == "RGB"
    return image.size


def test_seed_app_answers_in_seed_1s_shapes(seed_client):
    from loadtests.harness.locust_run import multipart_file

    body, content_type = multipart_file(png())  # exactly what the seed Locust user sends
    r = seed_client.post("/predict_cifar10", content=body, headers={"Content-Type": content_type})
    assert r.status_code == 200, r.text
    out = r.json()
    assert abs(sum(out["probs"]) - 1) < 1e-4 and out["pred_label"] in ("airplane", "ship", "truck", "cat", "dog",
                                                                          "automobile", "bird", "deer", "frog", "horse")
    # the sps-genai app's grids: n=4 gives a 62x62 grid for 28 px digits and 70x70 for 32 px images (2 px white padding)
    assert grid_size(seed_client.get("/gan/generate", params={"num_samples": 4}).json()) == (62, 62)
    assert grid_size(seed_client.get("/diffusion/generate", params={"num_samples": 4, "diffusion_steps": 2}).json()) \
        == (70, 70)


def test_seed_app_keeps_the_seeds_error_codes(seed_client):
    assert seed_client.get("/gan/generate", params={"num_samples": 0}).status_code == 400
    assert seed_client.post("/predict_cifar10", files={"file": ("x.png", b"not an image")}).status_code == 400


def test_batch_sizes_are_read_from_the_metrics_log(tmp_path):
    from loadtests.harness.locust_run import _batch_mean

    log = tmp_path / "ts_log.log"
    log.write_text("old HandlerRequests.Count:9|#ModelName:cnn,Level:Model\n")
    start = log.stat().st_size
    with log.open("a") as fh:
        for n, model in ((4, "cnn"), (8, "cnn_sweep"), (3, "gan"), (6, "cnn")):
            fh.write(f"2026 [INFO] HandlerRequests.Count:{n}|#ModelName:{model},Level:Model|#hostname:vm\n")
    assert _batch_mean(tmp_path, start, "cnn") == pytest.approx((4 + 8 + 6) / 3)
    assert _batch_mean(tmp_path, start, "gan") == 3
    assert _batch_mean(tmp_path, log.stat().st_size, "cnn") is None


def test_profile_samples_of_every_worker_are_pooled_and_bucketed_by_their_innermost_known_frame(tmp_path):
    from loadtests.bench_overhead import summarise_profile

    worker = "<module> (ts/model_service_worker.py:1);"
    lines = [[f"{worker}handle (handlers/base.py:90);run (onnxruntime/session.py:220) 4",
              f"{worker}retrieve_msg (ts/protocol/otf_message_handler.py:33);"
              "_retrieve_buffer (ts/protocol/otf_message_handler.py:181) 3"],
             [f"{worker}handle (handlers/base.py:90);run (onnxruntime/session.py:220) 2",
              f"{worker}handle (handlers/base.py:90);dumps (json/__init__.py:231) 1"]]
    profiles = []
    for i, worker_lines in enumerate(lines):  # one py-spy output per worker of the model
        raw = tmp_path / f"profile-{i}.txt"
        raw.write_text("\n".join(worker_lines) + "\n")
        done = subprocess.Popen(["true"])
        done.out_file = raw
        profiles.append(done)
    shares = summarise_profile(profiles)
    assert shares == {"ONNX Runtime session": 0.6, "idle: waiting for the frontend's next batch": 0.3,
                      "JSON and request envelope": 0.1}
    assert list(shares) == sorted(shares, key=lambda k: -shares[k])


def test_the_samplers_section_names_its_command_and_the_ratios_of_its_medians():
    from loadtests.bench_samplers import render

    measured = {"diffusion": {"ort": 1.0, "torch": 2.5}, "ebm": {"batched": 2.0, "serial": 6.0},
                "largest_s": {"diffusion": 120.0, "ebm": 300.0}, "probe": 20}
    text = render(measured, threads=1, rounds=3, note="a busy machine")
    assert "(`python -m loadtests samplers --threads 1 --rounds 3`)" in text
    assert "| diffusion: 50-step reverse loop, 16 images | ONNX Runtime 1.00 s | eager torch 2.50 s | 2.50x |" in text
    assert "| one batched loop 2.00 s | one at a time 6.00 s | 3.00x |" in text
    assert "extrapolated from 20 steps: diffusion 120 s, ebm 300 s" in text and text.endswith("Note: a busy machine")
