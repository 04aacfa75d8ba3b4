"""The deployment start-up paths against a real TorchServe, on the host (no Docker here):

  * docker/entrypoint.sh, run directly: renders the config from GENAI_* settings, starts TorchServe in the
    foreground, registers the registry's archives, writes run/ready, answers with the token, and stops
    cleanly on SIGTERM (what `docker stop` / Kubernetes send);
  * the KServe runtime (genai_ops/kserve_runtime.py) in KServe's own virtualenv on `make kserve-bundle`'s
    config: TorchServe loads the models from model_snapshot alone (no register call), and KServe's model server
    answers v1 and v2 requests sent with KServe's own client, refusals included.

One small real archive (bigram: trained on the sps-genai app's sentences in a second) built through the project's own
train -> export -> archive pipeline keeps this fast.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from export import kserve_bundle
from genai_ops import probe
from genai_ops.registry import REPO_ROOT, Paths, load_registry
from genai_ops.server import LOG_CONFIG, Server, _bin, _port_open
from tests.e2e.conftest import free_ports
from training.text_data import FIXTURES

pytestmark = pytest.mark.e2e
KSERVE_PYTHON = REPO_ROOT / ".venv-kserve" / "bin" / "python"  # `make kserve-venv`
PORT_NAMES = ("inference", "management", "metrics", "grpc_inference", "grpc_management")


@pytest.fixture(scope="module")
def bigram_store(tmp_path_factory) -> Paths:
    from export.archive import main as archive_main
    from export.run import main as export_main
    from training import train_bigram

    paths = Paths(tmp_path_factory.mktemp("deploy"))
    train_bigram.main(["--out", str(paths.checkpoint("bigram")), "--corpus", str(FIXTURES / "seed1_bigram.txt"),
                       "--min-freq", "1"])
    export_main(["--base", str(paths.base), "bigram"])
    archive_main(["bigram", "--base", str(paths.base)])
    return paths


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: process exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f}s")
        time.sleep(0.5)


def test_entrypoint_starts_registers_serves_and_stops(bigram_store, tmp_path):
    ports = dict(zip(PORT_NAMES, free_ports(5)))
    workdir = tmp_path / "state"
    workdir.mkdir()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(REPO_ROOT), "GENAI_WORKDIR": str(workdir),
           "GENAI_MODEL_STORE": str(bigram_store.model_store), "GENAI_BIND": "127.0.0.1",
           "GENAI_PORTS": ",".join(f"{k}={v}" for k, v in ports.items())}
    proc = subprocess.Popen(["sh", str(REPO_ROOT / "docker/entrypoint.sh")], env=env, cwd=tmp_path)
    server = Server(workdir=workdir, store=bigram_store.model_store, ports=ports)
    try:
        wait_for(lambda: (workdir / probe.READY_FILE).exists(), 120, "run/ready", proc)
        ready = json.loads((workdir / probe.READY_FILE).read_text())
        # only bigram was archived: every other registry model is named as missing, and bigram is served anyway
        assert ready["models"] == ["bigram"]
        assert ready["problems"] and all("not served: no archive" in p and "bigram" not in p for p in ready["problems"])
        cfg = (workdir / "run/config.properties").read_text()
        assert f"inference_address=http://127.0.0.1:{ports['inference']}" in cfg
        assert "disable_token_authorization=false" in cfg
        # the container's health check, as Docker / Kubernetes run it
        assert probe.main(["--ready", "--port", str(ports["inference"]), "--workdir", str(workdir)]) == 0
        r = server.predict(load_registry()["bigram"])
        assert r.status_code == 200, r.text
        assert r.json()["generated_text"].lower().startswith("the")
        assert server.call("GET", "inference", "/ping", token=None).status_code == 400  # tokens stay on
        default = server.call("GET", "management", "/models/bigram").json()[0]
        assert default["modelVersion"] == load_registry()["bigram"].default_version
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        assert not (workdir / probe.READY_FILE).exists()
        assert not any(_port_open("127.0.0.1", p) for p in ports.values())
    finally:
        if proc.poll() is None:
            proc.kill()
            server.stop()


def test_kserve_runtime_serves_v1_and_v2_through_kserve_model_server(bigram_store, tmp_path):
    """genai_ops/kserve_runtime.py in KServe's own virtualenv, as the runtime image runs it, on the bundle's config
    (only the mount point and ports moved for this host), called with KServe's own REST client."""
    registry = load_registry()
    bundle = tmp_path / "bundle"
    kserve_bundle.build_bundle(bundle, [registry["bigram"]], bigram_store)
    ports = dict(zip(PORT_NAMES, free_ports(5)))
    config = tmp_path / "config.properties"
    config.write_text(kserve_bundle.render_config([registry["bigram"]], bigram_store.model_store, mount=str(bundle),
                                                  ports=ports))
    http_port, grpc_port = free_ports(2)
    cmd = [str(KSERVE_PYTHON), "-m", "genai_ops.kserve_runtime", f"--model-store={bundle}/model-store",
           f"--ts-config={config}", f"--torchserve={_bin('torchserve')}", f"--workdir={tmp_path / 'state'}",
           f"--http_port={http_port}", f"--grpc_port={grpc_port}", "--enable_grpc=false"]
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    base = f"http://127.0.0.1:{http_port}"
    try:
        wait_for(lambda: _status(f"{base}/v2/models/bigram/ready") == 200, 180, "KServe runtime ready", proc)
        assert not (tmp_path / "state" / "key_file.json").exists()  # token off: loopback only, one client
        results = kserve_client(base, [
            {"model": "bigram", "protocol": "v1", "instances": [{"start_word": "The", "length": 5},
                                                                  {"start_word": "king", "length": 3}]},
            {"model": "bigram", "protocol": "v1", "instances": [{"start_word": "The"}, {"start_word": "a", "length": -1}]},
            {"model": "bigram", "protocol": "v2", "inputs": [
                {"name": "start_word", "shape": [1], "datatype": "BYTES", "data": ["The"]},
                {"name": "length", "shape": [1], "datatype": "INT32", "data": [5]},
                {"name": "mode", "shape": [1], "datatype": "BYTES", "data": ["sample"]},
                {"name": "temperature", "shape": [1], "datatype": "FP32", "data": [0.5]},
                {"name": "seed", "shape": [1], "datatype": "INT64", "data": [3]}]},
            {"model": "bigram", "protocol": "v2", "inputs": [
                {"name": "start_word", "shape": [1], "datatype": "BYTES", "data": ["The"]},
                {"name": "length", "shape": [1], "datatype": "INT64", "data": [10 ** 6]}]},
            {"model": "bigram", "protocol": "v2", "inputs": [
                {"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}]},
        ])
        v1, v1_bad, v2, too_long, tensor = results
        # v1: one answer per instance, each the model's own JSON answer (an object, not a string)
        assert v1["ok"] and len(v1["answer"]["predictions"]) == 2, v1
        assert v1["answer"]["predictions"][0]["generated_text"].lower().startswith("the")
        # a bad instance fails its v1 request (v1 has no per-instance status) with the model's 400 naming both
        assert (v1_bad["ok"], v1_bad["status"]) == (False, 400), v1_bad
        assert json.loads(v1_bad["error"])["detail"] == {**refusal(v1_bad), "field": "length", "instance": "instances[1]"}
        # v2: the request's fields as one-value tensors; the answer's fields as tensors
        assert v2["ok"], v2
        outputs = {o["name"]: o for o in v2["answer"]["outputs"]}
        assert outputs["generated_text"]["datatype"] == "BYTES" and outputs["generated_text"]["shape"] == [1]
        assert outputs["generated_text"]["data"][0].lower().startswith("the")
        assert outputs["seed"] == {"name": "seed", "datatype": "INT64", "shape": [1], "data": [3]}
        # the model's own 400 naming the field passes through KServe's server; a real array is the OIP route's,
        # which bigram refuses naming `inputs`
        assert (too_long["ok"], too_long["status"], refusal(too_long)["field"]) == (False, 400, "length"), too_long
        assert (tensor["ok"], tensor["status"], refusal(tensor)["field"]) == (False, 400, "inputs"), tensor
        # enable_model_api=false: nothing registers at run time
        r = requests.post(f"http://127.0.0.1:{ports['management']}/models?url=bigram-1.0.mar", timeout=10)
        assert r.status_code != 200
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0  # SIGTERM: KServe's server and TorchServe stopped, a clean exit
    assert not _port_open("127.0.0.1", ports["inference"])


def refusal(result: dict) -> dict:
    """The model's own {"error", "field"} body, as KServe's server passes it on under `detail`."""
    return json.loads(result["error"])["detail"]


def kserve_client(base_url: str, cases: list[dict]) -> list[dict]:
    """docker/imagetest/kserve_client.py: KServe's own InferenceRESTClient, in KServe's virtualenv."""
    proc = subprocess.run([str(KSERVE_PYTHON), str(REPO_ROOT / "docker/imagetest/kserve_client.py"), base_url],
                          input=json.dumps(cases), capture_output=True, text=True, timeout=300, check=True)
    return json.loads(proc.stdout)


def _get(url: str) -> dict:
    try:
        return requests.get(url, timeout=2).json()
    except (requests.RequestException, ValueError):
        return {}


def _status(url: str) -> int:
    try:
        return requests.get(url, timeout=2).status_code
    except requests.RequestException:
        return 0
