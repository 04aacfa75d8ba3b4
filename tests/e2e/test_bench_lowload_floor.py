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


def test_the_floor_serves_the_no_op_handler_at_both_delays_beside_the_fastapi_route():
    results = bench_floor.measure([1], seconds=0.5, rounds=1)
    assert {side for side, _ in results} == {"TorchServe REST, maxBatchDelay 1", "TorchServe REST, maxBatchDelay 0",
                                            "FastAPI no-op"}
    for runs in results.values():
        assert runs[0]["requests"] >= 1 and runs[0]["failures"] == 0
