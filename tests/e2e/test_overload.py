"""Load above capacity on one model of each class through the shared real TorchServe: every
refusal is TorchServe's 503 (job queue full) or our scheduler's 429 with Retry-After, each with its documented
JSON body; every accepted request succeeds; nothing runs past its client timeout; the queue really filled; no
worker died. Bounded: a few seconds of load per model, then the model drains (loadtests/reliability/overload.py)."""
from __future__ import annotations

import re

import pytest

from loadtests.harness.servers import private_server
from loadtests.reliability.heavy import heavy_burst
from loadtests.reliability.overload import plans, run_plan

pytestmark = pytest.mark.e2e


def worker_pids(served, name: str) -> set[int]:
    return {w["pid"] for w in served.server.call("GET", "management", f"/models/{name}").json()[0]["workers"]}


@pytest.mark.parametrize("kind", ["one-shot", "iterative", "text"])
def test_over_capacity_every_refusal_is_documented_and_every_accepted_request_succeeds(served, kind):
    plan = {p.kind: p for p in plans(served.registry)}[kind]
    before = worker_pids(served, plan.spec.name)
    r = run_plan(served.server, plan, seconds=4, max_requests=1500)
    assert set(r.by_status) <= {"200", "503", "429"}, r.by_status
    assert r.by_status["200"] > 0 and all(r.by_status[str(s)] > 0 for s in plan.expect), r.by_status
    assert r.undocumented == [] and r.failed == [] and r.timed_out == 0
    if not plan.spec.continuous:  # TorchServe's queue really filled, as Prometheus shows
        assert max(r.queue_pending) > 0 and r.queue_mean > 0
    assert r.drained  # nothing left running or queued afterwards
    if plan.ballast:  # the scheduler's cost cap: a largest request refused with a Retry-After, the gauge near the cap
        assert r.ballast == [200] * len(plan.ballast) and min(r.retry_after) >= 1
        cap = plan.spec.handler_config["scheduler"]["max_cost"]
        assert cap / 2 < max(r.cost_held) <= cap
    assert worker_pids(served, plan.spec.name) == before
    assert served.server.predict(plan.spec).status_code == 200


def test_queue_depth_metrics_are_on_the_prometheus_endpoint(served):
    """genai_cost_held (our scheduler's work held) for the iterative models; TorchServe's queue latency counter,
    whose rate is the mean frontend queue depth, for every model."""
    for name in ("ebm", "cnn"):
        assert served.server.predict(served.spec(name)).status_code == 200
    text = served.server.call("GET", "metrics", "/metrics", token=None).text
    assert re.search(r'^genai_cost_held\{[^}]*ModelName="ebm"[^}]*\} 0\.0$', text, re.M)  # idle again: nothing held
    assert re.search(r'^ts_queue_latency_microseconds\{model_name="cnn"', text, re.M)


def test_a_burst_of_heavy_requests_is_admitted_within_the_time_bound_and_the_rest_refused_before_any_finishes(served):
    """Every queued request reaches the scheduler at the next slice (batchSize = jobQueueSize) and admission counts
    time (max_wait_s, here 3 s for a short test): 24 diffusion requests of 16 x 20 at once, about 20 s of work on
    this machine, are a few admitted and the rest refused with 429 + Retry-After before the first admitted one
    finishes, so none waited behind the admitted work. The 160 x 16 x 50 burst against `make serve` is
    `python -m loadtests heavy` (docs/RELIABILITY.md)."""
    spec = served.spec("diffusion")
    with private_server([(spec, spec.default_version)], store=served.paths.model_store, max_wait_s=3) as server:
        r = heavy_burst(server, spec, clients=24, request={"num_samples": 16, "diffusion_steps": 20}, bound_s=3)
    assert r.problems == [] and set(r.by_status) <= {"200", "429"}, (r.by_status, r.problems)
    assert r.by_status["200"] >= 1 and r.by_status["429"] >= 1, r.by_status
    assert max(r.refusal_latency_s) < min(r.ok_latency_s)  # told no before any admitted request was done
    assert min(r.retry_after) >= 1 and r.small_after == 200
