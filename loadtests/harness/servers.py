"""Servers a benchmark starts for itself and always stops: a private TorchServe on free loopback ports serving
a project dir's archives, and the seeds' FastAPI app (loadtests/seed_app.py) under uvicorn; environment variables
the workers read, set for one server and restored after it."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import requests

from genai_ops.registry import REPO_ROOT, Paths, load_registry
from genai_ops.server import PORT_KEYS, Server, free_ports
from loadtests.harness.locust_run import LoadResult, run_locust


@contextmanager
def environment(**values):
    """Set the environment variables given a value (None: leave that one alone); restore them all on exit."""
    values = {k: str(v) for k, v in values.items() if v is not None}
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


@contextmanager
def private_server(registered: list[tuple], store: Path | None = None, threads: int | None = None,
                   overrides: dict[str, str] | None = None, slice_ms: float | None = None,
                   max_wait_s: float | None = None):
    """TorchServe in a temp dir on free loopback ports serving `registered` ((spec, version) pairs) from `store`
    (default model_store/). `threads` sets every worker's thread count, `slice_ms` the scheduler slice and
    `max_wait_s` its admission bound, for this server only (its workers read them from the environment);
    `overrides` replaces config.properties keys."""
    with environment(GENAI_THREADS_PER_WORKER=threads or None, GENAI_SLICE_MS=slice_ms, GENAI_MAX_WAIT_S=max_wait_s), \
            tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        server = Server(workdir=Path(tmp), store=store or Paths().model_store,
                        ports=dict(zip(PORT_KEYS, free_ports(len(PORT_KEYS)))), overrides=dict(overrides or {}))
        server.start()
        try:
            for spec, version in registered:
                server.register(spec, version, timeout_s=300)
            yield server
        finally:
            server.stop()


def defaults(models: list[str]) -> list[tuple]:
    """(spec, default version) for each of `models`: what private_server registers."""
    registry = load_registry()
    return [(registry[m], registry[m].default_version) for m in models]


def load(server: Server, model: str, users: int, duration: int, path: str | None = None) -> LoadResult:
    """Locust against a private TorchServe: CPU of its JVM and workers, the batches it formed."""
    env = {"GENAI_KEY_FILE": str(server.key_file)}
    if path:
        env[f"GENAI_PATH_{model.upper()}"] = path
    return run_locust(server.url("inference"), model, users, f"{duration}s", env=env, server_pid=server.pid(),
                      logs=server.workdir / "logs")


@contextmanager
def seed_app(models: list[str], project: Path | None = None, timeout_s: float = 120.0):
    """loadtests/seed_app.py under uvicorn on a free loopback port, on `project`'s checkpoints (default: the repo).
    Yields (its URL, its process)."""
    port = free_ports(1)[0]
    env = {**os.environ, "GENAI_SEED_MODELS": ",".join(models), "GENAI_SEED_PROJECT": str(project or Paths().base)}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "loadtests.seed_app:app", "--host", "127.0.0.1",
                             "--port", str(port), "--log-level", "warning"], cwd=REPO_ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url + "/openapi.json", proc, timeout_s)
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def wait_until_up(url: str, proc: subprocess.Popen, timeout_s: float) -> None:
    """Return once GET `url` is 200; RuntimeError if `proc` exits first or `timeout_s` passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[:4]} exited with code {proc.returncode} before {url} answered")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout_s:.0f} s")
        time.sleep(0.2)
