"""The Locust scenario as `make loadtest` runs it, briefly, against the test server: every registry model's
user class runs and no request fails (speed is for `make bench`, never asserted here)."""
from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest

from genai_serve.registry import REPO_ROOT

pytestmark = pytest.mark.e2e


def test_the_mixed_locust_scenario_runs_every_model_without_a_failure(served, tmp_path):
    # Locust spreads users over the classes by weight: one full round of the weights gives every class a user.
    users = sum(spec.load_weight for spec in served.registry.values())
    env = {**os.environ, "GENAI_KEY_FILE": str(served.server.key_file)}
    subprocess.run([sys.executable, "-m", "locust", "-f", str(REPO_ROOT / "loadtests/locustfile.py"), "--headless",
                    "-u", str(users), "-r", str(users), "-t", "8s", "--stop-timeout", "60",
                    "--host", served.server.url("inference"), "--csv", str(tmp_path / "smoke"), "--only-summary",
                    "--loglevel", "WARNING"], env=env, check=True, timeout=180, cwd=tmp_path)
    with open(tmp_path / "smoke_stats.csv") as fh:
        rows = {r["Name"]: r for r in csv.DictReader(fh)}
    paths = {f"/predictions/{name}" for name in served.registry}
    assert paths <= set(rows), f"models that sent no request: {paths - set(rows)}"
    assert int(rows["Aggregated"]["Failure Count"]) == 0, rows["Aggregated"]
    assert all(int(rows[p]["Request Count"]) > 0 for p in paths)
