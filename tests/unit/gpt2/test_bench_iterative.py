"""The iterative benchmark's client drivers (loadtests/harness/streams.py, with loadtests/bench_iterative.py's gpt2
bodies): the in-process client driver on a tiny GPT-2 and the summary arithmetic. Speeds are measured by
`make bench-iterative`, never asserted here."""
import pytest

from loadtests.bench_iterative import gpt2_body
from loadtests.harness.streams import Trace, raw_clients, summarise


def test_summary_reports_aggregate_tokens_first_token_and_inter_token_times():
    traces = [Trace(0.0, first=0.1, last=1.1, tokens=11), Trace(0.5, first=0.8, last=1.3, tokens=6)]
    out = summarise(traces, wall=2.0)
    assert out["tok_s"] == pytest.approx(8.5) and out["requests"] == 2
    assert out["ttft_p50"] == pytest.approx(0.1) and out["ttft_p99"] == pytest.approx(0.3)
    assert out["itl_p50"] == pytest.approx(0.1)  # both requests: 0.1 s per token after the first


def test_raw_clients_run_every_request_of_every_client_with_its_tokens(gpt2_handler, monkeypatch):
    import loadtests.bench_iterative as bench

    monkeypatch.setattr(bench, "NEW_TOKENS", 5)
    h, ctx = gpt2_handler("1.0")
    traces, wall = raw_clients(h, ctx, gpt2_body, clients=3, per_client=2, think_s=0.01, seed=1)
    assert len(traces) == 6 and wall > 0
    assert all(t.first is not None and t.first >= t.sent and 1 <= t.tokens <= 5 for t in traces)
