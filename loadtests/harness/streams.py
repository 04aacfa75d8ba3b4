"""Streaming clients that arrive at random times (exponential think times between a client's requests), served
over HTTP or driven in-process through loadtests/inprocess.py, and the summary of their token traces: aggregate
tokens/s, time to first token, inter-token time."""
from __future__ import annotations

import dataclasses
import json
import random
import statistics
import threading
import time
from typing import Callable

from loadtests.inprocess import Frontend


@dataclasses.dataclass
class Trace:
    sent: float
    first: float | None = None
    last: float | None = None
    tokens: int = 0


def served_clients(server, path: str, body: Callable[[int], dict], clients: int, per_client: int, think_s: float,
                   seed: int) -> tuple[list[Trace], float]:
    """`clients` threads, each POSTing `per_client` streaming requests (`body(i)`) to `path` after exponential think
    times; (traces, wall seconds)."""
    traces: list[Trace] = []
    lock = threading.Lock()

    def client(c: int):
        rng = random.Random(seed + c)
        for k in range(per_client):
            time.sleep(rng.expovariate(1.0 / think_s))
            trace = Trace(time.perf_counter())
            with server.call("POST", "inference", path, json=body(c * 100 + k),
                             stream=True, timeout=600) as r:
                r.raise_for_status()
                for line in r.iter_lines():
                    msg = json.loads(line) if line else {}
                    if msg.get("type") == "token":
                        now = time.perf_counter()
                        trace.first = trace.first or now
                        trace.last = now
                        trace.tokens += 1  # one line per token with these prompts (ASCII-only tokens)
            with lock:
                traces.append(trace)

    start = time.perf_counter()
    workers = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return traces, time.perf_counter() - start


def raw_clients(handler, context, body: Callable[[int], dict], clients: int, per_client: int, think_s: float,
                seed: int) -> tuple[list[Trace], float]:
    """The same workload in-process: the handler and its scheduler driven by loadtests/inprocess.py, no server."""
    fe = Frontend(handler, context)
    rngs = [random.Random(seed + c) for c in range(clients)]
    start = time.perf_counter()
    next_at = {c: start + rngs[c].expovariate(1.0 / think_s) for c in range(clients)}
    left = {c: per_client for c in range(clients)}
    live: dict[str, tuple[int, Trace, int]] = {}  # rid -> (client, trace, chunks seen)
    traces = []
    while live or any(left.values()):
        now = time.perf_counter()
        for c in range(clients):
            if left[c] and c not in {v[0] for v in live.values()} and now >= next_at[c]:
                rid = fe.submit(body(c * 100 + per_client - left[c]))
                live[rid] = (c, Trace(now), 0)
                left[c] -= 1
        if not fe.running and not fe.waiting:
            time.sleep(0.001)
            continue
        fe.step()
        now = time.perf_counter()
        for rid, (c, trace, seen) in list(live.items()):
            resp = fe.responses[rid]
            new_lines = "".join(resp.chunks[seen:]).count('"type": "token"')
            if new_lines:
                trace.first = trace.first or now
                trace.last = now
                trace.tokens += new_lines
            live[rid] = (c, trace, len(resp.chunks))
            if resp.done:
                traces.append(trace)
                del live[rid]
                next_at[c] = now + rngs[c].expovariate(1.0 / think_s)
    return traces, time.perf_counter() - start


def summarise(traces: list[Trace], wall: float) -> dict:
    ttft = sorted(t.first - t.sent for t in traces)
    itl = [(t.last - t.first) / (t.tokens - 1) for t in traces if t.tokens > 1]
    return {"tok_s": sum(t.tokens for t in traces) / wall, "ttft_p50": _pct(ttft, 50), "ttft_p99": _pct(ttft, 99),
            "itl_p50": statistics.median(itl) if itl else float("nan"), "requests": len(traces)}


def _pct(values: list[float], p: int) -> float:
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]
