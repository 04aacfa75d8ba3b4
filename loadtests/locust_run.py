"""Run one bounded, headless Locust load and read back its numbers (the benchmarks' single way to load a server).

Besides Locust's own stats it records where the CPU went while it ran (TorchServe's JVM, its Python workers,
Locust itself: the client shares the 2 cores with the server, so its share is part of every served figure)
and how many requests each handler call received (the batch sizes TorchServe formed, from the
HandlerRequests metric our handlers emit per batch).
"""
from __future__ import annotations

import csv
import os
import re
import resource
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from genai_serve.registry import REPO_ROOT

LOCUSTFILE = REPO_ROOT / "loadtests" / "locustfile.py"
SEED_LOCUSTFILE = REPO_ROOT / "loadtests" / "seed_locustfile.py"


@dataclass
class LoadResult:
    rps: float
    p50: float
    p99: float
    requests: int
    failures: int
    cpu_s: dict[str, float] = field(default_factory=dict)  # process group -> CPU seconds during the run
    batch_mean: float | None = None


def run_locust(host: str, models: str, users: int, duration: str, env: dict | None = None,
               locustfile: Path = LOCUSTFILE, server_pid: int | None = None, logs: Path | None = None) -> LoadResult:
    """`users` closed-loop users for `duration` against `host`. With `server_pid` (the TorchServe JVM) the CPU
    time of the JVM and its workers is recorded; with `logs` (the server's log dir) the mean batch size."""
    procs = _server_processes(server_pid)
    before = {name: _cpu(ps) for name, ps in procs.items()}
    child_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    batches_from = _metrics_size(logs)
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp) / "stats"
        subprocess.run([sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", str(users),
                        "-r", str(users), "-t", duration, "--host", host, "--csv", str(prefix), "--only-summary",
                        "--loglevel", "WARNING"],
                       env={**os.environ, "GENAI_MODELS": models, **(env or {})}, check=True,
                       stdout=subprocess.DEVNULL, timeout=600)
        with open(f"{prefix}_stats.csv") as fh:
            row = next(r for r in csv.DictReader(fh) if r["Name"] == "Aggregated")
    child_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = {name: _cpu(ps) - before[name] for name, ps in procs.items()}
    cpu["locust"] = (child_after.ru_utime + child_after.ru_stime) - (child_before.ru_utime + child_before.ru_stime)
    return LoadResult(rps=float(row["Requests/s"]), p50=float(row["50%"]), p99=float(row["99%"]),
                      requests=int(row["Request Count"]), failures=int(row["Failure Count"]), cpu_s=cpu,
                      batch_mean=_batch_mean(logs, batches_from, models))


def _server_processes(pid: int | None) -> dict[str, list[psutil.Process]]:
    if pid is None:
        return {}
    jvm = psutil.Process(pid)
    return {"jvm": [jvm], "workers": jvm.children(recursive=True)}


def _cpu(processes: list[psutil.Process]) -> float:
    total = 0.0
    for p in processes:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


# Each handler call logs "HandlerRequests.Count:<n>|#ModelName:<model>,..." (handlers/base.py): one line per batch.
METRIC = re.compile(r"HandlerRequests\.Count:(\d+)\|#ModelName:([\w.-]+)")


def _metrics_file(logs: Path | None) -> Path | None:
    return None if logs is None else logs / "model_metrics.log"


def _metrics_size(logs: Path | None) -> int:
    path = _metrics_file(logs)
    return path.stat().st_size if path and path.exists() else 0


def _batch_mean(logs: Path | None, start: int, models: str) -> float | None:
    path = _metrics_file(logs)
    if not path or not path.exists():
        return None
    with path.open("rb") as fh:
        fh.seek(start)
        text = fh.read().decode("utf-8", "replace")
    names = set(models.split(","))
    sizes = [int(n) for n, model in METRIC.findall(text) if model in names or any(model.startswith(f"{m}_") for m in names)]
    return sum(sizes) / len(sizes) if sizes else None
