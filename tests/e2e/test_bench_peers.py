"""The `peers` part of the serving benchmark (loadtests/bench_peers.py via `python -m loadtests serving --smoke`)
end to end on cnn and gan exported from random weights (tests/conftest.py random_exports) and archived into the same
temp project: a real TorchServe answers over REST and gRPC, then each peer and the seed app as a real subprocess,
one server at a time, one round. Each side is first waited for (bounded, generously) until it has answered once,
then loaded by 1 user for 1 s; the in-process handler row follows. Every side must answer with no failure and the
written section must hold a row for every side. Neither speed nor how many requests fit in the window is asserted,
so a slow machine passes as a fast one does."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from genai_ops.registry import REPO_ROOT

pytestmark = pytest.mark.e2e

MODELS = ["cnn", "gan"]
SIDES = ["TorchServe REST", "TorchServe gRPC", "FastAPI peer", "LitServe peer", "seed app"]


@pytest.fixture(scope="module")
def archived(random_exports):
    subprocess.run([sys.executable, "-m", "export.archive", *MODELS, "--base", str(random_exports.base)],
                   cwd=REPO_ROOT, check=True, timeout=120)
    return random_exports


@pytest.mark.timeout(900)
def test_every_side_answers_and_the_section_has_a_row_for_each(archived, tmp_path, capsys, monkeypatch):
    import loadtests.bench_peers as bench_peers
    from loadtests.cli import main

    answered = []  # (side, model) once the side's first answer came (ready raises when none comes in time)
    real_ready = bench_peers.ready
    monkeypatch.setattr(bench_peers, "ready", lambda target, side, model, **kw: (
        real_ready(target, side, model, **kw), answered.append((side, model))))
    docs = tmp_path / "BENCHMARKS.md"
    main(["serving", "--smoke", "--base", str(archived.base), "--docs", str(docs), "--peer-models", ",".join(MODELS)])
    text = docs.read_text()
    section = text.split("<!-- bench:serving-peers -->", 1)[1].split("<!-- /bench:serving-peers -->", 1)[0]
    assert "## Against what a user would run instead" in text and "Command: `python -m loadtests serving" \
        in section
    found = tables(section)
    assert [model for model, _ in found] == MODELS
    for model, table in found:
        rows = {cells[0]: cells for cells in table}
        assert set(rows) == {*SIDES, "handler in-process"}, (model, list(rows))
        for side in SIDES:
            assert (side, model) in answered
            failures, _ = (int(n) for n in rows[side][-1].split(" / "))  # the window may hold few requests or none
            assert failures == 0, (model, side, rows[side])
            assert rows[side][1] == "1"  # users
        assert float(rows["handler in-process"][2]) > 0
    for model in MODELS:
        assert re.search(r"- ours / seed app \(the sps-genai app's FastAPI \+ eager torch path, same run\) = \*\*[0-9.]+x\*\*",
                         section)
        assert re.search(rf"target for {model}: \*\*(met|not met)\*\* \(the done-when is stated at 16",
                         section), section
    assert "| TorchServe gRPC |" in capsys.readouterr().out  # the part prints what it writes


def tables(section: str) -> list[tuple[str, list[list[str]]]]:
    """(model, its table's rows as cells) per model, header and rule rows left out."""
    out = []
    for block in section.split("\n**")[1:]:
        model = block.split("**", 1)[0]
        lines = [line for line in block.splitlines() if line.startswith("| ") and not line.startswith("| side ")]
        out.append((model, [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]))
    return out
