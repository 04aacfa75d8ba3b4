"""`python -m loadtests <suite>` (loadtests/cli.py): which suite a command reaches with which arguments, the smoke
settings the serving parts get, and where their text goes. The suites are replaced by recorders: nothing is
measured here."""
from __future__ import annotations

import importlib

import pytest

from loadtests import cli


def test_no_or_an_unknown_suite_prints_the_suites_and_exits_2(capsys):
    assert cli.main([]) == 2 and cli.main(["bench-everything"]) == 2
    assert "suites: serving, samplers, gpt2, gpt2-served, iterative, gpu-check, reliability, soak, heavy, grammar, " \
        "grammar-eval, lowload, floor" in \
        capsys.readouterr().err


@pytest.mark.parametrize("command, module, argv", [
    (["soak", "--soak-seconds", "5"], "reliability.run", ["--soak-only", "--soak-seconds", "5"]),
    (["reliability", "--soak-seconds", "5"], "reliability.run", ["--soak-seconds", "5"]),
    (["gpu-check", "cnn", "--write"], "gpu_check", ["cnn", "--write"]),
    (["gpt2", "--smoke"], "bench_gpt2", ["--smoke"]),
    (["heavy", "--clients", "8"], "reliability.heavy", ["--clients", "8"]),
    (["grammar", "--smoke"], "grammar_bench", ["--smoke"]),
    (["grammar-eval", "artifacts/gpt2_qa"], "grammar_eval", ["artifacts/gpt2_qa"]),
])
def test_a_suite_command_calls_that_suites_main_with_the_rest_of_the_line(monkeypatch, command, module, argv):
    seen = []
    monkeypatch.setattr(importlib.import_module(f"loadtests.{module}"), "main", lambda a: seen.append(a) or 1)
    assert cli.main(command) == 1 and seen == [argv]


def test_a_serving_smoke_runs_the_named_part_at_the_least_and_writes_only_its_section(monkeypatch, tmp_path):
    import loadtests.bench_sweep as sweep

    got = []
    monkeypatch.setattr(sweep, "part", lambda args: got.append(args) or "Command: `python -m loadtests serving`")
    docs = tmp_path / "BENCHMARKS.md"
    docs.write_text("# Benchmarks\n\n<!-- bench:serving-peers -->\nkept\n<!-- /bench:serving-peers -->\n")
    assert cli.main(["serving", "--smoke", "--parts", "sweep", "--docs", str(docs)]) == 0
    (args,) = got
    assert (args.duration, args.users, args.peer_rounds, args.warmup, args.peer_users) == (1, 1, 1, 0, "1")
    text = docs.read_text()
    assert "kept" in text and "## Batching policy sweep" in text
    section = text.split("<!-- bench:batching-sweep -->\n", 1)[1].split("<!-- /bench:batching-sweep -->", 1)[0]
    assert section.startswith("Command: `python -m loadtests serving`\n\n1-minute load average at start ")


def test_an_unknown_serving_part_is_refused_before_anything_runs():
    with pytest.raises(SystemExit, match="unknown part"):
        cli.main(["serving", "--parts", "overhead,everything"])
