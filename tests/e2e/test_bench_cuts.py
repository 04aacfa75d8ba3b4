"""The `cuts` and `settings` parts of the serving benchmark (loadtests/bench_cuts.py via `python -m
loadtests serving --smoke --parts cuts,settings`) on cnn and gan exported from random weights and archived into a
temp project: every cut's pair is timed (both sides run and give what the report says), and a real TorchServe serves
cnn under every settings variant (1, 2 and 3 workers, one netty thread): each variant's server is waited for (bounded,
generously) until it has answered once, then loaded for 1 s with no failure. Neither speed nor how many requests fit
in the window is asserted."""
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


@pytest.mark.timeout(1200)
def test_every_cut_is_timed_and_every_setting_serves(archived, tmp_path, monkeypatch):
    import loadtests.bench_cuts as bench_cuts
    from loadtests.cli import main

    answered = []  # one entry per variant's server once it answered (first_answer raises when none comes in time)
    real_first_answer = bench_cuts.first_answer
    monkeypatch.setattr(bench_cuts, "first_answer", lambda *a, **kw: answered.append(real_first_answer(*a, **kw)))

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
    assert len(answered) == len(SETTINGS) and all(r.requests > r.failures for r in answered)  # every variant served
    for row in settings:
        failures, _ = (int(n) for n in row[-1].split(" / "))
        assert failures == 0, row  # nothing failed in the window
