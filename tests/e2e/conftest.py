"""One real TorchServe for the end-to-end tests: the pipeline (train briefly -> export -> archive) runs
into a temp project dir, and the server starts there on free loopback ports through the same launcher
`make serve` uses."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from genai_ops.registry import REPO_ROOT, ModelSpec, Paths, load_registry
from genai_ops.server import Server, free_ports

QUICK_TRAIN = ["--trainer-args=--max-steps 4"]  # enough to exercise training; accuracy is not what e2e tests


@dataclass
class Served:
    server: Server
    registry: dict[str, ModelSpec]
    paths: Paths

    def spec(self, name: str) -> ModelSpec:
        return self.registry[name]


def pipeline(base: Path, *steps: list[str]) -> None:
    for step in steps:
        subprocess.run([sys.executable, "-m", *step, "--base", str(base)], cwd=REPO_ROOT, check=True)


@pytest.fixture(scope="session")
def served(tmp_path_factory) -> Served:
    base = tmp_path_factory.mktemp("e2e")
    subprocess.run([sys.executable, "-m", "training.run", "--base", str(base), *QUICK_TRAIN], cwd=REPO_ROOT, check=True)
    pipeline(base, ["export.run"], ["export.archive"])
    ports = dict(zip(("inference", "management", "metrics", "grpc_inference", "grpc_management"), free_ports(5)))
    server = Server(workdir=base, store=Paths(base).model_store, ports=ports)
    server.start()
    try:
        server.register_all(load_registry())
        yield Served(server, load_registry(), Paths(base))
    finally:
        server.stop()
