"""The peers benchmark's bookkeeping (loadtests/bench_peers.py, loadtests/harness/) without a server: batch sizes
from a peer's /stats counts, rotated rounds, medians and CPU per request per process group, the ratios and the
done-when computed from the numbers (never written in), and the process groups a load run reads CPU time from.
tests/e2e/test_bench_peers.py runs the part for real. No speed is asserted; nothing here imports locust."""
from __future__ import annotations

import math
import subprocess
import sys
import time
from collections import Counter

import psutil
import pytest

from loadtests.bench_peers import HANDLER, OURS, SEED, SIDES, Summary, mean_batch, render, verdict
from loadtests.harness.locust_run import LoadResult
from loadtests.harness.procs import ProcessGroups, torchserve_groups, tree_group
from loadtests.harness.timing import rotated


def load(rps=100.0, p99=20.0, requests=1000, cpu=None, batch=None) -> LoadResult:
    return LoadResult(rps=rps, p50=p99 / 2, p99=p99, requests=requests, failures=0,
                      cpu_s=cpu or {"server": 1.0, "locust": 0.5}, batch_mean=batch)


def test_mean_batch_is_requests_per_inference_call_from_answers_by_batch_size():
    assert mean_batch(Counter({16: 32, 1: 2})) == pytest.approx(34 / 4)  # 2 calls of 16 + 2 calls of 1
    assert mean_batch(Counter({3: 3})) == 3
    assert mean_batch(Counter()) is None


def test_rounds_rotate_the_order():
    assert [rotated("abc", k) for k in range(4)] == [list("abc"), list("bca"), list("cab"), list("abc")]


def test_cpu_per_request_per_group_and_medians_over_rounds():
    runs = [load(rps=r, requests=n, cpu={"jvm": j, "workers": w, "locust": c}, batch=b)
            for r, n, j, w, c, b in [(90, 900, 0.9, 1.8, 0.45, 4.0), (110, 1100, 2.2, 2.2, 1.1, 6.0),
                                     (100, 1000, 1.0, 3.0, 0.5, 5.0)]]
    assert runs[0].cpu_ms("jvm") == pytest.approx(1.0) and runs[0].cpu_ms() == pytest.approx(3.5)
    assert runs[0].cpu_ms("jvm", "workers") == pytest.approx(3.0)
    s = Summary.of(runs)
    assert (s.rps, s.p99, s.batch, s.requests, s.failures) == (100, 20.0, 5.0, 3000, 0)
    assert s.server_ms == pytest.approx({"jvm": 1.0, "workers": 2.0})  # medians of 1.0/2.0/1.0 and 2.0/2.0/3.0
    assert s.client_ms == pytest.approx(0.5)
    assert math.isnan(load(requests=0).cpu_ms())


def tables_at(ours: tuple[float, float], peer: tuple[float, float], users: int = 16):
    """One model's figures at `users`: REST at `ours` (req/s, p99), gRPC below it, FastAPI at `peer`, LitServe
    below it, the seed app at a quarter of ours."""
    (rps, p99), (peer_rps, peer_p99) = ours, peer
    table = {OURS[0]: Summary.of([load(rps, p99, batch=8.0)]), OURS[1]: Summary.of([load(rps / 2, p99)]),
             SIDES[2]: Summary.of([load(peer_rps, peer_p99)]), SIDES[3]: Summary.of([load(peer_rps / 3, p99)]),
             SEED: Summary.of([load(rps / 4, 4 * p99)])}
    tables = {("cnn", users): table}
    best = {("cnn", users): (OURS[0], table[OURS[0]])}
    return tables, best, {("cnn", users): (1000.0, 8, 1)}


@pytest.mark.parametrize("ours, peer, met", [
    ((800, 20), (700, 25), True),       # 0.8 of the handler, 1.14x the peer at a lower p99
    ((800, 30), (700, 25), False),      # faster than the peer but at a higher p99
    ((650, 20), (600, 25), False),      # 0.65 of the handler
    ((800, 20), (900, 20), False),      # the peer is faster
])
def test_the_done_when_is_computed_from_the_medians(ours, peer, met):
    lines = verdict("cnn", 16, *tables_at(ours, peer))
    assert f"= **{ours[0] / 1000:.2f}** (>= 0.7: {'yes' if ours[0] >= 700 else 'no'})" in lines[0]
    assert f"FastAPI peer, {peer[0]} req/s" in lines[1] and f"**{ours[0] / peer[0]:.2f}x**" in lines[1]
    assert lines[2] == f"- ours / seed app (the sps-genai app's FastAPI + eager torch path, same run) = **4.0x** (p99 {ours[1]:.0f} " \
        f"vs {4 * ours[1]:.0f} ms)"  # the seed path is reported, never part of the done-when
    assert lines[3].endswith(f"**{'met' if met else 'not met'}**")


def test_a_run_below_16_users_says_it_is_no_verdict():
    (line,) = verdict("cnn", 4, *tables_at((800, 20), (700, 25), users=4))[3:]
    assert "not a verdict" in line and "top level is 4" in line


def test_the_table_has_a_row_per_side_and_the_handler():
    tables, best, handler = tables_at((800, 20), (700, 25))
    text = render(tables, best, handler, ["cnn"], [16], 10, 3, 3, "a machine")
    rows = [line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| ") and "side" not in line]
    assert rows == [*SIDES, HANDLER]
    assert "--peer-rounds 3 --peer-users 16 --peer-models cnn" in text and "a machine" in text


@pytest.fixture
def tree():
    """A process with a child: a stand-in for a peer and its worker."""
    code = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); " \
           "time.sleep(60)"
    parent = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 30
    while not psutil.Process(parent.pid).children() and time.monotonic() < deadline:
        time.sleep(0.05)
    yield parent
    for child in psutil.Process(parent.pid).children(recursive=True):
        child.kill()
    parent.kill()
    parent.wait(timeout=10)


def test_process_groups_read_a_tree_and_keep_an_exited_process_last_reading(tree):
    (child,) = psutil.Process(tree.pid).children()
    assert torchserve_groups(tree.pid) == {"jvm": [tree.pid], "workers": [child.pid]}
    assert tree_group("peer", tree.pid) == {"peer": [tree.pid, child.pid]}
    groups = ProcessGroups(tree_group("peer", tree.pid))
    first = groups.cpu_seconds()["peer"]
    assert first > 0  # two Python start-ups
    child.kill()  # a zombie (its parent does not reap it) or gone: either way no fresh reading
    assert groups.cpu_seconds()["peer"] >= first  # the child's time is kept, not dropped
