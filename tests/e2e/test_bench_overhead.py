"""The `overhead` part of the serving benchmark (loadtests/bench_overhead.py via `python -m loadtests serving --smoke
--parts overhead`) on cnn and gan exported from random weights and archived into a temp project: a private
TorchServe per model runs the registry's worker count (models.yaml minWorkers: several for cnn and gan), the load
is served, every worker of the model is profiled, and the same handler runs in-process. No speed is asserted."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from genai_ops.registry import REPO_ROOT, load_registry

pytestmark = pytest.mark.e2e

MODELS = ["cnn", "gan"]


@pytest.fixture(scope="module")
def archived(random_exports):
    subprocess.run([sys.executable, "-m", "export.archive", *MODELS, "--base", str(random_exports.base)],
                   cwd=REPO_ROOT, check=True, timeout=120)
    return random_exports


def rows(section: str, header: str) -> dict[str, list[str]]:
    """The table under `header` (its first cell), by model."""
    table = section.split(f"| {header} |", 1)[1].split("\n\n", 1)[0]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()[2:]]
    return {row[0]: row for row in cells}


@pytest.mark.timeout(600)
def test_the_overhead_part_serves_and_profiles_every_worker_of_each_model(archived, tmp_path):
    from loadtests.cli import main

    docs = tmp_path / "BENCHMARKS.md"
    assert main(["serving", "--smoke", "--parts", "overhead", "--base", str(archived.base), "--docs", str(docs)]) == 0
    text = docs.read_text()
    section = text.split("<!-- bench:serving-overhead -->", 1)[1].split("<!-- /bench:serving-overhead -->", 1)[0]
    assert "## Serving overhead: TorchServe vs in-process" in text
    assert "Command: `python -m loadtests serving --parts overhead --duration 1 --users 1`" in section
    registry = load_registry()
    expected = {m: int(registry[m].model_config.get("minWorkers", 1)) for m in MODELS}
    assert max(expected.values()) > 1  # the case the part must handle: several workers per model
    found = dict(re.findall(r"(\w+) (\d+)", re.search(r"\(workers: ([^)]*)\)", section).group(1)))
    assert {m: int(n) for m, n in found.items()} == expected
    served = rows(section, "model | served req/s")
    cpu = rows(section, "model | JVM")
    assert sorted(served) == sorted(cpu) == MODELS
    for model in MODELS:
        assert float(served[model][4]) > 0 and float(served[model][5]) > 0  # raw session and handler req/s
        assert float(cpu[model][2]) >= 0  # the workers' CPU seconds were read
