"""The short version of `make soak`: every served model's sample request under mixed load for a bounded time
against a real TorchServe, with RSS/PSS of the JVM and of each worker sampled (the reliability soak, in minutes
rather than 30)."""
from __future__ import annotations

import pytest

from loadtests.reliability.soak import soak, svg_plot

pytestmark = pytest.mark.e2e


def test_a_short_soak_answers_everything_restarts_no_worker_and_measures_every_process(served):
    result = soak(served.server, list(served.registry.values()), seconds=20, clients=2, interval=5, warmup=5)
    assert result["requests"] > 0 and set(result["by_status"]) == {200}, result["by_status"]
    assert result["worker_restarts"] == 0
    roles = {p["role"].split()[0] for p in result["processes"]}
    assert roles >= {"jvm", *served.registry}, roles  # every model's worker was found and measured
    for p in result["processes"]:
        assert 0 < p["uss_mb"] <= p["pss_mb"] <= p["rss_mb"], p  # USS <= PSS <= RSS for any process
    last = result["samples"][-1]
    assert last["pss_total"] < last["rss_total"]  # the workers share libraries: PSS counts them once
    assert "<polyline" in svg_plot(result["samples"], result["warmup"])
    # TorchServe's worker protocol imports torch at module level; worker_site/sitecustomize.py defers it, so the
    # workers that run ONNX Runtime graphs never map libtorch after serving, and ebm (a torch model) still does
    libraries = {p["role"].split()[0]: p["libraries"] for p in result["processes"]}
    for name in {"cnn", "gan", "lstm", "diffusion", "gpt2_qa"} & set(libraries):
        assert "torch" not in libraries[name] and "onnxruntime" in libraries[name], (name, libraries[name])
    if "ebm" in libraries:
        assert "torch" in libraries["ebm"], libraries["ebm"]
