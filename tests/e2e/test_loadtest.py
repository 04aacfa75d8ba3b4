"""The Locust scenario as `make loadtest` runs it, briefly, against the test server: every registry model's
user class runs and no request fails (speed is for `make bench`, never asserted here)."""
from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest

from genai_ops.registry import REPO_ROOT

pytestmark = pytest.mark.e2e


def test_the_mixed_locust_scenario_runs_every_model_without_a_failure(served, tmp_path):
    # Locust spreads users over the classes by weight: one full round of the weights gives every class a user.
    # 15 s: Locust's CSV counts only requests finished within the run time, and a scheduled diffusion sample
    # (4 x 20 steps, one TorchServe round trip per step) took ~8 s under this full mixed load on 2 cores.
    users = sum(spec.load_weight for spec in served.registry.values())
    env = {**os.environ, "GENAI_KEY_FILE": str(served.server.key_file)}
    subprocess.run([sys.executable, "-m", "locust", "-f", str(REPO_ROOT / "loadtests/locustfile.py"), "--headless",
                    "-u", str(users), "-r", str(users), "-t", "15s", "--stop-timeout", "60",
                    "--host", served.server.url("inference"), "--csv", str(tmp_path / "smoke"), "--only-summary",
                    "--loglevel", "WARNING"], env=env, check=True, timeout=180, cwd=tmp_path)
    with open(tmp_path / "smoke_stats.csv") as fh:
        rows = {r["Name"]: r for r in csv.DictReader(fh)}
    paths = {f"/predictions/{name}" for name in served.registry}
    assert paths <= set(rows), f"models that sent no request: {paths - set(rows)}"
    assert int(rows["Aggregated"]["Failure Count"]) == 0, rows["Aggregated"]
    assert all(int(rows[p]["Request Count"]) > 0 for p in paths)


def test_the_seed_path_reproduction_answers_the_benchmark_load(served):
    """loadtests/seed_app.py (the seeds' FastAPI path) under uvicorn, on the same quick-trained checkpoints the
    test server serves, takes the seed Locust users' requests without a failure; GPT-2 users on both sides
    report generated tokens, which `make bench` turns into tokens/s."""
    from loadtests.harness.locust_run import SEED_LOCUSTFILE, run_locust
    from loadtests.harness.servers import load, seed_app

    models = ["cnn", "gan", "diffusion", "gpt2_qa"]
    with seed_app(models, project=served.paths.base) as (url, _):
        seed = run_locust(url, ",".join(models), 4, "6s", locustfile=SEED_LOCUSTFILE)
    assert seed.failures == 0 and seed.requests >= 4 and seed.tok_s > 0, seed
    ours = load(served.server, "gpt2_qa", 2, 4)
    assert ours.failures == 0 and ours.requests > 0 and ours.tok_s > 0, ours
    assert ours.batch_mean is not None and ours.batch_mean >= 1  # read from the server's own [METRICS] log lines
    assert ours.cpu_s["workers"] > 0 and ours.cpu_s["locust"] > 0
