"""The Locust scenario as `make loadtest` runs it, briefly, against the test server: every registry model's
user class answers and no request fails (speed is for `make bench`, never asserted here). Each model's user is
first waited for (bounded, generously: loadtests/harness/locust_run.py first_answer) until it has an answer, so
how many requests fit in the short windows afterwards never decides the outcome, on a slow machine or a fast one."""
from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest

from genai_ops.registry import REPO_ROOT
from loadtests.harness.locust_run import SEED_LOCUSTFILE, first_answer, run_locust

pytestmark = pytest.mark.e2e

SEED_MODELS = ["cnn", "gan", "diffusion", "gpt2_qa"]


@pytest.mark.timeout(1800)
def test_the_mixed_locust_scenario_runs_every_model_without_a_failure(served, tmp_path):
    env = {"GENAI_KEY_FILE": str(served.server.key_file)}
    for name in served.registry:  # each model's user class, alone, until it has an answer
        assert first_answer(served.server.url("inference"), name, env=env).failures == 0, name
    # Locust spreads users over the classes by weight: one full round of the weights gives every class a user.
    # --stop-timeout lets requests in flight at the end finish, so none is cut off as a failure.
    users = sum(spec.load_weight for spec in served.registry.values())
    subprocess.run([sys.executable, "-m", "locust", "-f", str(REPO_ROOT / "loadtests/locustfile.py"), "--headless",
                    "-u", str(users), "-r", str(users), "-t", "5s", "--stop-timeout", "120",
                    "--host", served.server.url("inference"), "--csv", str(tmp_path / "smoke"), "--only-summary",
                    "--loglevel", "WARNING"], env={**os.environ, **env}, check=True, timeout=300, cwd=tmp_path)
    with open(tmp_path / "smoke_stats.csv") as fh:
        rows = {r["Name"]: r for r in csv.DictReader(fh)}
    assert int(rows["Aggregated"]["Failure Count"]) == 0, rows["Aggregated"]


@pytest.mark.timeout(1800)
def test_the_seed_path_reproduction_answers_the_benchmark_load(served):
    """loadtests/seed_app.py (the seeds' FastAPI path) under uvicorn, on the same quick-trained checkpoints the
    test server serves, answers each seed Locust user and then their mixed load without a failure; GPT-2 users on
    both sides report generated tokens, which `make bench` turns into tokens/s."""
    from loadtests.harness.servers import seed_app

    with seed_app(SEED_MODELS, project=served.paths.base) as (url, _):
        firsts = {m: first_answer(url, m, locustfile=SEED_LOCUSTFILE) for m in SEED_MODELS}
        mixed = run_locust(url, ",".join(SEED_MODELS), 4, "2s", locustfile=SEED_LOCUSTFILE)
    assert all(r.failures == 0 for r in firsts.values()) and mixed.failures == 0, (firsts, mixed)
    assert firsts["gpt2_qa"].tok_s > 0, firsts["gpt2_qa"]
    server = served.server
    ours = first_answer(server.url("inference"), "gpt2_qa", env={"GENAI_KEY_FILE": str(server.key_file)},
                        server_pid=server.pid(), logs=server.workdir / "logs")
    assert ours.failures == 0 and ours.tok_s > 0, ours
    assert ours.batch_mean is not None and ours.batch_mean >= 1  # read from the server's own [METRICS] log lines
    assert ours.cpu_s["workers"] > 0 and ours.cpu_s["locust"] > 0
