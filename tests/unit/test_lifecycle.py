"""The lifecycle tool without a server: the state file, start-up planning, argument parsing, clear errors."""
from __future__ import annotations

import json

import pytest

from genai_ops import ctl
from genai_ops.registry import load_registry
from genai_ops.server import Server, ServerError
from genai_ops.state import State, StateError, locked, version_key
from tests.e2e.conftest import free_ports


def test_a_missing_state_file_is_an_empty_state_and_save_round_trips(tmp_path):
    path = tmp_path / "run" / "state.json"
    state = State.load(path)
    assert state.models == {}
    state.set_default("cnn", "1.1", previous="1.0", registered=["1.0"])
    state.save()
    again = State.load(path)
    assert again.models["cnn"].default == "1.1"
    assert again.models["cnn"].previous == "1.0"
    assert again.models["cnn"].versions == ["1.0", "1.1"]
    assert not list(path.parent.glob(".state.json.*")), "no temp file left behind"


def test_setting_the_same_default_again_keeps_the_recorded_previous(tmp_path):
    state = State(tmp_path / "state.json")
    state.set_default("cnn", "1.1", previous="1.0", registered=["1.0", "1.1"])
    state.set_default("cnn", "1.1", previous="1.1", registered=["1.0", "1.1"])
    assert state.previous("cnn") == "1.0"


def test_rollback_toggles_default_and_previous(tmp_path):
    state = State(tmp_path / "state.json")
    state.set_default("gan", "2.0", previous="1.0", registered=["1.0", "2.0"])
    state.set_default("gan", state.previous("gan"), previous="2.0", registered=["1.0", "2.0"])
    assert (state.models["gan"].default, state.previous("gan")) == ("1.0", "2.0")


def test_unregistering_the_previous_version_forgets_it(tmp_path):
    state = State(tmp_path / "state.json")
    state.set_default("gan", "2.0", previous="1.0", registered=["1.0", "2.0"])
    state.set_versions("gan", default="2.0", registered=["2.0"])
    assert state.previous("gan") is None and state.models["gan"].versions == ["2.0"]


def test_a_corrupt_state_file_is_a_clear_error(tmp_path):
    path = tmp_path / "state.json"
    path.write_text('{"models": {"cnn": {"versions": ["1.0"]}}}')  # no default
    with pytest.raises(StateError, match="not a lifecycle state file"):
        State.load(path)
    path.write_text("not json")
    with pytest.raises(StateError, match="fix or delete it"):
        State.load(path)


@pytest.mark.parametrize("entry, available, expected", [
    (None, {"1.0"}, (["1.0"], "1.0")),                                     # no state: the registry
    ({"default": "1.1", "versions": ["1.0", "1.1"]}, {"1.0", "1.1"}, (["1.0", "1.1"], "1.1")),  # promoted
    ({"default": "1.1", "versions": ["1.0", "1.1"]}, {"1.0"}, (["1.0"], "1.0")),  # its archive is gone
    ({"default": "1.1", "versions": ["1.1"]}, {"1.0", "1.1"}, (["1.1"], "1.1")),  # 1.0 was unregistered
    ({"default": "2.0", "versions": ["2.0"]}, set(), ([], None)),            # nothing left to serve
    ({"default": "9.0", "versions": ["1.9", "1.10"]}, {"1.9", "1.10"}, (["1.9", "1.10"], "1.10")),
])
def test_start_up_plan(tmp_path, entry, available, expected):
    state = State(tmp_path / "state.json")
    if entry:
        state.set_default("cnn", entry["default"], None, entry["versions"])
        state.models["cnn"].versions = entry["versions"]
    assert state.plan("cnn", ("1.0",), "1.0", available) == expected


def test_versions_sort_numerically():
    assert sorted(["1.10", "1.9", "2.0", "1.0"], key=version_key) == ["1.0", "1.9", "1.10", "2.0"]


def test_a_second_mutating_command_is_refused_while_one_runs(tmp_path):
    path = tmp_path / "state.json"
    with locked(path):
        with pytest.raises(StateError, match="another lifecycle command"):
            with locked(path, wait=False):
                pass
    with locked(path, wait=False):  # released
        pass


@pytest.mark.parametrize("argv, expected", [
    (["models"], {"command": "models"}),
    (["describe", "cnn"], {"command": "describe", "model": "cnn", "version": None}),
    (["promote", "cnn", "1.1", "--timeout", "30"], {"command": "promote", "model": "cnn", "version": "1.1", "timeout": 30.0}),
    (["scale", "gan", "--version", "1.0", "--min", "2", "--max", "3"],
     {"model": "gan", "version": "1.0", "min_workers": 2, "max_workers": 3}),
    (["rollback", "gan"], {"command": "rollback", "model": "gan"}),
    (["token", "rotate"], {"action": "rotate", "token_type": "all"}),
    (["token", "rotate", "--type", "management"], {"token_type": "management"}),
])
def test_arguments(argv, expected):
    args = vars(ctl.parser().parse_args(argv))
    assert {k: args[k] for k in expected} == expected


@pytest.mark.parametrize("argv", [[], ["promote", "cnn"], ["scale", "gan", "--min", "1"], ["token", "renew"],
                                  ["explode"], ["token", "rotate", "--type", "API"]])
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        ctl.main(argv)
    assert exc.value.code == 2


def closed_server(tmp_path) -> Server:
    ports = dict(zip(("inference", "management", "metrics", "grpc_inference", "grpc_management"), free_ports(5)))
    return Server(workdir=tmp_path, store=tmp_path / "model_store", ports=ports)


def test_server_down_is_one_line_and_exit_1(tmp_path, capsys):
    server = closed_server(tmp_path)
    assert ctl.main(["promote", "cnn", "1.1"], server=server) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: TorchServe is not answering on http://127.0.0.1:") and "\n" not in err


def test_management_calls_name_the_missing_key_file_and_the_closed_port(tmp_path):
    server = closed_server(tmp_path)
    with pytest.raises(ServerError, match="no .*key_file.json"):
        server.models()
    server.key_file.write_text(json.dumps({"management": {"key": "k"}}))
    with pytest.raises(ServerError, match="not answering"):
        server.models()


def test_unknown_model_and_missing_archive_messages(tmp_path):
    registry = load_registry()
    with pytest.raises(ServerError, match="unknown model 'nope'; models.yaml has .*cnn"):
        ctl.spec_of(registry, "nope")
    with pytest.raises(ServerError, match=r"no archive .*cnn-7\.0\.mar: build it with `make archive-cnn VERSION=7.0`"):
        ctl.require_archive(closed_server(tmp_path), registry["cnn"], "7.0")


def test_server_at_reads_the_ports_and_store_the_server_rendered(tmp_path):
    server = closed_server(tmp_path)
    server.render_config()
    found = Server.at(tmp_path)
    assert found.ports == server.ports
    assert found.store == server.store.resolve()
    assert found.state_file == tmp_path / "run" / "state.json"
