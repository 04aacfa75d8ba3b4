"""Run one bounded, headless Locust load and read back its numbers (the benchmarks' single way to load a server).

Besides Locust's own stats it records where the CPU went while it ran, per process group (TorchServe's JVM and
its Python workers, a peer's process tree, and Locust itself: the client shares the 2 cores with the server, so its
share is part of every served figure), both read inside Locust as its test starts and stops (loadtests/
harness/locust_probe.py), and how many requests each handler call received (the batch sizes TorchServe formed, from the
HandlerRequests metric our handlers emit per batch).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from genai_ops.registry import REPO_ROOT
from loadtests.harness.procs import torchserve_groups

LOCUSTFILE = REPO_ROOT / "loadtests" / "locustfile.py"
SEED_LOCUSTFILE = REPO_ROOT / "loadtests" / "seed_locustfile.py"
GRPC_LOCUSTFILE = REPO_ROOT / "loadtests" / "grpc_locustfile.py"
PROBE = Path(__file__).with_name("locust_probe.py")


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

    def cpu_ms(self, *groups: str) -> float:
        """CPU milliseconds per answered request, summed over `groups` (all of them when none is named)."""
        spent = sum(v for k, v in self.cpu_s.items() if k in groups or not groups)
        return 1000 * spent / self.requests if self.requests else float("nan")


def run_locust(host: str, models: str, users: int, duration: str, env: dict | None = None,
               locustfile: Path = LOCUSTFILE, server_pid: int | None = None, logs: Path | None = None,
               groups: dict[str, list[int]] | None = None) -> LoadResult:
    """`users` closed-loop users for `duration` against `host`. CPU time is recorded for `groups` ({name: pids})
    or, with `server_pid` (the TorchServe frontend), for its "jvm" and "workers"; always for "locust". With `logs`
    (the server's log dir), the mean batch size."""
    if groups is None:
        groups = torchserve_groups(server_pid) if server_pid is not None else {}
    batches_from = _metrics_size(logs)
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "probe.json"
        done = subprocess.run([sys.executable, "-m", "locust", "-f", f"{locustfile},{PROBE}", "--headless",
                               "-u", str(users), "-r", str(users), "-t", duration, "--host", host, "--only-summary",
                               "--loglevel", "WARNING"],
                              env={**os.environ, "GENAI_MODELS": models, **(env or {}),
                                   "GENAI_CPU_GROUPS": json.dumps(groups), "GENAI_PROBE_OUT": str(probe)},
                              capture_output=True, text=True, timeout=600)
        if done.returncode not in (0, 1):  # 1: some requests failed, which the stats report; anything else broke
            raise RuntimeError(f"locust exited {done.returncode}: {done.stderr[-2000:]}")
        if not probe.exists():
            raise RuntimeError(f"locust wrote no stats through {PROBE.name}: {done.stderr[-2000:]}")
        measured = json.loads(probe.read_text())
    rows = measured["stats"]
    tokens = rows.pop(TOKENS, None)
    real = [r for name, r in rows.items() if name != "Aggregated"]
    # A tokens row would mix zero-time pseudo-requests into "Aggregated": with one real row, read that one;
    # with several (a mixed run), count requests from the real rows (percentiles stay Aggregated's).
    row = real[0] if tokens and len(real) == 1 else dict(rows["Aggregated"])
    if tokens and len(real) > 1:
        row.update({key: sum(r[key] for r in real) for key in ("rps", "requests", "failures")})
    return LoadResult(rps=row["rps"], p50=_number(row["p50"]), p99=_number(row["p99"]), requests=row["requests"],
                      failures=row["failures"], cpu_s=measured["cpu_s"],
                      batch_mean=_batch_mean(logs, batches_from, models),
                      tok_s=tokens["rps"] * tokens["content"] if tokens else None)


def first_answer(host: str, models: str, env: dict | None = None, locustfile: Path = LOCUSTFILE,
                 timeout_s: float = 300.0, **measured) -> LoadResult:
    """One user against `host` in windows of 1, 2, 4, ... s until a window holds a successful answer, and that
    window's result (`measured`: run_locust's server_pid, logs or groups); RuntimeError once `timeout_s` has passed
    without one. However slow the machine, a side that works is ready afterwards."""
    deadline, window = time.monotonic() + timeout_s, 1
    while True:
        result = run_locust(host, models, 1, f"{window}s", env=env, locustfile=locustfile, **measured)
        if result.requests > result.failures:
            return result
        if time.monotonic() > deadline:
            raise RuntimeError(f"no answer from {host} ({locustfile.name}, {models}) within {timeout_s:.0f} s: "
                               f"{result.requests} requests, {result.failures} failed")
        window = min(2 * window, 30)


def _number(value: float | None) -> float:
    """No percentile for a run in which no request finished."""
    return float("nan") if value is None else float(value)


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


def batch_cell(result: LoadResult) -> str:
    """A result's mean batch as a table cell."""
    return "n/a" if result.batch_mean is None else f"{result.batch_mean:.1f}"
