"""The `cuts` and `settings` parts of the serving benchmark (loadtests/bench_cuts.py via `python -m
loadtests serving --smoke --parts cuts,settings`) on cnn and gan exported from random weights and archived into a
temp project: every cut's pair is timed (both sides run and give what the report says), and a real TorchServe serves
cnn under every settings variant (1 and 2 workers, one netty thread) with no failure. No speed is asserted."""
from __future__ import annotations

import subprocess
import sys

import pytest

from genai_ops.registry import REPO_ROOT
from loadtests.bench_cuts import SETTINGS

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def archived(random_exports):
    subprocess.run([sys.executable, "-m", "export.archive", "cnn", "gan", "--base", str(random_exports.base)],
                   cwd=REPO_ROOT, check=True, timeout=120)
    return random_exports


def section(text: str, key: str) -> list[list[str]]:
    body = text.split(f"<!-- bench:{key} -->", 1)[1].split(f"<!-- /bench:{key} -->", 1)[0]
    return [[c.strip() for c in line.strip("|").split("|")] for line in body.splitlines()
            if line.startswith("| ") and not line.startswith("| what ") and not line.startswith("| model ")]


@pytest.mark.timeout(300)
def test_every_cut_is_timed_and_every_setting_serves(archived, tmp_path):
    from loadtests.cli import main

    docs = tmp_path / "BENCHMARKS.md"
    main(["serving", "--smoke", "--parts", "cuts,settings", "--base", str(archived.base), "--docs", str(docs),
          "--peer-models", "cnn"])
    text = docs.read_text()
    cuts = {row[0]: row for row in section(text, "serving-cuts")}
    assert len(cuts) == 7, list(cuts)
    for what, before, after, before_us, after_us, ratio, note in cuts.values():
        assert float(before_us) > 0 and float(after_us) > 0, what
    assert "bytes" in cuts["PNG encode, gan grid, 4 digits (62x62)"][-1]
    assert "grey levels" in cuts["decode + resize a 1024x768 JPEG to 64x64"][-1]
    settings = section(text, "serving-settings")
    assert [(row[0], row[1], row[2]) for row in settings] == [("cnn", label, "1") for label, _, _ in SETTINGS]
    for row in settings:
        failures, requests = (int(n) for n in row[-1].split(" / "))
        assert failures == 0 and requests > 0 and float(row[3]) > 0, row  # every variant served, nothing failed
