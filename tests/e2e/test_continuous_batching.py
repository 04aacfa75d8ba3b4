"""Continuous batching through a real TorchServe (continuousBatching: true): a small request finishes while a big
one is still running, a client that disconnects stops costing steps (seen in Prometheus), work over the cost
cap is answered 429 with Retry-After at once, and the scheduler's metrics reach :8082."""
from __future__ import annotations

import json
import re
import threading
import time

import pytest
import requests

pytestmark = pytest.mark.e2e

STEPS = {"ebm": "steps", "diffusion": "diffusion_steps", "gpt2_qa": "max_new_tokens"}


def open_stream(served, model: str, body: dict) -> requests.Response:
    """A request whose connection we hold (and may close before its answer)."""
    return served.server.call("POST", "inference", f"/predictions/{model}", json=body, stream=True, timeout=600)


def metric(served, name: str, model: str) -> float | None:
    text = served.server.call("GET", "metrics", "/metrics", token=None).text
    values = [float(m.group(1)) for m in re.finditer(rf'^{name}\{{[^}}]*ModelName="{model}"[^}}]*\}} (\S+)$', text, re.M)]
    return sum(values) if values else None


def wait_for(predicate, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not reached")


@pytest.mark.parametrize("model, big, small", [
    ("diffusion", {"num_samples": 16, "diffusion_steps": 400, "seed": 1}, {"num_samples": 1, "diffusion_steps": 5}),
    ("ebm", {"num_samples": 64, "steps": 1000, "seed": 1}, {"num_samples": 1, "steps": 5}),
])
def test_a_small_request_finishes_while_a_big_one_runs_and_its_bytes_match_alone(served, model, big, small):
    small = {**small, "seed": 5}
    alone = served.server.call("POST", "inference", f"/predictions/{model}", json=small).json()
    big_resp = open_stream(served, model, big)  # the status line comes with the first slice
    assert big_resp.status_code == 200
    joined = served.server.call("POST", "inference", f"/predictions/{model}", json=small)
    assert joined.status_code == 200 and joined.json()["image_base64_png"] == alone["image_base64_png"]
    assert int(joined.headers["X-Batch-Size"]) == 2  # it shared the steps of the running request
    assert metric(served, "genai_num_requests_running", model) >= 1  # the big one is still running
    big_resp.close()  # the client goes away: its rows leave at the next call


@pytest.mark.parametrize("stream", [False, True])
def test_a_disconnected_client_stops_costing_steps(served, stream):
    model = "diffusion"
    before = metric(served, "genai_requests_abandoned_total", model) or 0
    keep = open_stream(served, model, {"num_samples": 1, "diffusion_steps": 1000, "seed": 2})
    gone = open_stream(served, model, {"num_samples": 8, "diffusion_steps": 1000, "seed": 3, "stream": stream,
                                       "preview_every": 1})
    if stream:
        next(gone.iter_lines())  # a preview arrived: it is running
    gone.close()
    wait_for(lambda: (metric(served, "genai_requests_abandoned_total", model) or 0) >= before + 1)
    wait_for(lambda: metric(served, "genai_num_requests_running", model) == 1)  # only `keep` is stepped now
    keep.close()


def test_work_over_the_cost_cap_is_refused_at_once_with_retry_after(served):
    model = "ebm"  # max_cost 256000 image-steps: four of the largest request
    largest = {"num_samples": 64, "steps": 1000}
    held = [open_stream(served, model, {**largest, "seed": i}) for i in range(4)]
    try:
        refused = served.server.call("POST", "inference", f"/predictions/{model}", json={**largest, "seed": 9})
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        body = refused.json()
        assert body["retry_after_s"] == int(refused.headers["Retry-After"]) and "image-steps" in body["error"]
        assert metric(served, "genai_cost_refused_total", model) >= 64000
    finally:
        for resp in held:
            resp.close()


def test_scheduler_metrics_reach_prometheus(served):
    served.server.call("POST", "inference", "/predictions/gpt2_qa",
                       json={"question": "Where?", "max_new_tokens": 4, "stream": True, "seed": 1}).raise_for_status()
    text = served.server.call("GET", "metrics", "/metrics", token=None).text
    for name in ("genai_time_to_first_token_seconds", "genai_inter_token_latency_seconds",
                 "genai_request_queue_time_seconds"):
        assert re.search(rf'^{name}_count\{{[^}}]*ModelName="gpt2_qa"', text, re.M), name
    assert re.search(r'^genai_cost_admitted_total\{[^}]*ModelName="gpt2_qa"', text, re.M)


def test_timeout_s_reaches_the_client(served):
    r = served.server.call("POST", "inference", "/predictions/diffusion",
                           json={"num_samples": 4, "diffusion_steps": 1000, "timeout_s": 0.5})
    assert r.status_code == 200  # the status line went out with the first slice
    body = r.json()
    assert body["status"] == 408 and body["field"] == "timeout_s" and "deadline" in body["error"]


def test_ctl_describe_of_an_iterative_model_reads_its_card_and_leaves_the_model_serving(served):
    """A customized describe would stall a continuous-batching model for good (TorchServe 0.12): ctl describes
    it plainly, takes the card from the archive, and the model keeps answering."""
    import subprocess
    import sys

    from genai_ops.registry import REPO_ROOT

    out = subprocess.run([sys.executable, "-m", "genai_ops.ctl", "--workdir", str(served.server.workdir),
                          "describe", "diffusion"],
                         capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert out.returncode == 0, out.stderr
    [entry] = json.loads(out.stdout)
    assert entry["customizedMetadata"]["model_card"]["name"] == "diffusion"
    r = served.server.call("POST", "inference", "/predictions/diffusion", json={"num_samples": 1, "diffusion_steps": 2},
                           timeout=60)
    assert r.status_code == 200
