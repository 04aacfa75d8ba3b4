"""The deployment start-up paths against a real TorchServe, on the host (no Docker here):

  * docker/entrypoint.sh, run directly: renders the config from GENAI_* settings, starts TorchServe in the
    foreground, registers the registry's archives, writes run/ready, answers with the token, and stops
    cleanly on SIGTERM (what `docker stop` / Kubernetes send);
  * `make kserve-bundle`'s config.properties, started by TorchServe as KServe's runtime starts it: the models
    load from model_snapshot alone (no register call) and answer KServe v1 requests on the loopback port.

One small real archive (bigram: trained on seed 1's sentences in a second) built through the project's own
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
from genai_serve import probe
from genai_serve.registry import REPO_ROOT, Paths, load_registry
from genai_serve.server import LOG_CONFIG, Server, _bin, _port_open
from tests.e2e.conftest import free_ports
from training.text_data import FIXTURES

pytestmark = pytest.mark.e2e
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


def test_kserve_bundle_config_loads_models_from_the_snapshot(bigram_store, tmp_path):
    registry = load_registry()
    bundle = tmp_path / "bundle"
    kserve_bundle.build_bundle(bundle, [registry["bigram"]], bigram_store)
    # The bundle's own config, with only the mount point and ports moved for this host (KServe: /mnt/models).
    ports = dict(zip(PORT_NAMES, free_ports(5)))
    config = tmp_path / "config.properties"
    config.write_text(kserve_bundle.render_config([registry["bigram"]], bigram_store.model_store, mount=str(bundle),
                                                  ports=ports))
    workdir = tmp_path / "state"
    server = Server(workdir=workdir, store=bundle / "model-store", ports=ports)
    (server.run_dir / "tmp").mkdir(parents=True)
    (workdir / "logs").mkdir()
    cmd = [_bin("torchserve"), "--start", "--ncs", "--foreground", f"--model-store={bundle}/model-store",
           f"--ts-config={config}", "--log-config", str(LOG_CONFIG)]
    proc = subprocess.Popen(cmd, cwd=workdir, env=server.env(), stdout=subprocess.DEVNULL)
    try:
        models = server.url("management", "/models")
        wait_for(lambda: _get(models).get("models"), 120, "models from model_snapshot", proc)
        wait_for(lambda: _status(server.url("inference", "/ping")) == 200, 120, "/ping", proc)
        assert not (workdir / "key_file.json").exists()  # token auth off behind KServe's wrapper (loopback only)
        r = requests.post(server.url("inference", "/v1/models/bigram:predict"), timeout=60,
                          json={"instances": [{"start_word": "The", "length": 5}]})
        assert r.status_code == 200, r.text
        # KServe v1 envelope: {"predictions": [...]}, one per instance; each is the handler's JSON body as a
        # string (the handlers return serialised JSON, which the envelope does not re-parse).
        (prediction,) = r.json()["predictions"]
        assert json.loads(prediction)["generated_text"].lower().startswith("the")
        r = requests.post(server.url("management", "/models?url=bigram-1.0.mar"), timeout=10)
        assert r.status_code != 200  # enable_model_api=false: nothing registers at run time
    finally:
        server.stop()
        proc.wait(timeout=30)


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
