"""The peers (loadtests/peer_fastapi.py, loadtests/peer_litserve.py), each started as a real subprocess
on a free loopback port through its command line, on cnn and gan really exported from random weights
(tests/conftest.py random_exports): the same input gives the same answer as our handler called in-process
(loadtests/inprocess.py), concurrent requests all succeed and are batched, a bad request gets our 4xx naming the
field without failing its batch-mates, tokens are checked against the key file, and the project's Locust users run
against a peer unchanged. No test asserts a speed (docs/BENCHMARKS.md holds the measurements)."""
from __future__ import annotations

import base64
import json
import threading

import pytest
import requests

from loadtests.harness.locust_run import multipart_file
from loadtests.peer_common import PEERS, peer_server
from tests.conftest import make_handler
from tests.e2e.test_serving import BAD_INPUTS
from tests.unit.test_handlers import png

MODELS = ["cnn", "gan"]


@pytest.fixture(scope="module", params=PEERS)
def peer(request, random_exports, tmp_path_factory):
    """(peer name, base URL, headers with the inference token, key file) for one running peer."""
    key_file = tmp_path_factory.mktemp(f"peer-{request.param}") / "key_file.json"
    with peer_server(request.param, MODELS, base=random_exports.base, key_file=key_file, timeout_s=90) as (url, _):
        token = json.loads(key_file.read_text())["inference"]["key"]
        yield request.param, url, {"Authorization": f"Bearer {token}"}, key_file


@pytest.fixture(scope="module")
def ours(random_exports, tmp_path_factory):
    """Our cnn and gan handlers in-process; ours[model](request dict) -> (status, JSON body) as TorchServe answers."""
    tmp = tmp_path_factory.mktemp("ours")
    handlers = {m: make_handler(m, random_exports, tmp) for m in MODELS}

    def answer(model: str, request: dict) -> tuple[int, dict]:
        handler, context = handlers[model]
        context.new_call()
        (out,) = handler.handle([request], context)  # as TorchServe calls it, with a batch of one
        return context.status.get(0, (200, ""))[0], json.loads(out)

    return answer


def post(url: str, model: str, headers: dict, body: bytes, content_type: str) -> requests.Response:
    return requests.post(f"{url}/predictions/{model}", data=body, headers={**headers, "Content-Type": content_type},
                         timeout=60)


def gan_body(seed: int, n: int = 4, layout: str = "grid") -> bytes:
    return json.dumps({"num_samples": n, "seed": seed, "return": layout}).encode()


def test_same_input_same_answer_as_our_handler(peer, ours):
    _, url, headers, _ = peer
    image = png((20, 120, 200), (50, 37))
    # cnn: raw image bytes (what the Locust user sends), a multipart `file` (the sps-genai app's shape), base64 JSON with topk
    r = post(url, "cnn", headers, image, "image/png")
    assert r.status_code == 200 and r.headers["X-Batch-Size"], r.text
    assert r.json() == ours("cnn", {"body": image})[1]
    body, content_type = multipart_file(image)
    assert post(url, "cnn", headers, body, content_type).json() == ours("cnn", {"file": image})[1]
    as_json = {"image": base64.b64encode(image).decode(), "topk": 5}
    r = post(url, "cnn", headers, json.dumps(as_json).encode(), "application/json")
    assert r.json() == ours("cnn", {"body": as_json})[1] and len(r.json()["topk"]) == 5
    # gan: the same seed gives the same PNG grid, and the same PNGs one by one; form fields work as at TorchServe
    for layout in ("grid", "images"):
        r = post(url, "gan", headers, gan_body(7, 4, layout), "application/json")
        assert r.status_code == 200, r.text
        assert r.json() == ours("gan", {"body": json.loads(gan_body(7, 4, layout))})[1]
    r = post(url, "gan", headers, b"num_samples=2&seed=3", "application/x-www-form-urlencoded")
    assert r.json() == ours("gan", {"num_samples": b"2", "seed": b"3"})[1]


# Every bad input the end-to-end suite sends TorchServe, plus a few more: each refused with a 4xx naming the field.
BAD = BAD_INPUTS + [
    ("gan", b'{"num_samples": 2, "return": "gif"}', "application/json", "return"),
    ("cnn", b'{"image": "not base64!", "topk": 1}', "application/json", "image"),
    ("cnn", b'{"topk": 3}', "application/json", "image"),
]


@pytest.mark.parametrize("model, body, content_type, field", BAD)
def test_bad_input_gets_our_4xx_naming_the_field(peer, ours, model, body, content_type, field):
    _, url, headers, _ = peer
    r = post(url, model, headers, body, content_type)
    request = {"body": body if content_type != "application/json" else _maybe_json(body)}
    status, expected = ours(model, request)
    assert 400 <= r.status_code < 500 and r.status_code == status, r.text
    assert r.json()["field"] == field == expected["field"]
    if " at 0x" not in expected["error"]:  # Pillow's message quotes an object address, which differs by process
        assert r.json() == expected


def _maybe_json(body: bytes):
    """A JSON body as TorchServe hands it over: parsed when it parses, else the bytes."""
    try:
        return json.loads(body)
    except ValueError:
        return body


def test_concurrent_requests_all_succeed_and_are_batched_with_bad_ones_refused_alone(peer, ours):
    """32 requests released together (every fourth one bad): the good ones get exactly our answers, the bad ones
    their 400, and the peer batched some of them (X-Batch-Size, and the counts behind GET /stats)."""
    _, url, headers, _ = peer
    image = png((90, 200, 40), (33, 33))
    expected_cnn = ours("cnn", {"body": image})[1]
    jobs = []
    for i in range(32):
        if i % 4 == 3:
            jobs.append(("gan", b'{"num_samples": 0}', "application/json", None))
        elif i % 2:  # each its own seed: its grid must not depend on the batch it landed in
            body = gan_body(100 + i, 2)
            jobs.append(("gan", body, "application/json", ours("gan", {"body": json.loads(body)})[1]))
        else:
            jobs.append(("cnn", image, "image/png", expected_cnn))
    sizes_seen = []
    for _ in range(3):  # a loaded machine may start the threads too far apart to batch: a few rounds at most
        replies = send_together(url, headers, jobs)
        for (model, _, _, expected), r in zip(jobs, replies):
            if expected is None:
                assert r.status_code == 400 and r.json()["field"] == "num_samples", r.text
            else:
                assert r.status_code == 200 and r.json() == expected, (model, r.status_code, r.text[:200])
        sizes_seen += [int(r.headers["X-Batch-Size"]) for r in replies if r.status_code == 200]
        if max(sizes_seen) > 1:
            break
    assert max(sizes_seen) > 1, sizes_seen
    assert max(sizes_seen) <= 16  # the registry's batchSize for cnn and gan
    counted = requests.get(f"{url}/stats", timeout=10).json()["requests_by_batch_size"]
    assert max(int(size) for model in MODELS for size in counted.get(model, {})) > 1, counted


def send_together(url: str, headers: dict, jobs: list) -> list[requests.Response]:
    barrier, replies = threading.Barrier(len(jobs)), [None] * len(jobs)

    def one(i, model, body, content_type):
        barrier.wait(timeout=30)
        replies[i] = post(url, model, headers, body, content_type)

    threads = [threading.Thread(target=one, args=(i, *job[:3])) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(r is not None for r in replies), "a request got no answer"
    return replies


def test_a_missing_or_wrong_token_is_refused(peer):
    _, url, headers, _ = peer
    for bad in ({}, {"Authorization": "Bearer not-the-token"}):
        r = post(url, "gan", bad, gan_body(1), "application/json")
        assert r.status_code == 400 and "Token Authorization failed" in r.text, (bad, r.status_code, r.text)
    assert post(url, "gan", headers, gan_body(1), "application/json").status_code == 200


def test_the_projects_locust_users_run_against_the_peer_unchanged(peer):
    from loadtests.harness.locust_run import run_locust

    _, url, _, key_file = peer
    result = run_locust(url, ",".join(MODELS), 4, "3s", env={"GENAI_KEY_FILE": str(key_file)})
    assert result.failures == 0 and result.requests > 0, result


def test_the_micro_batcher_takes_up_to_batch_size_then_waits_at_most_max_delay():
    """peer_fastapi's batching rule in-process, on a stand-in handler: ten requests at once are batched 4 + 4 + 2
    (batchSize 4), and a lone request is answered alone once maxBatchDelay has passed."""
    import asyncio
    import time

    from loadtests.peer_common import PeerModel
    from loadtests.peer_fastapi import MicroBatcher

    sizes = []

    class Handler:
        def infer(self, items):
            sizes.append(len(items))
            return [{"item": item} for item in items]

    model = PeerModel("stand-in", "1.0", Handler(), batch_size=4, max_delay_s=0.05, queue_size=100)

    async def scenario():
        batcher = MicroBatcher(model)
        batcher.start()
        together = await asyncio.gather(*(batcher.submit(i) for i in range(10)))
        started = time.perf_counter()
        alone = await batcher.submit("alone")
        waited = time.perf_counter() - started
        for task in batcher.tasks:
            task.cancel()
        batcher.thread.shutdown()
        return together, alone, waited

    together, alone, waited = asyncio.run(scenario())
    assert sizes == [4, 4, 2, 1]
    assert [json.loads(body)["item"] for (_, body), _ in together] == list(range(10))  # each its own answer
    assert [size for _, size in together] == [4] * 8 + [2] * 2
    assert alone == ((200, b'{"item": "alone"}'), 1) and waited >= 0.045  # not a speed: it waited for more


def test_the_micro_batcher_keeps_max_workers_batches_in_flight():
    """With the registry's maxWorkers = 2, two batches run at once (as two TorchServe workers), never three."""
    import asyncio
    import threading
    import time

    from loadtests.peer_common import PeerModel
    from loadtests.peer_fastapi import MicroBatcher

    running, peak, lock = [0], [0], threading.Lock()

    class Handler:
        def infer(self, items):
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            time.sleep(0.2)  # long enough that the other collector's batch starts while this one runs
            with lock:
                running[0] -= 1
            return [{"item": item} for item in items]

    model = PeerModel("stand-in", "1.0", Handler(), batch_size=4, max_delay_s=0.01, queue_size=100, workers=2)

    async def scenario():
        batcher = MicroBatcher(model)
        batcher.start()
        answers = await asyncio.gather(*(batcher.submit(i) for i in range(12)))
        for task in batcher.tasks:
            task.cancel()
        batcher.thread.shutdown()
        return answers

    answers = asyncio.run(scenario())
    assert [json.loads(body)["item"] for (_, body), _ in answers] == list(range(12))
    assert peak[0] == 2
