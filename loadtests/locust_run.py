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


TOKEN_MODELS = {"gpt2_qa"}  # text generators whose responses say how many tokens they generated
TOKENS = "completion_tokens"  # the Locust stats row where token-generating users record tokens per response


def record_tokens(user, response) -> None:
    """For text generators: report the response's completion_tokens as a pseudo-request of that 'size', so
    Locust's stats give tokens/s (the row's requests/s x its average size) beside the real request's row."""
    tokens = int(response.json().get(TOKENS, 0))
    user.environment.events.request.fire(request_type="TOKENS", name=TOKENS, response_time=0, response_length=tokens,
                                         exception=None, context={})


def multipart_file(blob: bytes, boundary: str = "genai-serve-bench") -> tuple[bytes, str]:
    """A multipart body with one field `file` (FastHttpUser takes a body, not requests' `files=`)."""
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="sample.png"\r\n'
            "Content-Type: image/png\r\n\r\n").encode()
    return head + blob + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


@dataclass
class LoadResult:
    rps: float
    p50: float
    p99: float
    requests: int
    failures: int
    cpu_s: dict[str, float] = field(default_factory=dict)  # process group -> CPU seconds during the run
    batch_mean: float | None = None
    tok_s: float | None = None  # only for users that record tokens


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
        done = subprocess.run([sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", str(users),
                               "-r", str(users), "-t", duration, "--host", host, "--csv", str(prefix), "--only-summary",
                               "--loglevel", "WARNING"],
                              env={**os.environ, "GENAI_MODELS": models, **(env or {})}, capture_output=True,
                              text=True, timeout=600)
        if done.returncode not in (0, 1):  # 1: some requests failed, which the stats report; anything else broke
            raise RuntimeError(f"locust exited {done.returncode}: {done.stderr[-2000:]}")
        with open(f"{prefix}_stats.csv") as fh:
            rows = {r["Name"]: r for r in csv.DictReader(fh)}
    tokens = rows.pop(TOKENS, None)
    real = [r for name, r in rows.items() if name != "Aggregated"]
    # A tokens row would mix zero-time pseudo-requests into "Aggregated": with one real row, read that one;
    # with several (a mixed run), count requests from the real rows (percentiles stay Aggregated's).
    row = real[0] if tokens and len(real) == 1 else dict(rows["Aggregated"])
    if tokens and len(real) > 1:
        row.update({key: str(sum(float(r[key]) for r in real)) for key in ("Requests/s", "Request Count", "Failure Count")})
    child_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = {name: _cpu(ps) - before[name] for name, ps in procs.items()}
    cpu["locust"] = (child_after.ru_utime + child_after.ru_stime) - (child_before.ru_utime + child_before.ru_stime)
    return LoadResult(rps=float(row["Requests/s"]), p50=_number(row["50%"]), p99=_number(row["99%"]),
                      requests=int(float(row["Request Count"])), failures=int(float(row["Failure Count"])), cpu_s=cpu,
                      batch_mean=_batch_mean(logs, batches_from, models),
                      tok_s=float(tokens["Requests/s"]) * float(tokens["Average Content Size"]) if tokens else None)


def _number(cell: str) -> float:
    """Locust writes N/A for the percentiles of a run in which no request finished."""
    return float("nan") if cell == "N/A" else float(cell)


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
    # The frontend echoes each worker's stdout, [METRICS] lines included, into ts_log.log.
    return None if logs is None else logs / "ts_log.log"


def _metrics_size(logs: Path | None) -> int:
    path = _metrics_file(logs)
    return path.stat().st_size if path and path.exists() else 0


def _batch_mean(logs: Path | None, start: int, models: str) -> float | None:
    path = _metrics_file(logs)
    if not path or not path.exists():
        return None
    with path.open("rb") as fh:
        # log4j rolls ts_log.log over at 20 MB (log4j2.xml): a file now shorter than `start` was rolled during the
        # run, and its new part is a sample of the same run's batches.
        fh.seek(start if path.stat().st_size >= start else 0)
        text = fh.read().decode("utf-8", "replace")
    names = set(models.split(","))
    sizes = [int(n) for n, model in METRIC.findall(text) if model in names or any(model.startswith(f"{m}_") for m in names)]
    return sum(sizes) / len(sizes) if sizes else None
