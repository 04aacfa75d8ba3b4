"""A bad archive at start-up: Server.register_all skips a missing, truncated or garbage .mar with one
line naming the file and still registers every other model; archive_problem tells those cases apart. TorchServe
is replaced by a recorder here (register/set-default calls); tests/e2e/test_jvm_faults.py runs the real one."""
from __future__ import annotations

import json
import os
import zipfile

import pytest

from genai_ops.registry import load_registry
from genai_ops.server import Server, ServerError, archive_problem


def write_mar(path, version="1.0"):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("MAR-INF/MANIFEST.json", json.dumps({"model": {"modelVersion": version}}))
        z.writestr("model.onnx", os.urandom(4096))
    return path


def test_archive_problem_tells_missing_truncated_garbage_and_foreign_zips_apart(tmp_path):
    good = write_mar(tmp_path / "gan-1.0.mar")
    assert archive_problem(good) is None
    assert "no archive" in archive_problem(tmp_path / "cnn-1.0.mar") and "make archive-cnn" in \
        archive_problem(tmp_path / "cnn-1.0.mar")
    truncated = tmp_path / "cnn-1.0.mar"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    assert "truncated or corrupt" in archive_problem(truncated) and str(truncated) in archive_problem(truncated)
    garbage = tmp_path / "lstm-1.0.mar"
    garbage.write_bytes(os.urandom(5000))
    assert "not a readable model archive" in archive_problem(garbage)
    foreign = tmp_path / "bigram-1.0.mar"
    with zipfile.ZipFile(foreign, "w") as z:
        z.writestr("readme.txt", "not a model")
    assert "MAR-INF/MANIFEST.json" in archive_problem(foreign)


class Recorder(Server):
    """A Server whose TorchServe calls are recorded; `refuse` versions fail as TorchServe would refuse them."""

    def __init__(self, tmp_path, refuse=()):
        super().__init__(workdir=tmp_path, store=tmp_path / "store")
        self.calls, self.refuse = [], set(refuse)

    def register(self, spec, version, timeout_s=120):
        if (spec.name, version) in self.refuse:
            raise ServerError(f"register {spec.name} {version}: HTTP 500 Failed to load model")
        self.calls.append(("register", spec.name, version))

    def set_default(self, name, version):
        self.calls.append(("default", name, version))

    def is_up(self):
        return True


@pytest.fixture
def registry():
    full = load_registry()
    return {n: full[n] for n in ("gan", "cnn", "lstm", "bigram")}


def test_bad_archives_are_named_and_every_other_model_is_registered(tmp_path, registry, capsys):
    server = Recorder(tmp_path)
    server.store.mkdir()
    write_mar(server.store / "gan-1.0.mar")
    write_mar(server.store / "bigram-1.0.mar")
    (server.store / "cnn-1.0.mar").write_bytes(b"PK\x03\x04 truncated")
    (server.store / "lstm-1.0.mar").write_bytes(os.urandom(1000))
    problems = []
    assert server.register_all(registry, problems) == ["gan", "bigram"]
    assert ("register", "gan", "1.0") in server.calls and ("default", "bigram", "1.0") in server.calls
    assert not any(c[1] in ("cnn", "lstm") for c in server.calls)
    assert [p.split()[0] for p in problems] == ["cnn", "lstm"]
    err = capsys.readouterr().err
    for name in ("cnn-1.0.mar", "lstm-1.0.mar"):
        assert str(server.store / name) in err


def test_a_version_torchserve_refuses_is_named_and_the_model_keeps_its_other_version(tmp_path, registry):
    from genai_ops.state import State

    server = Recorder(tmp_path, refuse={("gan", "1.1")})
    server.store.mkdir()
    for v in ("1.0", "1.1"):
        write_mar(server.store / f"gan-{v}.mar", v)
    state = State(server.state_file)
    state.set_default("gan", "1.1", "1.0", ["1.0", "1.1"])  # promoted 1.1 before the restart
    state.save()
    problems = []
    assert server.register_all({"gan": registry["gan"]}, problems) == ["gan"]
    assert server.calls == [("register", "gan", "1.0"), ("default", "gan", "1.0")]
    assert len(problems) == 1 and "gan 1.1 not served" in problems[0] and "gan-1.1.mar" in problems[0]


def test_the_recorded_default_is_registered_first(tmp_path, registry):
    """TorchServe routes /predictions/<model> to the first registered version until set-default."""
    from genai_ops.state import State

    server = Recorder(tmp_path)
    server.store.mkdir()
    for v in ("1.0", "1.1"):
        write_mar(server.store / f"gan-{v}.mar", v)
    state = State(server.state_file)
    state.set_default("gan", "1.1", "1.0", ["1.0", "1.1"])
    state.save()
    server.register_all({"gan": registry["gan"]})
    assert server.calls == [("register", "gan", "1.1"), ("register", "gan", "1.0"), ("default", "gan", "1.1")]
