"""The one timing helper every benchmark suite uses (loadtests/harness/timing.py): which variant is measured when,
what is warmed up, and that medians and rates come out of the measurements. Durations are injected, so nothing
here depends on how fast the machine is."""
from __future__ import annotations

import pytest

from loadtests.harness import timing


def recorder(log: list, name: str):
    return lambda: log.append(name)


def test_alternate_warms_each_variant_once_then_measures_them_in_turn_every_round():
    log = []
    fake = iter([3.0, 10.0, 1.0, 30.0, 2.0, 20.0])
    out = timing.alternate(3, {"a": recorder(log, "a"), "b": recorder(log, "b")},
                           measure=lambda fn: (fn(), next(fake))[1])
    assert log == ["a", "b"] + ["a", "b"] * 3
    assert out == {"a": 2.0, "b": 20.0}  # medians of (3, 1, 2) and (10, 30, 20)


def test_alternate_can_skip_the_warm_up_and_swap_the_order_in_odd_rounds():
    log = []
    timing.alternate(3, {"a": recorder(log, "a"), "b": recorder(log, "b")}, measure=lambda fn: (fn(), 1.0)[1],
                     warmup=False, swap=True)
    assert log == ["a", "b", "b", "a", "a", "b"]


def test_ab_is_seconds_per_call_of_each_side_before_first_in_even_rounds(monkeypatch):
    rates = {"before": 4.0, "after": 8.0}
    order = []

    def fake_rate(fn, window_s):
        order.append(fn())
        return rates[order[-1]]

    monkeypatch.setattr(timing, "calls_per_s", fake_rate)
    before, after = timing.ab(lambda: "before", lambda: "after", rounds=2, window_s=0.5)
    assert (before, after) == (0.25, 0.125)
    assert order == ["before", "after", "after", "before"]


def test_calls_per_s_warms_up_then_counts_calls_in_its_window():
    calls = []
    rate = timing.calls_per_s(lambda: calls.append(1), 0.05)
    assert rate > 0 and len(calls) >= 2  # the untimed warm-up call and at least one timed call


def test_median_ms_and_seconds_time_real_calls(monkeypatch):
    ticks = iter([0.0, 0.002, 1.0, 1.004, 2.0, 2.003, 5.0, 5.5])
    monkeypatch.setattr(timing.time, "perf_counter", lambda: next(ticks))
    assert timing.median_ms(lambda: None, 3) == pytest.approx(3.0)  # warm-up untimed; median of 2, 4 and 3 ms
    assert timing.seconds(lambda: None) == pytest.approx(0.5)
