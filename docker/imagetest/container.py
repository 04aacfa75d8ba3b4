"""The CPU image checked from outside, started the way deploy/k8s/deployment.yaml runs it.

read-only root, user 10001, no capabilities, no new privileges, tmpfs for /tmp and the work directory, 2 CPUs,
a memory limit, the model store mounted read-only, ports published on loopback. Then: the HEALTHCHECK turns
healthy, every registry model answers its sample through the published port with the token read by
`docker exec`, a `kill -9` of the JVM is recovered by the entrypoint, and `docker stop` ends it cleanly.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import requests

from docker_cli import docker, inspect, processes, published_port, remove

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from genai_ops.registry import load_registry  # noqa: E402  (the repo's registry: which models, which samples)

WORKDIR = "/var/lib/genai-serve"
STORE = "/opt/genai-serve/model_store"
STOP_GRACE_S = 30  # compose's stop_grace_period and the Deployment's terminationGracePeriodSeconds


def hardened_run_args(name: str, store: Path, memory: str = "4g", network: str | None = None) -> list[str]:
    args = ["run", "-d", "--name", name, "--init",
            "--read-only", "--user", "10001:10001", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "--tmpfs", "/tmp", "--tmpfs", f"{WORKDIR}:uid=10001,gid=10001,mode=0700",
            "--cpus", "2", "--memory", memory, "-e", "GENAI_THREADS_PER_WORKER=1",
            "-v", f"{store.resolve()}:{STORE}:ro",
            "-p", "127.0.0.1:0:8080", "-p", "127.0.0.1:0:8082", "--stop-timeout", str(STOP_GRACE_S)]
    return args + (["--network", network] if network else [])


def start(image: str, name: str, store: Path, network: str | None = None) -> float:
    remove(name)
    started = time.monotonic()
    docker(*hardened_run_args(name, store, network=network), image)
    return started


def wait_ready(name: str, timeout: float = 600.0) -> None:
    """Until the image's own readiness probe (genai_ops.probe --ready) passes inside the container."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = inspect(name)["State"]
        if not state["Running"]:
            raise RuntimeError(f"{name} exited ({state['ExitCode']}): {docker('logs', '--tail', '40', name).stderr}")
        if docker("exec", name, "python", "-m", "genai_ops.probe", "--ready", check=False).returncode == 0:
            return
        time.sleep(1)
    raise TimeoutError(f"{name} not ready within {timeout:.0f} s")


def wait_healthy(name: str, timeout: float = 240.0) -> str:
    """Docker's own HEALTHCHECK status (the Dockerfile's interval is 30 s, so it lags readiness by up to that)."""
    deadline = time.monotonic() + timeout
    status = "none"
    while time.monotonic() < deadline:
        status = inspect(name)["State"].get("Health", {}).get("Status", "none")
        if status in ("healthy", "unhealthy"):
            break
        time.sleep(2)
    return status


def token(name: str) -> str:
    return json.loads(docker("exec", name, "cat", f"{WORKDIR}/key_file.json").stdout)["inference"]["key"]


def answer_all(name: str) -> dict[str, int]:
    """Every registry model's sample through the published port: {model: HTTP status}."""
    port, key = published_port(name, 8080), token(name)
    statuses = {}
    for spec in load_registry().values():
        body, content_type = spec.sample_body()
        r = requests.post(f"http://127.0.0.1:{port}/predictions/{spec.name}", data=body, timeout=300,
                          headers={"Authorization": f"Bearer {key}", "Content-Type": content_type})
        statuses[spec.name] = r.status_code
        print(f"  {spec.name:<10} HTTP {r.status_code}  {r.text[:90]!r}")
    return statuses


def kill_jvm(name: str) -> float:
    """kill -9 the JVM inside; returns the seconds until the entrypoint has it ready again."""
    jvm = [pid for pid, cmd in processes(name) if "java" in cmd.split()[0]]
    if not jvm:
        raise RuntimeError(f"no JVM found in {name}: {processes(name)}")
    killed = time.monotonic()
    os.kill(jvm[0], signal.SIGKILL)  # from the host by its host pid: the image need not ship a kill binary
    time.sleep(1)  # the entrypoint removes run/ready when it sees the JVM gone
    wait_ready(name)
    return time.monotonic() - killed


def stop(name: str) -> tuple[float, int, list]:
    """docker stop: (seconds, exit code, processes left). The container is removed afterwards."""
    started = time.monotonic()
    docker("stop", "-t", str(STOP_GRACE_S), name, timeout=STOP_GRACE_S + 30)
    took = time.monotonic() - started
    state = inspect(name)["State"]
    left = [] if not state["Running"] else processes(name)
    remove(name)
    return took, state["ExitCode"], left
