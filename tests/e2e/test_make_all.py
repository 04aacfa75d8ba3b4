"""`make all`'s driver (genai_ops/pipeline.py) on two fast models: each is trained, exported, archived and served
as soon as it is ready, fastest first; TorchServe starts after the first archive; every model answers and its
curl line is printed as it comes up; the stage times land in run/make_all.json."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from genai_ops.registry import REPO_ROOT
from genai_ops.server import Server, free_ports

pytestmark = pytest.mark.e2e
NAMES = ("inference", "management", "metrics", "grpc_inference", "grpc_management")


def test_models_are_served_one_by_one_fastest_first(tmp_path):
    ports = dict(zip(NAMES, free_ports(5)))
    env = {**os.environ, "GENAI_PORTS": ",".join(f"{k}={v}" for k, v in ports.items())}
    # the registry's order is lstm (57 s estimated) before bigram (1 s): the driver must turn it round
    proc = subprocess.run([sys.executable, "-m", "genai_ops.pipeline", "lstm", "bigram", "--base", str(tmp_path),
                           "--trainer-args=--max-steps 4"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=900)
    server = Server(workdir=tmp_path, store=tmp_path / "model_store", ports=ports)
    try:
        out = proc.stdout
        assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
        assert out.index("training bigram") < out.index("TorchServe up") < out.index("training lstm")
        for model in ("bigram", "lstm"):  # smoked and announced with its curl line
            assert f"/predictions/{model}" in out and f"{model:<10} HTTP 200" in out
        times = json.loads((tmp_path / "run" / "make_all.json").read_text())
        assert list(times["stages_s"]) == ["bigram", "lstm"]
        assert set(times["stages_s"]["lstm"]) == {"train", "export", "archive"}
        assert 0 < times["first_answer_s"] <= times["all_served_s"]
        assert server.predict(server_spec("lstm")).status_code == 200  # still serving after the driver exits
    finally:
        server.stop()


def server_spec(name: str):
    from genai_ops.registry import load_registry

    return load_registry()[name]
