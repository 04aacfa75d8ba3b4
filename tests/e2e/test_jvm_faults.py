"""Faults beyond a worker kill through the container entrypoint, on a private server built from
the shared fixture's archives (never the shared JVM): a truncated and a garbage .mar at start are named and the
good model is served; a `kill -9` of the JVM under load is followed by a restart that brings back the promoted
version and default from run/state.json, and every request sent after recovery succeeds."""
from __future__ import annotations

import pytest

from genai_ops import ctl
from loadtests.reliability.jvm_faults import (bad_archives_named, build_store, kill_jvm_under_load,
                                                start_supervised, stop_supervised)

pytestmark = pytest.mark.e2e

CORRUPT = ("cnn", "lstm")  # cnn's archive cut in half, lstm's random bytes


@pytest.fixture(scope="module")
def supervised(served, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("jvm-faults")
    store = build_store(served.paths, workdir, "gan", "1.1", CORRUPT)
    sup = start_supervised(workdir, store)
    try:
        yield sup, store
    finally:
        assert stop_supervised(sup) == 0  # SIGTERM: TorchServe stopped, the entrypoint exits cleanly


def test_bad_archives_at_start_are_named_and_the_good_model_is_served(served, supervised):
    sup, store = supervised
    ready = sup.ready()
    assert ready["models"] == ["gan"]
    assert bad_archives_named(sup, store, CORRUPT) == {str(store / "cnn-1.0.mar"): True,
                                                       str(store / "lstm-1.0.mar"): True}
    problems = {p.split()[0]: p for p in ready["problems"]}
    assert "truncated or corrupt" in problems["cnn"] and "truncated or corrupt" in problems["lstm"]
    assert "no archive" in problems["bigram"]  # absent from this store: named too
    assert sup.server.predict(served.spec("gan")).status_code == 200


def test_a_killed_jvm_comes_back_with_its_promoted_default_and_every_request_after_succeeds(served, supervised):
    sup, store = supervised
    assert ctl.main(["--workdir", str(sup.server.workdir), "promote", "gan", "1.1"], server=sup.server) == 0
    r = kill_jvm_under_load(sup, served.spec("gan"), clients=4, after_s=3.0, max_seconds=240)
    assert r["recovered"], sup.log_text()[-3000:]
    assert r["before"] == {"gan": {"versions": ["1.0", "1.1"], "default": "1.1"}}
    assert r["restored_ok"], (r["before"], r["restored"])
    assert r["after_recovery"]["failed"] == 0 and r["after_recovery"]["ok"] > 0
    assert r["new_pid"] != r["killed_pid"] and r["old_workers_left"] == []
    assert all(bad_archives_named(sup, store, CORRUPT).values())  # named again by the restart
    assert "restarting it" in sup.log_text()
