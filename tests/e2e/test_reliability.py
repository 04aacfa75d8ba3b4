"""Hostile input for every registry model and a killed worker, through a real TorchServe (the fast part of the
reliability suite; `make reliability` runs the whole of it against `make serve`)."""
from __future__ import annotations


import pytest

from genai_ops.registry import load_registry
from loadtests.reliability.faults import kill_worker_under_load
from loadtests.reliability.hostile import SHORT, cases_for, oversized_case, sample
from loadtests.reliability.send_corpus import check, probe
from genai_ops.server import read_properties, CONFIG_TEMPLATE

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("model", list(load_registry()))
def test_a_sample_of_every_kind_of_hostile_request_gets_its_answer_and_no_worker_dies(served, model):
    """SHORT generated cases per model, every kind among them (`make reliability` sends all 500+): each gets a
    4xx naming its field, or a correct 200 where it is valid; no 5xx; the model's worker PIDs are unchanged."""
    spec = served.spec(model)
    cases = sample(cases_for(spec))
    result = probe(served.server, spec, cases)
    assert result.tried == len(cases) == SHORT
    problems = result.server_errors + result.wrong
    assert not problems, f"{len(problems)} of {len(cases)} answered wrongly:\n" + "\n".join(problems)
    assert result.workers_kept, "a worker died (and was replaced) during the corpus"
    assert served.server.predict(spec).status_code == 200


def test_a_body_over_max_request_size_gets_413_before_any_handler(served):
    limit = int(read_properties(CONFIG_TEMPLATE)["max_request_size"])
    assert check(served.server, served.spec("gan"), oversized_case(limit)) is None


def test_a_killed_worker_is_replaced_and_every_request_after_recovery_succeeds(served):
    report = kill_worker_under_load(served.server, served.spec("gan"), clients=4, max_seconds=90)
    assert report["new_pid"] != report["killed_pid"]
    assert report["after_recovery"]["failed"] == 0 and report["after_recovery"]["ok"] >= 20
    assert report["during"]["ok"] > 0  # the load ran before, during and after the kill


def test_grpc_refuses_missing_wrong_and_swapped_tokens_and_serves_the_right_one(served):
    import grpc

    from loadtests.harness import grpc_client

    server, body = served.server, b'{"num_samples": 1, "seed": 5}'
    for token in (None, "not-the-token", server.token("management")):
        with pytest.raises(grpc.RpcError) as err:
            grpc_client.predict(server.ports["grpc_inference"], "gan", body, token)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED, token
    for token in (None, server.token("inference")):
        with pytest.raises(grpc.RpcError) as err:
            grpc_client.list_models(server.ports["grpc_management"], token)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED, token
    import json

    assert json.loads(grpc_client.predict(server.ports["grpc_inference"], "gan", body, server.token("inference")))[
        "num_samples"] == 1
    grpc_client.list_models(server.ports["grpc_management"], server.token("management"))  # no error


def test_expired_tokens_are_refused_on_inference_and_management(tmp_path):
    """A private server whose keys expire after TorchServe's minimum, one minute: before expiry both keys
    work, after it both are refused (TorchServe's 400 InvalidKeyException)."""
    import time

    from genai_ops.server import Server
    from tests.e2e.conftest import free_ports

    store = tmp_path / "model_store"
    store.mkdir()
    ports = dict(zip(("inference", "management", "metrics", "grpc_inference", "grpc_management"), free_ports(5)))
    server = Server(workdir=tmp_path, store=store, ports=ports, overrides={"token_expiration_min": "1"})
    server.start()
    try:
        issued = time.monotonic()
        assert server.call("GET", "inference", "/ping").status_code == 200
        assert server.call("GET", "management", "/models").status_code == 200
        time.sleep(max(0.0, 65 - (time.monotonic() - issued)))  # bounded: one minute and a margin
        for api, path in (("inference", "/ping"), ("management", "/models")):
            r = server.call("GET", api, path)
            assert r.status_code == 400 and "Token Authorization failed" in r.text, (api, r.status_code, r.text)
    finally:
        server.stop()
