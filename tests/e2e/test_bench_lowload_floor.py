"""Smokes of the low-load and floor benchmarks: each side answers and the figures come out. One request per
path (lowload) and one short window per side (floor), however slow the machine: a closed-loop client always
sends its first request, and the lowload paths run each request to its end."""
import math

import pytest

from loadtests import bench_floor, bench_lowload

pytestmark = pytest.mark.e2e


def test_lowload_measures_engine_in_process_and_served_for_a_loop_model(served):
    r = bench_lowload.measure("ebm", requests=1, rounds=1, base=served.paths.base)
    assert all(r[k] > 0 and math.isfinite(r[k]) for k in ("engine", "in-process", "served"))
    assert r["slices"] >= 1
    assert "ebm" in bench_lowload.section({"ebm": r}, type("Args", (), {"requests": 1, "rounds": 1})())


def test_the_floor_serves_the_no_op_handler_and_a_model_beside_its_peers_and_splits_torchserve_time(served):
    results = bench_floor.measure([1], seconds=0.5, rounds=1, models=["gan"], base=served.paths.base)
    handler_ms = results.pop("handler_ms")
    assert {side for side, _ in results} == {"TorchServe REST, maxBatchDelay 1", "TorchServe REST, maxBatchDelay 0",
                                            "FastAPI no-op", "TorchServe REST, gan", "FastAPI peer, gan", "seed app, gan"}
    for (side, _), runs in results.items():
        run = runs[0]
        assert run["requests"] >= 1 and run["failures"] == 0, side
        assert sum(run["cpu_ms"].values()) > 0, side
        if side.startswith("TorchServe"):  # the frontend's counters moved with this window's requests
            assert 0 <= run["queued_ms"] < run["in_torchserve_ms"] < run["mean_ms"], (side, run)
    assert handler_ms["gan"] > 0
    args = type("Args", (), {"users": "1", "seconds": 0.5, "rounds": 1, "models": "gan"})()
    text = bench_floor.section({**results, "handler_ms": handler_ms}, args)
    assert "| TorchServe REST, gan | 1 |" in text and "worker round trip" in text and "gan " in text.split("in-process")[-1]
