"""The container's start-up logic without a server: binds from the environment, key renewal, the probe,
the store check, and the GPU path's CPU fallback (no GPU here; CI stays CPU-only)."""
from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from genai_ops import container, probe
from genai_ops.registry import load_registry
from genai_serve.runtime import available_cores, make_session, torch_device
from genai_ops.server import Server, read_properties


def rendered(server: Server) -> dict[str, str]:
    return read_properties(server.render_config())


# -- binds ------------------------------------------------------------------------------------------------
def test_default_render_binds_everything_to_loopback(tmp_path):
    cfg = rendered(Server(workdir=tmp_path, store=tmp_path / "store"))
    for key in ("inference_address", "management_address", "metrics_address"):
        assert cfg[key].startswith("http://127.0.0.1:")
    assert cfg["grpc_inference_address"] == cfg["grpc_management_address"] == "127.0.0.1"


def test_container_binds_come_from_explicit_settings_and_tokens_stay_on(tmp_path):
    env = {"GENAI_WORKDIR": str(tmp_path), "GENAI_MODEL_STORE": str(tmp_path / "store"), "GENAI_BIND": "0.0.0.0",
           "GENAI_PORTS": "inference=18080,metrics=18082"}
    server = container.server_from_env(env)
    cfg = rendered(server)
    assert cfg["inference_address"] == "http://0.0.0.0:18080"
    assert cfg["metrics_address"] == "http://0.0.0.0:18082"
    assert cfg["management_address"] == "http://127.0.0.1:8081"  # not exposed unless GENAI_MANAGEMENT_BIND says so
    assert cfg["grpc_inference_address"] == cfg["grpc_management_address"] == "127.0.0.1"  # CVE-2024-35199
    assert cfg["disable_token_authorization"] == "false"
    assert cfg["allowed_urls"].startswith("file://") and cfg["model_store"] == str((tmp_path / "store").resolve())
    assert server.host == "127.0.0.1"  # the entrypoint itself talks to the server over loopback


def test_config_template_and_overrides(tmp_path):
    template = tmp_path / "cm.properties"
    template.write_text("inference_address=http://127.0.0.1:8080\njob_queue_size=7\n")
    server = Server(workdir=tmp_path, store=tmp_path, template=template, overrides={"job_queue_size": "9", "x": "1"})
    cfg = rendered(server)
    assert cfg["job_queue_size"] == "9" and cfg["x"] == "1"


def test_unknown_port_name_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="unknown port name"):
        container.server_from_env({"GENAI_PORTS": "inferense=1"})


# -- model store ------------------------------------------------------------------------------------------
def test_check_store_refuses_an_empty_store_and_lists_archives(tmp_path):
    with pytest.raises(SystemExit, match="make archive"):
        container.check_store(tmp_path)
    (tmp_path / "bigram-1.0.mar").write_bytes(b"x")
    (tmp_path / "unrelated.mar").write_bytes(b"x")  # not in the registry: never registered
    assert container.check_store(tmp_path) == ["bigram-1.0.mar"]


# -- key renewal ------------------------------------------------------------------------------------------
class FakeServer:
    def __init__(self, key_file: Path):
        self.key_file, self.calls = key_file, []

    def call(self, method, api, path, token=None, **kwargs):
        self.calls.append((method, api, path, token))
        return type("R", (), {"status_code": 200, "text": ""})()


def test_keys_are_renewed_only_near_expiry(tmp_path):
    now = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
    keys = {"inference": {"key": "i", "expiration time": "2026-01-01T12:03:00.0Z"},
            "management": {"key": "m", "expiration time": "2026-01-01T12:59:00.0Z"}, "API": {"key": "api"}}
    (tmp_path / "key_file.json").write_text(json.dumps(keys))
    fake = FakeServer(tmp_path / "key_file.json")
    assert container.renew_keys(fake, now=now) == ["inference"]
    assert fake.calls == [("POST", "management", "/token?type=inference", "api")]  # with the API key


# -- probe ------------------------------------------------------------------------------------------------
class PingHandler(BaseHTTPRequestHandler):
    def do_GET(self):  # like TorchServe 0.12: /ping needs the inference token
        ok = self.path == "/ping" and self.headers.get("Authorization") == "Bearer secret"
        self.send_response(200 if ok else 400)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def ping_server():
    httpd = HTTPServer(("127.0.0.1", 0), PingHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()


def test_probe_reads_the_token_and_waits_for_ready(tmp_path, ping_server):
    assert probe.probe(tmp_path, ping_server, ready=False)[0] is False  # no key file yet
    (tmp_path / "key_file.json").write_text(json.dumps({"inference": {"key": "wrong"}}))
    assert probe.probe(tmp_path, ping_server, ready=False) == (False, "/ping 400")
    (tmp_path / "key_file.json").write_text(json.dumps({"inference": {"key": "secret"}}))
    assert probe.probe(tmp_path, ping_server, ready=False) == (True, "/ping 200")
    ok, why = probe.probe(tmp_path, ping_server, ready=True)
    assert not ok and "run/ready" in why
    (tmp_path / "run").mkdir()
    (tmp_path / probe.READY_FILE).write_text("{}")
    assert probe.main(["--ready", "--port", str(ping_server), "--workdir", str(tmp_path)]) == 0


def test_probe_port_follows_the_container_ports():
    assert probe.inference_port({}) == 8080
    assert probe.inference_port({"GENAI_PORTS": "metrics=9,inference=9080"}) == 9080


def test_probe_fails_when_nothing_listens(tmp_path):
    (tmp_path / "key_file.json").write_text(json.dumps({"inference": {"key": "secret"}}))
    ok, why = probe.probe(tmp_path, 1, ready=False, timeout=1)
    assert not ok and "unreachable" in why


# -- threads and devices ----------------------------------------------------------------------------------
def test_available_cores_respects_a_cgroup_cpu_quota(tmp_path):
    cpu_max = tmp_path / "cpu.max"
    unlimited = available_cores(tmp_path / "missing")
    cpu_max.write_text("max 100000\n")
    assert available_cores(cpu_max) == unlimited
    cpu_max.write_text("150000 100000\n")  # 1.5 CPUs -> 2 threads at most
    assert available_cores(cpu_max) == min(unlimited, 2)
    cpu_max.write_text("10000 100000\n")  # a tenth of a CPU still gets one thread
    assert available_cores(cpu_max) == 1


def test_torch_device_falls_back_to_cpu(monkeypatch):
    import torch

    assert torch_device(None).type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert torch_device(0).type == "cpu"  # TorchServe assigned a GPU, but CUDA is not usable here
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index: f"GPU {index}")
    assert str(torch_device("1")) == "cuda:1"  # TorchServe passes gpu_id as given in the properties
    assert torch_device(2).type == "cpu"  # a gpu_id past the GPUs torch sees: the CPU, with the reason recorded


def test_onnx_session_with_a_gpu_id_falls_back_to_cpu(relu_onnx):
    session = make_session(relu_onnx, threads=1, gpu_id=0)  # onnxruntime (CPU build) has no CUDA provider
    assert session.get_providers() == ["CPUExecutionProvider"]


def test_ebm_handler_with_a_gpu_id_runs_on_cpu_with_the_same_output(handler_factory, monkeypatch):
    import torch

    from tests.conftest import ask

    cpu_handler, ctx = handler_factory("ebm")
    request = {"num_samples": 2, "steps": 3, "seed": 5}
    [expected] = ask(cpu_handler, ctx, [request])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    ctx.system_properties["gpu_id"] = 0  # as if TorchServe had assigned GPU 0 on a machine without CUDA
    cpu_handler.initialize(ctx)
    assert cpu_handler.engine.device.type == "cpu"
    [again] = ask(cpu_handler, ctx, [request])
    assert again.json() == expected.json()


def test_archive_writes_device_type_for_the_gpu_image():
    from export.archive import model_config_yaml

    registry = load_registry()
    spec = registry["cnn"]
    assert "deviceType" not in model_config_yaml(spec, registry)
    assert model_config_yaml(spec, registry, "gpu")["deviceType"] == "gpu"


def test_kubernetes_configmap_renders_with_the_deployment_settings(tmp_path):
    """The pod's path: the ConfigMap as GENAI_CONFIG plus the Deployment's env -> the config TorchServe reads."""
    import yaml

    from genai_ops.registry import REPO_ROOT

    cm = yaml.safe_load((REPO_ROOT / "deploy/k8s/configmap.yaml").read_text())
    (tmp_path / "config.properties").write_text(cm["data"]["config.properties"])
    deployment = yaml.safe_load((REPO_ROOT / "deploy/k8s/deployment.yaml").read_text())
    env = {e["name"]: e["value"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    env.update(GENAI_CONFIG=str(tmp_path / "config.properties"), GENAI_WORKDIR=str(tmp_path / "state"))
    cfg = rendered(container.server_from_env(env))
    assert cfg["inference_address"] == "http://0.0.0.0:8080" and cfg["metrics_address"] == "http://0.0.0.0:8082"
    assert cfg["management_address"] == "http://127.0.0.1:8081"
    assert cfg["grpc_inference_address"] == "127.0.0.1" and cfg["disable_token_authorization"] == "false"


# -- supervision: TorchServe dies -> restarted, a bounded number of times ----------------------------------------
class DyingProc:
    """A launcher that lives for `polls` polls (None: until stopped); `returncode` 0 as TorchServe's launcher
    returns after its JVM was killed."""

    def __init__(self, polls=None):
        self.polls, self.returncode = polls, None

    def poll(self):
        if self.returncode is None and self.polls is not None:
            self.polls -= 1
            if self.polls < 0:
                self.returncode = 0
        return self.returncode

    def wait(self, timeout=None):
        self.returncode = 0 if self.returncode is None else self.returncode
        return self.returncode


class SupervisedFake:
    """What container.run needs of a Server, with TorchServe replaced by DyingProc launchers."""

    def __init__(self, tmp_path, polls=2):
        self.workdir, self.store, self.polls = tmp_path, tmp_path / "store", polls
        self.run_dir, self.key_file = tmp_path / "run", tmp_path / "key_file.json"
        self.store.mkdir()
        self.run_dir.mkdir()
        (self.store / "gan-1.0.mar").write_bytes(b"x")  # check_store only looks for names
        self.key_file.write_text("{}")
        self.starts, self.stops, self.ready_seen = 0, 0, []

    def start_foreground(self, timeout):
        self.starts += 1
        self.proc = DyingProc(self.polls)
        return self.proc

    def register_all(self, registry, problems=None):
        problems.append("cnn 1.0 not served: no archive cnn-1.0.mar")
        self.ready_seen.append((self.workdir / probe.READY_FILE).exists())  # removed while TorchServe restarts
        return ["gan"]

    def stop(self):
        self.stops += 1
        self.proc.returncode = 0


def test_a_dead_torchserve_is_restarted_until_the_restart_budget_is_spent(tmp_path, monkeypatch):
    monkeypatch.setattr(container.signal, "signal", lambda *args: None)  # keep pytest's own handlers
    fake = SupervisedFake(tmp_path)
    assert container.run(fake, poll_s=0.01, max_restarts=2) == 1  # the third death in the window: give up
    assert fake.starts == 3 and fake.ready_seen == [False, False, False]
    assert not (tmp_path / probe.READY_FILE).exists()


def test_serve_once_writes_ready_with_the_problems_and_stops_torchserve_on_a_signal(tmp_path):
    fake = SupervisedFake(tmp_path, polls=None)
    stopping = []
    fake.register_all = lambda registry, problems: (problems.append("cnn 1.0 not served"),
                                                    stopping.append(15), ["gan"])[-1]
    assert container.serve_once(fake, stopping, poll_s=0.01, timeout=1) == 0
    assert fake.stops == 1 and not (tmp_path / probe.READY_FILE).exists()


def test_workers_left_by_a_dead_jvm_are_killed_and_other_servers_workers_are_not(tmp_path):
    import subprocess
    import sys

    fake = SupervisedFake(tmp_path)
    sleep = "import time; time.sleep(60)"
    ours = subprocess.Popen([sys.executable, "-c", sleep, "/x/ts/model_service_worker.py", "--sock-name",
                             str(tmp_path / "run" / "tmp" / ".ts.sock.9000")])
    other = subprocess.Popen([sys.executable, "-c", sleep, "/x/ts/model_service_worker.py", "--sock-name",
                              str(tmp_path / "elsewhere" / ".ts.sock.9000")])
    try:
        assert container.kill_stray_workers(fake) == [ours.pid]
        assert ours.wait(timeout=10) is not None and other.poll() is None
    finally:
        for proc in (ours, other):
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
