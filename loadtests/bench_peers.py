"""Part `peers` of the serving benchmarks: our serving path beside what a user would run instead.

  python -m loadtests serving --parts peers [--duration 10] [--peer-rounds 3] [--peer-users 1,4,16]
  make bench-peers                    (make bench-serving runs it with the other parts)

For each model (cnn, gan) and each number of closed-loop Locust users, on the same artifacts/<model>/model.onnx
(the archive TorchServe serves is packed from it), the registry's batchSize / maxBatchDelay, the same ONNX Runtime
thread count (genai_serve/runtime.py thread_budget) and the registry's sample payload:

  TorchServe REST     loadtests/locustfile.py against a private TorchServe (harness/servers.py private_server)
  TorchServe gRPC     loadtests/grpc_locustfile.py: the same body as Predictions' `data`, same server
  FastAPI peer        loadtests/peer_fastapi.py     (peer_common.peer_server: a subprocess, its own process group)
  LitServe peer       loadtests/peer_litserve.py
  seed app            loadtests/seed_app.py: the sps-genai app's FastAPI endpoints on eager torch, one request at a time, on the
                      checkpoints (not the ONNX graph), with loadtests/seed_locustfile.py sending the sps-genai app's requests
  handler in-process  harness/handlers.py raw_rates: the whole handler called as TorchServe calls it, at the mean batch
                      our best path formed, no server and no client: the ceiling a server approaches

One server runs at a time (an idle server still costs CPU: LitServe's workers poll). Rounds alternate the servers,
the order rotated each round (and REST/gRPC within TorchServe's turn); each figure is the median over rounds. At
each server start every side must answer one request (bounded wait, harness/locust_run.py first_answer) before
anything is measured, so a slow start never shows as an empty window. CPU per request is read inside Locust as
its test starts and stops (loadtests/harness/locust_probe.py): TorchServe as the JVM and
its workers, a peer as its whole process tree (LitServe's HTTP process, Manager and workers included), and Locust
itself, which shares the cores with the server.
"""
from __future__ import annotations

import statistics
import tempfile
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import requests

from genai_ops.registry import REPO_ROOT, Paths
from loadtests.harness.handlers import raw_rates
from loadtests.harness.locust_run import (GRPC_LOCUSTFILE, LOCUSTFILE, SEED_LOCUSTFILE, LoadResult, first_answer,
                                          run_locust)
from loadtests.harness.procs import torchserve_groups, tree_group
from loadtests.harness.report import platform_line
from loadtests.harness.servers import defaults, private_server, seed_app
from loadtests.harness.timing import rotated
from loadtests.peer_common import peer_server

OURS = ("TorchServe REST", "TorchServe gRPC")
PEERS = {"fastapi": "FastAPI peer", "litserve": "LitServe peer"}
SEED = "seed app"  # the seeds' own serving path, kept beside the peers so its ratio comes from the same run
SIDES = OURS + tuple(PEERS.values()) + (SEED,)
SERVERS = ("torchserve", *PEERS, "seed")
HANDLER = "handler in-process"
USERS = (1, 4, 16)
DONE_USERS = 16  # the peers comparison's target is stated at 16 users
HANDLER_SHARE, PEER_RATIO = 0.7, 1.0  # ... ours >= 0.7 of the handler, >= 1.0x the best peer at <= its p99


@dataclass
class Target:
    """A running server as the loads see it: side -> (host, locustfile), the Locust environment (the key file),
    its process groups (read fresh for each load) and where the batch sizes it formed are read."""

    hosts: dict[str, tuple[str, Path]]
    env: dict[str, str]
    groups: Callable[[], dict[str, list[int]]]
    logs: Path | None = None  # TorchServe's log dir: HandlerRequests metric lines
    stats_url: str | None = None  # a peer's GET /stats


@contextmanager
def serve(kind: str, models: list[str], base: Path, workdir: Path):
    """Start one server ("torchserve" or a peer) on `base`'s artifacts; yield its Target; stop it."""
    if kind == "torchserve":
        with private_server(defaults(models), store=Paths(base).model_store) as server:
            grpc = f"grpc://{server.host}:{server.ports['grpc_inference']}"
            yield Target({OURS[0]: (server.url("inference"), LOCUSTFILE), OURS[1]: (grpc, GRPC_LOCUSTFILE)},
                         {"GENAI_KEY_FILE": str(server.key_file)}, lambda: torchserve_groups(server.pid()),
                         logs=server.workdir / "logs")
        return
    if kind == "seed":  # the sps-genai app's FastAPI app: eager torch on the checkpoints, one request at a time, no token
        with seed_app(models, project=base) as (url, proc):
            yield Target({SEED: (url, SEED_LOCUSTFILE)}, {}, lambda: tree_group("seed", proc.pid))
        return
    key_file = workdir / f"{kind}-key_file.json"  # the peer checks tokens as TorchServe does (written if missing)
    with peer_server(kind, models, base=base, key_file=key_file) as (url, proc):
        yield Target({PEERS[kind]: (url, LOCUSTFILE)}, {"GENAI_KEY_FILE": str(key_file)},
                     lambda: tree_group(kind, proc.pid), stats_url=url)


def measure(target: Target, side: str, model: str, users: int, seconds: int) -> LoadResult:
    host, locustfile = target.hosts[side]
    before = peer_batches(target.stats_url, model)
    result = run_locust(host, model, users, f"{seconds}s", env=target.env, locustfile=locustfile,
                        groups=target.groups(), logs=target.logs)
    if target.stats_url:
        result.batch_mean = mean_batch(peer_batches(target.stats_url, model) - before)
    return result


def ready(target: Target, side: str, model: str, timeout_s: float = 300.0) -> None:
    """Wait (bounded) until `side` has answered `model` once: its first answer (JIT, sessions, connections) can
    take longer than a short measured window on a slow machine."""
    host, locustfile = target.hosts[side]
    first_answer(host, model, env=target.env, locustfile=locustfile, timeout_s=timeout_s)


def peer_batches(url: str | None, model: str) -> Counter:
    """A peer's answers so far by the size of the batch they came out of ({size: answers})."""
    if url is None:
        return Counter()
    counts = requests.get(f"{url}/stats", timeout=10).json()["requests_by_batch_size"].get(model, {})
    return Counter({int(size): n for size, n in counts.items()})


def mean_batch(answers: Counter) -> float | None:
    """Requests per inference call, as TorchServe's HandlerRequests lines give it: answers / batches."""
    calls = sum(n / size for size, n in answers.items())
    return sum(answers.values()) / calls if calls else None


def run(models: list[str], users: list[int], rounds: int, seconds: int, warmup: int, base: Path) -> dict:
    """{(side, model, users): [LoadResult per round]}."""
    results: dict[tuple, list[LoadResult]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp:
        for round_ in range(rounds):
            for kind in rotated(SERVERS, round_):
                with serve(kind, models, base, Path(tmp)) as target:
                    sides = rotated(target.hosts, round_)
                    for model in models:
                        for side in sides:  # every side answers once before any window is measured
                            ready(target, side, model)
                        for side in sides if warmup else ():  # JIT, session arenas, connection pools
                            measure(target, side, model, max(users), warmup)
                        for n in users:
                            for side in sides:
                                results[(side, model, n)].append(measure(target, side, model, n, seconds))
    return results


@dataclass
class Summary:
    """Medians over rounds; CPU as milliseconds per answered request, per process group."""

    rps: float
    p50: float
    p99: float
    batch: float | None
    failures: int
    requests: int
    server_ms: dict[str, float] = field(default_factory=dict)
    client_ms: float = float("nan")

    @classmethod
    def of(cls, runs: list[LoadResult]) -> Summary:
        med = statistics.median
        groups = [g for g in runs[0].cpu_s if g != "locust"]
        batches = [r.batch_mean for r in runs if r.batch_mean is not None]
        return cls(rps=med(r.rps for r in runs), p50=med(r.p50 for r in runs), p99=med(r.p99 for r in runs),
                   batch=med(batches) if batches else None, failures=sum(r.failures for r in runs),
                   requests=sum(r.requests for r in runs),
                   server_ms={g: med(r.cpu_ms(g) for r in runs) for g in groups},
                   client_ms=med(r.cpu_ms("locust") for r in runs))


def handler_rates(best: dict[tuple, tuple[str, Summary]], seconds: float, base: Path) -> dict[tuple, tuple]:
    """{(model, users): (handler req/s, batch, ORT threads)} at the mean batch our best path formed there; run
    after every server has stopped, so nothing else shares the cores."""
    cache: dict[tuple, dict] = {}
    out = {}
    for (model, users), (_, ours) in best.items():
        batch = max(1, round(ours.batch or 1))
        if (model, batch) not in cache:
            cache[(model, batch)] = raw_rates(model, batch, seconds=seconds, base=base)
        rates = cache[(model, batch)]
        out[(model, users)] = (rates["handler"], batch, rates["threads"])
    return out


def best_of(table: dict[str, Summary], sides) -> tuple[str, Summary]:
    return max(((s, table[s]) for s in sides), key=lambda item: item[1].rps)


def peers(seconds: int, rounds: int, users: list[int], models: list[str], warmup: int = 3,
          base: Path | None = None) -> str:
    """Run the part and return its markdown (the `serving-peers` section of docs/BENCHMARKS.md)."""
    base = Path(base or REPO_ROOT)
    machine = platform_line()
    raw = run(models, users, rounds, seconds, warmup, base)
    summary = {key: Summary.of(runs) for key, runs in raw.items()}
    tables = {(m, n): {side: summary[(side, m, n)] for side in SIDES} for m in models for n in users}
    best = {key: best_of(table, OURS) for key, table in tables.items()}
    handler = handler_rates(best, min(4.0, float(seconds)), base)
    return render(tables, best, handler, models, users, seconds, rounds, warmup, machine)


# -- the report ---------------------------------------------------------------------------------------------------
def render(tables: dict, best: dict, handler: dict, models: list[str], users: list[int], seconds: int, rounds: int,
           warmup: int, machine: str) -> str:
    threads = next(iter(handler.values()))[2]
    command = (f"python -m loadtests serving --parts peers --duration {seconds} --peer-rounds {rounds} "
               f"--peer-users {','.join(map(str, users))} --peer-models {','.join(models)} --warmup {warmup}")
    out = [f"Command: `{command}` ({time.strftime('%Y-%m-%d')}; `make bench-peers` runs the defaults). Machine: "
           f"{machine}. Every side serves the same exported model.onnx with the registry's batchSize/maxBatchDelay, "
           f"{threads} ONNX Runtime thread(s) per model and the registry's sample payload, and checks the inference "
           f"token. Closed-loop Locust users, {seconds} s per load, {rounds} round(s) alternating one server at a "
           f"time (order rotated each round), medians; {warmup} s warm-up per side and model at each server start. "
           "CPU: milliseconds per answered request within Locust's test window, server per process group "
           "(TorchServe: JVM + workers; a peer: its whole process tree) and client (Locust itself). Mean batch: "
           "requests per inference call. The handler row is the whole handler in this process at our best path's "
           "mean batch (no server, no client).", ""]
    for model in models:
        out += [f"**{model}**", "", "| side | users | req/s | p50 ms | p99 ms | mean batch | server CPU ms/req | "
                "client CPU ms/req | failures / requests |", "|---|---|---|---|---|---|---|---|---|"]
        for n in users:
            for side, s in tables[(model, n)].items():
                batch = "n/a" if s.batch is None else f"{s.batch:.1f}"
                out.append(f"| {side} | {n} | {s.rps:.0f} | {s.p50:.0f} | {s.p99:.0f} | {batch} | "
                           f"{cpu_cell(s.server_ms)} | {s.client_ms:.2f} | {s.failures} / {s.requests} |")
            rate, batch, _ = handler[(model, n)]
            out.append(f"| {HANDLER} | {n} | {rate:.0f} | | | {batch} | | | |")
        out += [""] + verdict(model, max(users), tables, best, handler) + [""]
    return "\n".join(out).rstrip()


def cpu_cell(groups: dict[str, float]) -> str:
    total = f"{sum(groups.values()):.2f}"
    return total if len(groups) < 2 else f"{total} ({' + '.join(f'{g} {v:.2f}' for g, v in groups.items())})"


def verdict(model: str, top: int, tables: dict, best: dict, handler: dict) -> list[str]:
    """The ratios and the target at the run's top number of users, computed from the medians."""
    side, ours = best[(model, top)]
    rate, batch, _ = handler[(model, top)]
    peer_side, peer = best_of(tables[(model, top)], PEERS.values())
    seed = tables[(model, top)][SEED]
    share = ours.rps / rate if rate else float("nan")
    ratio = ours.rps / peer.rps if peer.rps else float("inf")
    share_met = share >= HANDLER_SHARE
    peer_met = ratio >= PEER_RATIO and ours.p99 <= peer.p99
    scope = "" if top == DONE_USERS else \
        f" (the done-when is stated at {DONE_USERS} users; this run's top level is {top}: not a verdict)"
    return [f"- ours (best of REST/gRPC at {top} users: {side}, {ours.rps:.0f} req/s) / in-process handler (batch "
            f"{batch}, {rate:.0f} req/s) = **{share:.2f}** (>= {HANDLER_SHARE}: {_yes(share_met)})",
            f"- ours / best peer ({peer_side}, {peer.rps:.0f} req/s, p99 {peer.p99:.0f} ms) = **{ratio:.2f}x** at "
            f"our p99 {ours.p99:.0f} ms (>= {PEER_RATIO:.1f}x at an equal or lower p99: {_yes(peer_met)})",
            f"- ours / {SEED} (the sps-genai app's FastAPI + eager torch path, same run) = **{ours.rps / seed.rps if seed.rps else float('inf'):.1f}x** "
            f"(p99 {ours.p99:.0f} vs {seed.p99:.0f} ms)",
            f"- target for {model}: **{'met' if share_met and peer_met else 'not met'}**{scope}"]


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def part(args) -> str:
    return peers(args.duration, args.peer_rounds, [int(n) for n in args.peer_users.split(",")],
                 args.peer_models.split(","), warmup=args.warmup, base=args.base)
