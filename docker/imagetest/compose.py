"""docker/compose.yaml brought up as a user would, checked through Prometheus's HTTP API.

genai serves the store; Prometheus (Debian's package, docker/prometheus/) scrapes it. After a few requests and
two scrape intervals, the API must return TorchServe's series (ts_*) and the scheduler's (genai_*) for the
models that were called, and list the alerting rules of docker/prometheus/alerts.yml.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import requests

import container
from docker_cli import REPO

COMPOSE_FILE = REPO / "docker" / "compose.yaml"
PROJECT = "genai-image-test"
SERIES = ("ts_inference_requests_total", "genai_request_queue_time_seconds_count", "HandlerRequests")
CALLED = ("cnn", "gpt2_qa", "diffusion")  # one-shot, token loop and image loop: both series families appear


def compose_cli() -> list[str]:
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise RuntimeError("neither `docker compose` nor docker-compose is installed (Debian: apt-get install docker-compose)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(env: dict, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([*compose_cli(), "-p", PROJECT, "-f", str(COMPOSE_FILE), *args], env=env,
                          capture_output=True, text=True, timeout=timeout, check=True)


def check(store: Path, report: dict, base: str) -> list[str]:
    ports = {"GENAI_PORT": free_port(), "GENAI_METRICS_PORT": free_port(), "PROMETHEUS_PORT": free_port()}
    env = {**os.environ, "GENAI_BASE_IMAGE": base, "PROMETHEUS_BASE_IMAGE": base,
           "GENAI_MODEL_STORE": str(store.resolve()), **{k: str(v) for k, v in ports.items()}}
    try:
        run(env, "up", "-d", "--no-build")
        genai = run(env, "ps", "-q", "genai").stdout.strip()
        container.wait_ready(genai)
        key = container.token(genai)
        for model in CALLED:
            spec = container.load_registry()[model]
            body, content_type = spec.sample_body()
            requests.post(f"http://127.0.0.1:{ports['GENAI_PORT']}/predictions/{model}", data=body, timeout=300,
                          headers={"Authorization": f"Bearer {key}", "Content-Type": content_type})
        found = wait_series(ports["PROMETHEUS_PORT"])
        rules = prometheus(ports["PROMETHEUS_PORT"], "/api/v1/rules")["groups"]
        alerts = sorted(r["name"] for g in rules for r in g["rules"])
        report["prometheus"] = {"series": found, "alerting_rules": alerts}
        print(f"Prometheus: series {found}; {len(alerts)} alerting rules loaded")
        problems = [f"Prometheus has no {s} series" for s in SERIES if not found.get(s)]
        return problems + ([] if alerts else ["Prometheus loaded no alerting rules"])
    finally:
        subprocess.run([*compose_cli(), "-p", PROJECT, "-f", str(COMPOSE_FILE), "down", "-v", "-t", "30"],
                       env=env, capture_output=True, timeout=120)


def prometheus(port: int, path: str, **params) -> dict:
    r = requests.get(f"http://127.0.0.1:{port}{path}", params=params, timeout=10)
    r.raise_for_status()
    return r.json()["data"]


def wait_series(port: int, timeout: float = 120.0) -> dict[str, list[str]]:
    """{series: the models it has samples for}, once every expected series has one (or the timeout passes)."""
    deadline = time.monotonic() + timeout
    found: dict[str, list[str]] = {}
    while time.monotonic() < deadline:
        for name in SERIES:
            try:
                result = prometheus(port, "/api/v1/query", query=name)["result"]
            except requests.RequestException:
                result = []
            found[name] = sorted({r["metric"].get("model_name", r["metric"].get("ModelName", "?")) for r in result})
        if all(found.values()):
            break
        time.sleep(5)
    return found

