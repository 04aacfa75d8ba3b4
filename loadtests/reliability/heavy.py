"""Heavy requests in one burst: the bound on how long an accepted request waits, measured with large requests.

`clients` threads each send one large request at the same moment (diffusion 16 images x 50 steps by default) and
wait for its answer. What the bundle promises, and what is checked here:
  * every request is answered: 200, or a refusal with its documented JSON body (our scheduler's 429 with
    Retry-After, or TorchServe's 503 when its job queue is full);
  * no 200 takes longer than the model's bound, `handler_config.scheduler.max_wait_s` (the worker admits a request
    only when the work it holds and the request's own drain within that bound at the rate it measures, and
    TorchServe hands it every queued request at the next slice: models.yaml `batchSize` = `jobQueueSize`);
  * every refusal comes within `refuse_within_s` (5 s): none waits in a queue before being told no;
  * afterwards the model answers its small sample request.
No client retries: a refused one stops, so the run is bounded by the bound itself.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from genai_ops.registry import REPO_ROOT, ModelSpec, load_registry
from genai_ops.server import Server
from loadtests.harness.report import add_docs_option, load_line, publish
from loadtests.reliability.overload import OVER_COST, QUEUE_FULL, _Connection, refusal_problem

HEAVY = {"diffusion": {"num_samples": 16, "diffusion_steps": 50}}  # model -> the heavy request of the burst
SECTION = ("reliability-heavy", "Overload: heavy requests")  # its place in docs/RELIABILITY.md
RELIABILITY = REPO_ROOT / "docs" / "RELIABILITY.md"


@dataclass
class HeavyResult:
    model: str
    request: dict
    clients: int
    bound_s: float
    refuse_within_s: float
    by_status: Counter = field(default_factory=Counter)
    ok_latency_s: list[float] = field(default_factory=list)
    refusal_latency_s: list[float] = field(default_factory=list)
    retry_after: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    small_after: int | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (not self.problems and self.by_status["200"] > 0 and self.small_after == 200
                and set(self.by_status) <= {"200", str(OVER_COST), str(QUEUE_FULL)}
                and max(self.ok_latency_s, default=0) <= self.bound_s
                and max(self.refusal_latency_s, default=0) <= self.refuse_within_s)


def _one(server: Server, spec: ModelSpec, body: bytes, start: threading.Barrier, timeout: float,
         result: HeavyResult, lock: threading.Lock) -> None:
    conn = _Connection(server, spec, timeout)
    try:
        start.wait(timeout=60)
        began = time.monotonic()
        try:
            r = conn.post(body, "application/json")
            status, text, headers = r.status_code, r.text, r.headers
        except OSError as exc:  # no answer within the client timeout, or the connection broke
            status, text, headers = -1, f"{type(exc).__name__}: {exc}", {}
        elapsed = time.monotonic() - began
    finally:
        conn.close()
    with lock:
        result.by_status[str(status) if status > 0 else "no answer"] += 1
        if status == 200:
            result.ok_latency_s.append(elapsed)
            try:  # a body that is not JSON is a problem to report, not an exception that loses the request
                body = json.loads(text)
            except ValueError:
                body = {"error": "not JSON"}
            if "error" in body:
                result.problems.append(f"200 carrying an error: {text[:160]}")
        elif status in (OVER_COST, QUEUE_FULL):
            result.refusal_latency_s.append(elapsed)
            problem = refusal_problem(status, headers, text)
            if problem:
                result.problems.append(problem)
            if headers.get("Retry-After", "").isdigit():
                result.retry_after.append(int(headers["Retry-After"]))
        else:
            result.problems.append(f"HTTP {status}: {text[:160]}")


def heavy_burst(server: Server, spec: ModelSpec, clients: int = 160, request: dict | None = None,
                refuse_within_s: float = 5.0, bound_s: float | None = None) -> HeavyResult:
    """`bound_s`: the server's max_wait_s when it is not the registry's (a server started with GENAI_MAX_WAIT_S)."""
    request = {**(request or HEAVY[spec.name])}
    bound = float(bound_s or spec.handler_config["scheduler"]["max_wait_s"])
    result = HeavyResult(spec.name, request, clients, bound, refuse_within_s)
    start, lock = threading.Barrier(clients), threading.Lock()
    threads = [threading.Thread(target=_one, daemon=True,
                                args=(server, spec, json.dumps({**request, "seed": i}).encode(), start,
                                      bound + 120, result, lock)) for i in range(clients)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:  # each thread ends by its client timeout at the latest
        t.join(timeout=max(1.0, began + bound + 180 - time.monotonic()))
    result.seconds = time.monotonic() - began
    result.small_after = server.predict(spec, timeout=bound + 60).status_code
    return result


def _p(values: list[float], q: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))]:.1f}"


def heavy_rows(results: list[HeavyResult]) -> list[str]:
    rows = ["| model | burst | answers | 200 in (p50 / max) | bound (max_wait_s) | refused in (p50 / max) | "
            "Retry-After seen | small request after | result |", "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        req = " x ".join(str(v) for v in r.request.values())
        retry = f"{min(r.retry_after)}-{max(r.retry_after)} s" if r.retry_after else "none"
        rows.append(f"| {r.model} | {r.clients} at once, {req} | "
                    f"{', '.join(f'{k}: {v}' for k, v in sorted(r.by_status.items()))} | "
                    f"{_p(r.ok_latency_s, 0.5)} / {max(r.ok_latency_s, default=0):.1f} s | {r.bound_s:g} s | "
                    f"{_p(r.refusal_latency_s, 0.5)} / {max(r.refusal_latency_s, default=0):.1f} s "
                    f"(at most {r.refuse_within_s:g}) | {retry} | {r.small_after} | "
                    f"{'pass' if r.ok else '**FAIL**'} |")
    rows += [f"- {r.model}: {p}" for r in results for p in r.problems[:5]]
    return rows


def heavy_section(server: Server, registry: dict[str, ModelSpec]) -> tuple[list[str], bool]:
    """The reliability report's section (between the markers `python -m loadtests heavy` replaces alone)."""
    results = [heavy_burst(server, registry[name]) for name in HEAVY if name in registry]
    key = SECTION[0]
    return [f"<!-- bench:{key} -->", *heavy_rows(results), f"<!-- /bench:{key} -->"], all(r.ok for r in results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests heavy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="diffusion", choices=sorted(HEAVY))
    parser.add_argument("--clients", type=int, default=160)
    add_docs_option(parser, RELIABILITY)
    args = parser.parse_args(argv)
    server = Server()
    if not server.healthy():
        print("TorchServe is not running (or not healthy): `make serve` first", file=sys.stderr)
        return 1
    load = load_line()
    result = heavy_burst(server, load_registry()[args.model], args.clients)
    rows = heavy_rows([result])
    text = "\n".join([f"Measured {time.strftime('%Y-%m-%d %H:%M')} UTC with `python -m loadtests heavy --model "
                      f"{args.model} --clients {args.clients}` against `make serve`; {load}", "", *rows])
    publish(args.docs, *SECTION, text)
    return 0 if result.ok else 1
