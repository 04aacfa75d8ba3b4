"""The lifecycle tool (python -m genai_ops.ctl) end to end through a real TorchServe.

The shared server (the `served` fixture) is left as found: every test that registers a version removes it
again and the state file the tool writes there is deleted afterwards. The restart test starts its own small
server in a temp dir, so stopping it disturbs nobody.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from genai_ops.registry import REPO_ROOT
from genai_ops.server import Server
from genai_ops.state import State
from tests.e2e.conftest import free_ports

pytestmark = pytest.mark.e2e


def ctl(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """The real command line, finding the server through the run/config.properties it rendered."""
    return subprocess.run([sys.executable, "-m", "genai_ops.ctl", "--workdir", str(workdir), *args],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=400)


def archive(base: Path, model: str, version: str, registry_file: Path | None = None) -> None:
    env = None if registry_file is None else {**os.environ, "GENAI_REGISTRY": str(registry_file)}
    subprocess.run([sys.executable, "-m", "export.archive", model, "--version", version, "--base", str(base)],
                   cwd=REPO_ROOT, check=True, env=env, capture_output=True)


def registered(server: Server, name: str) -> list[str]:
    return sorted(v["modelVersion"] for v in server.versions(name))


@pytest.fixture
def shared(served):
    """The shared server, put back afterwards: registry defaults, registry versions only, no state file."""
    server, registry = served.server, served.registry
    yield served
    for name in ("cnn", "gan"):
        spec = registry[name]
        if server.default_version(name) != spec.default_version:
            server.set_default(name, spec.default_version)
        for version in registered(server, name):
            if version not in spec.versions:
                server.unregister(name, version)
    server.state_file.unlink(missing_ok=True)


class LoadLoop:
    """Threads sending the registry's sample to /predictions/<model> (the default version) until stopped,
    at most max_requests each; every status code is kept."""

    def __init__(self, server: Server, spec, threads: int = 3, max_requests: int = 2000):
        self.server, self.spec, self.max_requests = server, spec, max_requests
        self.statuses: list[int | str] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        for _ in range(self.max_requests):
            if self.stop.is_set():
                return
            try:
                status = self.server.predict(self.spec, timeout=60).status_code
            except Exception as exc:  # a reset connection is a failed request too
                status = type(exc).__name__
            with self.lock:
                self.statuses.append(status)

    def count(self) -> int:
        with self.lock:
            return len(self.statuses)

    def wait_for(self, n: int) -> None:
        while self.count() < n and any(t.is_alive() for t in self.threads):
            self.stop.wait(0.05)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=120)


def test_promote_under_load_has_no_failed_request_and_rollback_restores(shared):
    server, spec, base = shared.server, shared.spec("cnn"), shared.paths.base
    archive(base, "cnn", "1.1")
    with LoadLoop(server, spec) as load:
        load.wait_for(10)  # traffic is flowing before the promote starts
        before = load.count()
        promoted = ctl(base, "promote", "cnn", "1.1")
        during = load.count() - before
        load.wait_for(load.count() + 30)  # and keeps flowing on the new default
    print(f"\nload loop: {len(load.statuses)} requests, {during} while the promote ran")
    assert promoted.returncode == 0, promoted.stderr
    assert "promoted cnn 1.1: default 1.0 -> 1.1" in promoted.stdout
    failures = [s for s in load.statuses if s != 200]
    assert failures == [], f"{len(failures)} of {len(load.statuses)} requests failed: {failures[:10]}"
    assert during > 0, "no request ran while the promote did"
    assert server.default_version("cnn") == "1.1"
    assert registered(server, "cnn") == ["1.0", "1.1"], "the previous default stays registered for rollback"
    recorded = State.load(server.state_file).models["cnn"]
    assert (recorded.default, recorded.previous, recorded.versions) == ("1.1", "1.0", ["1.0", "1.1"])

    rolled = ctl(base, "rollback", "cnn")
    assert rolled.returncode == 0, rolled.stderr
    assert "rolled back cnn: default 1.1 -> 1.0" in rolled.stdout
    assert server.default_version("cnn") == "1.0"
    assert server.predict(spec).status_code == 200
    assert State.load(server.state_file).models["cnn"].default == "1.0"

    listed = ctl(base, "models")
    assert listed.returncode == 0, listed.stderr
    assert any(line.split()[:3] == ["cnn", "1.0", "*"] for line in listed.stdout.splitlines()), listed.stdout

    refused = ctl(base, "unregister", "cnn", "1.0")
    assert refused.returncode == 1 and "is the default" in refused.stderr
    removed = ctl(base, "unregister", "cnn", "1.1")
    assert removed.returncode == 0, removed.stderr
    assert registered(server, "cnn") == ["1.0"]


def test_a_promote_whose_smoke_request_fails_switches_nothing(shared, tmp_path):
    """gan 9.9 is a real archive of the same model whose request schema regressed (num_samples at most 2,
    built from a registry override), so the registry's sample (num_samples 4) gets a 400 from the new
    version: it loads, its workers are READY, only the smoke request can catch it."""
    server, base = shared.server, shared.paths.base
    broken = tmp_path / "models.yaml"
    text = (REPO_ROOT / "models.yaml").read_text()
    assert "num_samples: {type: int, default: 16, min: 1, max: 64}" in text
    broken.write_text(text.replace("num_samples: {type: int, default: 16, min: 1, max: 64}",
                                   "num_samples: {type: int, default: 16, min: 1, max: 2}"))
    archive(base, "gan", "9.9", registry_file=broken)
    before = server.default_version("gan")

    result = ctl(base, "promote", "gan", "9.9")
    assert result.returncode == 1
    err = result.stderr.strip()
    assert "smoke request to /predictions/gan/9.9 got HTTP 400" in err, err
    assert f"nothing switched: default is still {before}; 9.9 unregistered again" in err, err
    assert len(err.splitlines()) == 1
    assert server.default_version("gan") == before
    assert "9.9" not in registered(server, "gan")
    assert "gan" not in State.load(server.state_file).models
    assert server.predict(shared.spec("gan")).status_code == 200


def test_clear_errors_for_a_missing_archive_an_unknown_model_and_nothing_to_roll_back(shared):
    base = shared.paths.base
    missing = ctl(base, "promote", "cnn", "7.7")
    assert missing.returncode == 1 and "build it with `make archive-cnn VERSION=7.7`" in missing.stderr
    unknown = ctl(base, "promote", "resnet", "1.0")
    assert unknown.returncode == 1 and "unknown model 'resnet'" in unknown.stderr
    nothing = ctl(base, "rollback", "gan")
    assert nothing.returncode == 1 and "records no previous default" in nothing.stderr
    not_registered = ctl(base, "default", "gan", "3.0")
    assert not_registered.returncode == 1 and "gan 3.0 is not registered" in not_registered.stderr
    assert shared.server.default_version("cnn") == "1.0"


def test_restart_keeps_the_promoted_default_and_token_rotation(served, tmp_path):
    """A private server: promote gan 1.1, restart, and the same versions and default come back."""
    archive(served.paths.base, "gan", "1.1")
    store = tmp_path / "model_store"
    store.mkdir()
    for version in ("1.0", "1.1"):
        shutil.copy2(served.paths.model_store / f"gan-{version}.mar", store)
    ports = dict(zip(("inference", "management", "metrics", "grpc_inference", "grpc_management"), free_ports(5)))
    server = Server(workdir=tmp_path, store=store, ports=ports)
    spec = served.spec("gan")
    server.start()
    try:
        assert server.register_all(served.registry) == ["gan"]
        assert server.default_version("gan") == "1.0"  # no state yet: the registry's default
        promoted = ctl(tmp_path, "promote", "gan", "1.1")
        assert promoted.returncode == 0, promoted.stderr

        old_inference, old_management = server.token("inference"), server.token("management")
        rotated = ctl(tmp_path, "token", "rotate")
        assert rotated.returncode == 0, rotated.stderr
        assert server.token("inference") != old_inference and server.token("management") != old_management
        assert server.call("GET", "management", "/models", token=old_management).status_code == 400
        assert server.predict(spec).status_code == 200  # the new key from the file
        assert server.call("POST", "inference", "/predictions/gan", token=old_inference,
                           data=b"{}", headers={"Content-Type": "application/json"}).status_code == 400

        server.stop()
        down = ctl(tmp_path, "models")
        assert down.returncode == 1 and "TorchServe is not answering" in down.stderr

        server.start()
        assert server.register_all(served.registry) == ["gan"]
        assert server.default_version("gan") == "1.1"
        assert registered(server, "gan") == ["1.0", "1.1"]
        assert server.predict(spec).status_code == 200
        rolled = ctl(tmp_path, "rollback", "gan")  # the previous default survived the restart too
        assert rolled.returncode == 0, rolled.stderr
        assert server.default_version("gan") == "1.0"
    finally:
        server.stop()
