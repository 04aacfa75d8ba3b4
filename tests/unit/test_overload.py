"""The overload driver's pure parts (loadtests/reliability/overload.py): which refusals count as documented, the
Prometheus parsing, the load plan derived from the registry, and the summary. The load itself runs against a real
TorchServe in tests/e2e/test_overload.py."""
from __future__ import annotations

import json

from genai_ops.registry import load_registry
from loadtests.reliability import overload as ov

TS_503 = json.dumps({"code": 503, "type": "ServiceUnavailableException",
                     "message": "Model \"cnn\" has no worker to serve inference request."})


def test_documented_refusals_pass_and_anything_else_is_named():
    assert ov.refusal_problem(503, {}, TS_503) is None
    body = json.dumps({"error": "busy", "field": None, "retry_after_s": 7})
    assert ov.refusal_problem(429, {"Retry-After": "7"}, body) is None
    assert "without a JSON body" in ov.refusal_problem(503, {}, "<html>busy</html>")
    assert "Retry-After" in ov.refusal_problem(429, {}, body)  # our 429 always carries the header
    assert ov.refusal_problem(429, {"Retry-After": "3"}, body) is not None  # header and body must agree
    assert ov.refusal_problem(503, {}, json.dumps({"code": 503, "type": "Other"})) is not None


def test_metric_values_reads_both_label_styles():
    text = "\n".join([
        'genai_cost_held{ModelName="ebm",Level="Model",Hostname="vm",} 224000.0',
        'genai_cost_held{ModelName="diffusion",Level="Model",Hostname="vm",} 5.0',
        'ts_queue_latency_microseconds{model_name="ebm",model_version="default",hostname="vm",} 5.2E8',
        'ts_queue_latency_microseconds{model_name="ebm",model_version="1.0",hostname="vm",} 1.0E6'])
    assert ov.metric_values(text, "genai_cost_held", "ebm") == [224000.0]
    assert sum(ov.metric_values(text, "ts_queue_latency_microseconds", "ebm")) == 5.21e8
    assert ov.metric_values(text, "genai_cost_held", "gan") == []


def test_the_plan_fills_the_queue_or_the_loop_and_leaves_half_a_largest_request_of_the_cost_cap():
    registry = load_registry()
    plans = {p.kind: p for p in ov.plans(registry)}
    assert [plans[k].spec.name for k in ("one-shot", "iterative", "text")] == ["cnn", "ebm", "lstm"]
    cnn = registry["cnn"].model_config
    assert plans["one-shot"].shots[0].clients > cnn["jobQueueSize"] + cnn["batchSize"]
    ebm = plans["iterative"]
    held = sum(b["num_samples"] * b["steps"] for b in ebm.ballast)
    cap = registry["ebm"].handler_config["scheduler"]["max_cost"]
    largest = ov.largest_request(registry["ebm"])
    assert held == cap - largest["num_samples"] * largest["steps"] / 2  # a largest request does not fit now
    sample = registry["ebm"].sample["json"]
    assert held + sample["num_samples"] * sample["steps"] <= cap  # a sample request still does
    assert ebm.expect == (429,) and plans["text"].expect == (503,)
    # the loop's small requests outnumber what fits beside the ballast: some of them are refused too
    assert ebm.shots[0].clients > (cap - held) // (sample["num_samples"] * sample["steps"])


def test_the_summary_counts_refusals_apart_from_failures():
    run = ov._Run(10, 0.0)
    run.results = [("sample", 200, 0.5, None), ("sample", 503, 0.01, None), ("sample", 503, 0.03, None),
                   ("largest", 429, 2.0, None), ("sample", 200, 0.4, "HTTP 200: {\"error\": \"timeout_s\"}"),
                   ("sample", -1, 60.0, "ReadTimeout"), ("sample", 503, 0.02, "HTTP 503 without a JSON body")]
    run.retry_after = [7, 3]
    result = ov.OverloadResult("ebm")
    ov._summarize(result, run)
    assert result.by_status == {"200": 2, "503": 3, "429": 1, "timeout": 1}
    assert result.refusal_latency_s["503"]["max"] == 0.03 and result.refusal_latency_s["429"]["p50"] == 2.0
    assert result.timed_out == 1 and len(result.failed) == 2 and len(result.undocumented) == 1
    assert result.retry_after == [3, 7] and not result.ok
