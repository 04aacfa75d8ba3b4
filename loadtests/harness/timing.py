"""The one way the benchmarks time in-process work: single calls, calls per second in a window, and the median of
rounds that alternate the variants, so drift on the machine (other jobs, heat) hits every variant alike."""
from __future__ import annotations

import statistics
import time
from typing import Callable


def seconds(fn: Callable) -> float:
    """Wall seconds of one call of `fn`."""
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def calls_per_s(fn: Callable, window_s: float) -> float:
    """Calls of `fn` per second, repeated for `window_s` after one untimed warm-up call."""
    fn()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < window_s:
        fn()
        n += 1
    return n / (time.perf_counter() - start)


def alternate(rounds: int, variants: dict[str, Callable], measure: Callable[[Callable], float] = seconds,
              warmup: bool = True, swap: bool = False) -> dict[str, float]:
    """Median of `measure(fn)` per variant over `rounds` rounds, each round measuring every variant in turn.
    `warmup`: one untimed call of each first; `swap`: odd rounds take the variants in reverse order."""
    if warmup:
        for fn in variants.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for r in range(rounds):
        order = list(variants.items())
        for name, fn in order[::-1] if swap and r % 2 else order:
            times[name].append(measure(fn))
    return {name: statistics.median(ts) for name, ts in times.items()}


def per_call(window_s: float) -> Callable[[Callable], float]:
    """A `measure` for `alternate`: seconds per call over a `window_s` window (calls_per_s, inverted)."""
    return lambda fn: 1.0 / calls_per_s(fn, window_s)


def rotated(items, k: int) -> list:
    """`items` rotated left by `k`: round k's order when rounds rotate which variant goes first."""
    items = list(items)
    return items[k % len(items):] + items[:k % len(items)]


def ab(before: Callable, after: Callable, rounds: int, window_s: float) -> tuple[float, float]:
    """Median seconds per call of each side of a pair, timed alternately (before first in even rounds)."""
    t = alternate(rounds, {"before": before, "after": after}, per_call(window_s), warmup=False, swap=True)
    return t["before"], t["after"]


def median_ms(fn: Callable, repeats: int) -> float:
    """Median milliseconds of `repeats` calls of `fn`, after one untimed warm-up call."""
    return alternate(repeats, {"fn": fn})["fn"] * 1000.0
