"""TorchServe's own floor: a handler that does nothing, served (python -m loadtests floor; `make bench-floor`).

What a request costs when no model runs, side by side in one run:
  TorchServe REST, maxBatchDelay 1   the no-op handler (loadtests/floor/noop_handler.py) with cnn's batching
                                     (batchSize 16, maxBatchDelay 1 ms: a lone request waits 1 ms for company)
  TorchServe REST, maxBatchDelay 0   the same with no wait (TorchServe 0.12 then batches at most 2 requests:
                                     wlm/Model.java stops polling once the delay is spent)
  FastAPI no-op                      the FastAPI peer's stack (uvicorn, one process) with a route that does
                                     nothing (loadtests/floor/noop_app.py)
Closed-loop clients on keep-alive http.client connections (a lighter client than Locust, so the floor is the
server's), `seconds` per load, rounds alternating the sides; medians of the rounds. At 1 user this is the time a
lone request spends in the server's own path, which no handler change can remove. Writes the `serving-floor`
section of docs/BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from genai_ops.registry import REPO_ROOT
from genai_ops.server import free_ports
from loadtests.harness.report import add_docs_option, platform_line, publish
from loadtests.harness.servers import private_server
from loadtests.harness.timing import rotated

HANDLER = REPO_ROOT / "loadtests" / "floor" / "noop_handler.py"
BODY = b'{"x": 1}'


def closed_loop(host: str, port: int, path: str, headers: dict, users: int, seconds: float) -> dict:
    """`users` clients each sending the next request as soon as the last is answered, for `seconds`."""
    latencies: list[float] = []
    failures = [0]
    lock, stop_at = threading.Lock(), time.monotonic() + seconds

    def client() -> None:
        conn, mine, bad = http.client.HTTPConnection(host, port, timeout=30), [], 0
        while time.monotonic() < stop_at:
            began = time.perf_counter()
            conn.request("POST", path, body=BODY, headers=headers)
            r = conn.getresponse()
            r.read()
            mine.append(time.perf_counter() - began)
            bad += r.status != 200
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
    return {"req_s": len(ordered) / elapsed, "p50_ms": 1000 * ordered[len(ordered) // 2],
            "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], "failures": failures[0],
            "requests": len(ordered)}


def noop_archive(dest: Path) -> Path:
    subprocess.run([str(Path(sys.executable).parent / "torch-model-archiver"), "--model-name", "noop",
                    "--version", "1.0", "--handler", str(HANDLER), "--export-path", str(dest), "--force"],
                   check=True, env={**os.environ, "TMPDIR": str(dest)})
    return dest / "noop.mar"


@contextmanager
def fastapi_noop():
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
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def measure(users: list[int], seconds: float, rounds: int) -> dict:
    """{(side, users): [one result per round]}."""
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp)
        noop_archive(store)
        with private_server([], store=store) as server, fastapi_noop() as port:
            token = {"Authorization": f"Bearer {server.token('inference')}", "Content-Type": "application/json"}
            for delay in (1, 0):
                server.manage("POST", "/models", f"register noop_d{delay}", ok=(200, 201), timeout=120, params={
                    "url": "noop.mar", "model_name": f"noop_d{delay}", "batch_size": 16,
                    "max_batch_delay": delay, "initial_workers": 1, "synchronous": "true"})
            sides = {
                "TorchServe REST, maxBatchDelay 1": (server.host, server.ports["inference"], "/predictions/noop_d1", token),
                "TorchServe REST, maxBatchDelay 0": (server.host, server.ports["inference"], "/predictions/noop_d0", token),
                "FastAPI no-op": ("127.0.0.1", port, "/predictions/noop", {"Content-Type": "application/json"}),
            }
            for host, p, path, headers in sides.values():  # warm-up
                closed_loop(host, p, path, headers, 2, 2)
            for r in range(rounds):
                for side in rotated(list(sides), r):
                    for n in users:
                        out.setdefault((side, n), []).append(closed_loop(*sides[side], n, seconds))
    return out


def section(results: dict, args) -> str:
    rows = ["| side | users | req/s | p50 ms | p99 ms | failures / requests |", "|---|---|---|---|---|---|"]
    for (side, users), runs in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        med = lambda k: statistics.median(r[k] for r in runs)  # noqa: E731
        rows.append(f"| {side} | {users} | {med('req_s'):.0f} | {med('p50_ms'):.2f} | {med('p99_ms'):.2f} | "
                    f"{sum(r['failures'] for r in runs)} / {sum(r['requests'] for r in runs)} |")
    head = (f"Command: `python -m loadtests floor --users {args.users} --seconds {args.seconds:g} --rounds "
            f"{args.rounds}` ({time.strftime('%Y-%m-%d')}); {platform_line()}. A handler that does nothing, served by "
            "TorchServe (one worker), beside a FastAPI route that does nothing; closed-loop http.client users, "
            "medians of the rounds (sides rotated each round).")
    return "\n".join([head, "", *rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests floor", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", default="1,4")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    add_docs_option(parser)
    args = parser.parse_args(argv)
    results = measure([int(u) for u in args.users.split(",")], args.seconds, args.rounds)
    publish(args.docs, "serving-floor", "TorchServe's own floor: a no-op handler", section(results, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
