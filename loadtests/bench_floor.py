"""TorchServe's own floor: a handler that does nothing, served (python -m loadtests floor; `make bench-floor`).

What a request costs when no model runs, side by side in one run:
  TorchServe REST, maxBatchDelay 1   the no-op handler (loadtests/floor/noop_handler.py) with cnn's batching
                                     (batchSize 16, maxBatchDelay 1 ms: a lone request waits 1 ms for company)
  TorchServe REST, maxBatchDelay 0   the same with no wait (TorchServe 0.12 then batches at most 2 requests:
                                     wlm/Model.java stops polling once the delay is spent)
  FastAPI no-op                      the FastAPI peer's stack (uvicorn, one process) with a route that does
                                     nothing (loadtests/floor/noop_app.py)
And, for each of `--models` (default cnn and gan), the real model beside it:
  TorchServe REST, <model>           its archive with the registry's batching and workers
  FastAPI peer, <model>              loadtests/peer_fastapi.py on the same artifacts
  seed app, <model>                  loadtests/seed_app.py (eager torch on the checkpoints, one request at a time)
Closed-loop clients on keep-alive http.client connections (a lighter client than Locust, so the floor is the
server's), `seconds` per load, rounds alternating the sides; medians of the rounds. At 1 user this is the time a
lone request spends in the server's own path, which no handler change can remove.

Where a TorchServe request's time goes comes from the frontend's own counters (ts_inference_latency_microseconds,
ts_queue_latency_microseconds, ts_inference_requests_total on the metrics port), read before and after each
window: from the job's creation to its batch leaving for a worker (queued, the batch delay included), from then
to the response being written (the worker round trip: the socket both ways, the Python worker, the handler),
and what the client saw beyond both (HTTP in and out, Netty, the client itself). Server CPU per answered request
comes from the process groups' CPU time over the same window. Writes the `serving-floor` section of
docs/BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from genai_ops.registry import REPO_ROOT, Paths, load_registry
from genai_ops.server import Server, free_ports
from loadtests.harness.handlers import raw_rates
from loadtests.harness.procs import ProcessGroups, torchserve_groups, tree_group
from loadtests.harness.prometheus import metric_values
from loadtests.harness.report import add_docs_option, platform_line, publish
from loadtests.harness.seed_requests import seed_request
from loadtests.harness.servers import defaults, private_server, seed_app
from loadtests.harness.timing import rotated
from loadtests.peer_common import peer_server

HANDLER = REPO_ROOT / "loadtests" / "floor" / "noop_handler.py"
BODY = b'{"x": 1}'


def closed_loop(host: str, port: int, path: str, headers: dict, users: int, seconds: float, body: bytes | None = BODY,
                method: str = "POST") -> dict:
    """`users` clients each sending the next request as soon as the last is answered, for `seconds` (each at
    least one request)."""
    latencies: list[float] = []
    failures = [0]
    lock, stop_at = threading.Lock(), time.monotonic() + seconds

    def client() -> None:
        conn, mine, bad = http.client.HTTPConnection(host, port, timeout=30), [], 0
        while True:  # every client sends at least once, however late its thread starts on a slow machine
            began = time.perf_counter()
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            r.read()
            mine.append(time.perf_counter() - began)
            bad += r.status != 200
            if time.monotonic() >= stop_at:
                break
        conn.close()
        with lock:
            latencies.extend(mine)
            failures[0] += bad

    threads = [threading.Thread(target=client) for _ in range(users)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 60)
    elapsed = time.monotonic() - began
    ordered = sorted(latencies)
    return {"req_s": len(ordered) / elapsed, "mean_ms": 1000 * statistics.fmean(ordered) if ordered else float("nan"),
            "p50_ms": 1000 * ordered[len(ordered) // 2],
            "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], "failures": failures[0],
            "requests": len(ordered)}


def noop_archive(dest: Path) -> Path:
    subprocess.run([str(Path(sys.executable).parent / "torch-model-archiver"), "--model-name", "noop",
                    "--version", "1.0", "--handler", str(HANDLER), "--export-path", str(dest), "--force"],
                   check=True, env={**os.environ, "TMPDIR": str(dest)})
    return dest / "noop.mar"


@contextmanager
def fastapi_noop():
    """The FastAPI no-op app on a free port; yields (port, pid)."""
    (port,) = free_ports(1)
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "loadtests.floor.noop_app:app", "--host", "127.0.0.1",
                             "--port", str(port), "--log-level", "warning"], cwd=REPO_ROOT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/ping")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the FastAPI no-op app did not start") from None
                time.sleep(0.2)
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


FRONTEND = ("ts_inference_requests_total", "ts_inference_latency_microseconds", "ts_queue_latency_microseconds")


@dataclass
class Side:
    """One server path under load: where to send, what, whose CPU to charge and (TorchServe) whose counters."""

    host: str
    port: int
    path: str
    headers: dict
    body: bytes | None
    cpu: ProcessGroups
    server: Server | None = None  # TorchServe: its frontend counters split the time
    model: str = ""
    method: str = "POST"

    def counters(self) -> dict[str, float]:
        if self.server is None:
            return {}
        text = self.server.call("GET", "metrics", "/metrics", token=None, timeout=10).text
        return {name: sum(metric_values(text, name, self.model)) for name in FRONTEND}

    def load(self, users: int, seconds: float) -> dict:
        cpu, counters = self.cpu.cpu_seconds(), self.counters()
        result = closed_loop(self.host, self.port, self.path, self.headers, users, seconds, self.body, self.method)
        answered = max(1, result["requests"] - result["failures"])
        result["cpu_ms"] = {g: 1000 * (t - cpu[g]) / answered for g, t in self.cpu.cpu_seconds().items()}
        if self.server is not None:
            after = self.counters()
            jobs = max(1.0, after[FRONTEND[0]] - counters[FRONTEND[0]])
            result["in_torchserve_ms"] = (after[FRONTEND[1]] - counters[FRONTEND[1]]) / jobs / 1000
            result["queued_ms"] = (after[FRONTEND[2]] - counters[FRONTEND[2]]) / jobs / 1000
        return result


def model_store(store: Path, models: list[str], base: Path) -> None:
    """Copy each model's default archive from `base`'s model_store into `store` (beside the no-op archive)."""
    registry = load_registry()
    for name in models:
        spec = registry[name]
        shutil.copy(Paths(base).model_store / spec.mar_file(spec.default_version), store)


def measure(users: list[int], seconds: float, rounds: int, models: list[str] = (), base: Path | None = None) -> dict:
    """{(side, users): [one result per round]}; `handler_ms` maps each model to its handler's in-process time
    for one request, measured after the servers have stopped."""
    out: dict = {}
    base = Path(base or REPO_ROOT)
    registry = load_registry()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        store = Path(tmp)
        noop_archive(store)
        model_store(store, list(models), base)
        server = stack.enter_context(private_server(defaults(list(models)), store=store))
        noop_port, noop_pid = stack.enter_context(fastapi_noop())
        for delay in (1, 0):
            server.manage("POST", "/models", f"register noop_d{delay}", ok=(200, 201), timeout=120, params={
                "url": "noop.mar", "model_name": f"noop_d{delay}", "batch_size": 16,
                "max_batch_delay": delay, "initial_workers": 1, "synchronous": "true"})
        token = {"Authorization": f"Bearer {server.token('inference')}", "Content-Type": "application/json"}
        torchserve = ProcessGroups(torchserve_groups(server.pid()))  # every worker has started by now
        port = server.ports["inference"]
        sides = {f"TorchServe REST, maxBatchDelay {d}": Side(server.host, port, f"/predictions/noop_d{d}", token, BODY,
                                                             torchserve, server, f"noop_d{d}") for d in (1, 0)}
        sides["FastAPI no-op"] = Side("127.0.0.1", noop_port, "/predictions/noop", {"Content-Type": "application/json"},
                                      BODY, ProcessGroups(tree_group("fastapi", noop_pid)))
        if models:
            url, peer = stack.enter_context(peer_server("fastapi", list(models), base=base))
            peer_port = int(url.rsplit(":", 1)[1])
            peer_cpu = ProcessGroups(tree_group("fastapi", peer.pid))
            seed_url, seed = stack.enter_context(seed_app(list(models), project=base))
            seed_port = int(seed_url.rsplit(":", 1)[1])
            seed_cpu = ProcessGroups(tree_group("seed", seed.pid))
            for name in models:
                body, content_type = registry[name].sample_body()
                sides[f"TorchServe REST, {name}"] = Side(server.host, port, f"/predictions/{name}",
                                                         {**token, "Content-Type": content_type}, body, torchserve,
                                                         server, name)
                sides[f"FastAPI peer, {name}"] = Side("127.0.0.1", peer_port, f"/predictions/{name}",
                                                      {"Content-Type": content_type}, body, peer_cpu)
                method, path, seed_body, seed_headers = seed_request(registry[name])
                sides[f"seed app, {name}"] = Side("127.0.0.1", seed_port, path, seed_headers, seed_body, seed_cpu,
                                                  method=method)
        for side in sides.values():  # warm-up
            side.load(2, 2)
        for r in range(rounds):
            for name in rotated(list(sides), r):
                for n in users:
                    out.setdefault((name, n), []).append(sides[name].load(n, seconds))
    out["handler_ms"] = {name: 1000 / raw_rates(name, 1, seconds=min(4.0, seconds), base=base)["handler"]
                         for name in models}
    return out


def section(results: dict, args) -> str:
    runs_of = {key: runs for key, runs in results.items() if key != "handler_ms"}
    ordered = sorted(runs_of.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    med = lambda runs, get: statistics.median(get(r) for r in runs)  # noqa: E731
    rows = ["| side | users | req/s | mean ms | p50 ms | p99 ms | server CPU ms/req | failures / requests |",
            "|---|---|---|---|---|---|---|---|"]
    for (side, users), runs in ordered:
        groups = runs[0]["cpu_ms"]
        cpu = " + ".join(f"{g} {med(runs, lambda r, g=g: r['cpu_ms'][g]):.2f}" for g in groups)
        rows.append(f"| {side} | {users} | {med(runs, lambda r: r['req_s']):.0f} | {med(runs, lambda r: r['mean_ms']):.2f} | "
                    f"{med(runs, lambda r: r['p50_ms']):.2f} | {med(runs, lambda r: r['p99_ms']):.2f} | {cpu} | "
                    f"{sum(r['failures'] for r in runs)} / {sum(r['requests'] for r in runs)} |")
    split = ["| side | users | client mean ms | queued (batch wait included) | worker round trip | outside TorchServe |",
             "|---|---|---|---|---|---|"]
    for (side, users), runs in ordered:
        if "in_torchserve_ms" not in runs[0]:
            continue
        mean, inside, queued = (med(runs, lambda r, k=k: r[k]) for k in ("mean_ms", "in_torchserve_ms", "queued_ms"))
        split.append(f"| {side} | {users} | {mean:.2f} | {queued:.2f} | {inside - queued:.2f} | {mean - inside:.2f} |")
    head = (f"Command: `python -m loadtests floor --users {args.users} --seconds {args.seconds:g} --rounds "
            f"{args.rounds} --models {args.models}` ({time.strftime('%Y-%m-%d')}); {platform_line()}. A handler that "
            "does nothing, served by TorchServe (one worker), beside a FastAPI route that does nothing, and each "
            "model served by TorchServe (the registry's batching and workers) beside the FastAPI peer on the same "
            "artifacts and the seed app on the checkpoints; closed-loop http.client users, medians of the rounds (sides rotated each round). Server CPU: "
            "milliseconds per answered request, TorchServe's JVM and workers (every model's) apart.")
    handler = results.get("handler_ms", {})
    lines = [head, "", *rows]
    if len(split) > 2:
        lines += ["", "Where a TorchServe request's time goes, from the frontend's own counters over the same windows "
                  "(means per request):", "", *split]
    if handler:
        lines += ["", "The handler alone, in-process, one request per call: " + ", ".join(
            f"{name} {ms:.2f} ms" for name, ms in handler.items()) + "."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests floor", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", default="1,4")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--models", default="cnn,gan", help="real models served beside the no-op (empty: none)")
    add_docs_option(parser)
    args = parser.parse_args(argv)
    models = [m for m in args.models.split(",") if m]
    results = measure([int(u) for u in args.users.split(",")], args.seconds, args.rounds, models)
    publish(args.docs, "serving-floor", "TorchServe's own floor: a no-op handler", section(results, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
