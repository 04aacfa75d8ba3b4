"""One command line for every benchmark and the reliability harness:

  python -m loadtests serving [--parts overhead,seed,sweep,cuts,settings,peers] [--duration 10] [--smoke] ...
  python -m loadtests samplers | gpt2 | gpt2-served | iterative | gpu-check | reliability | soak | heavy | grammar |
                     grammar-eval | lowload | floor [options]

`serving` runs the parts against private TorchServes on `make all`'s archives (or --base's) and writes each to
its section of docs/BENCHMARKS.md (--docs: another file; --smoke: nothing unless --docs is given):
  overhead  served vs in-process, where the CPU goes (bench_overhead.py)
  seed      the seeds' FastAPI path vs TorchServe (bench_seed.py)
  sweep     batching policy sweep, plots in docs/bench/ (bench_sweep.py; make bench-batching)
  cuts      each cost cut on the one-shot path alone, in-process (bench_cuts.py; make bench-cuts)
  settings  TorchServe settings served: workers per model, netty threads (bench_cuts.py; make bench-cuts)
  peers     TorchServe REST and gRPC vs FastAPI and LitServe peers (bench_peers.py; make bench-peers)
The other suites take their own options (`python -m loadtests <suite> --help`). This module is the only one that
imports the suites.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from genai_ops.registry import REPO_ROOT
from loadtests.harness.report import BENCHMARKS, load_line, replace_section

PARTS = {  # part -> (suite module, function taking the parsed arguments, its section's (key, title))
    "overhead": ("bench_overhead", "part", ("serving-overhead", "Serving overhead: TorchServe vs in-process")),
    "seed": ("bench_seed", "part", ("seed-path", "Against the seeds' serving path (FastAPI, eager torch, one at a time)")),
    "sweep": ("bench_sweep", "part", ("batching-sweep", "Batching policy sweep")),
    "cuts": ("bench_cuts", "cuts_part", ("serving-cuts", "Cost cuts on the one-shot path, each measured alone")),
    "settings": ("bench_cuts", "settings_part", ("serving-settings", "TorchServe settings for the one-shot models")),
    "peers": ("bench_peers", "part", ("serving-peers", "Against what a user would run instead: FastAPI and LitServe peers")),
}
SUITES = {  # command -> (suite module, extra arguments before the user's)
    "samplers": ("bench_samplers", []), "gpt2": ("bench_gpt2", []), "gpt2-served": ("bench_gpt2_served", []),
    "iterative": ("bench_iterative", []), "gpu-check": ("gpu_check", []), "reliability": ("reliability.run", []),
    "soak": ("reliability.run", ["--soak-only"]), "heavy": ("reliability.heavy", []),
    "grammar": ("grammar_bench", []), "grammar-eval": ("grammar_eval", []), "lowload": ("bench_lowload", []),
    "floor": ("bench_floor", []),
}
SEED_MODELS = "cnn,gan,diffusion,gpt2_qa"


def serving_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m loadtests serving", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parts", default=None, help="default: overhead,seed,sweep,cuts,settings,peers (with --smoke: peers)")
    p.add_argument("--duration", type=int, default=10, help="seconds per measured load")
    p.add_argument("--users", type=int, default=16, help="users for the overhead part")
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds for the seed part")
    p.add_argument("--seed-models", default=SEED_MODELS, help="models for the seed part")
    p.add_argument("--peer-rounds", type=int, default=3, help="alternating rounds for the peers part")
    p.add_argument("--peer-users", default="1,4,16", help="users for the peers part")
    p.add_argument("--peer-models", default="cnn,gan", help="models for the peers and settings parts")
    p.add_argument("--settings-users", default="1,16", help="users for the settings part")
    p.add_argument("--warmup", type=int, default=8, help="peers part: warm-up seconds per side at each start")
    p.add_argument("--base", type=Path, default=REPO_ROOT,
                   help="project dir holding artifacts/ and model_store/ (default: the repo; the seed and sweep parts "
                        "always use the repo's)")
    p.add_argument("--docs", type=Path, default=None, help="file to write (default docs/BENCHMARKS.md)")
    p.add_argument("--smoke", action="store_true",
                   help="the named parts (default peers) at the least (1 s loads, 1 round, 1 user, no warm-up; each "
                        "side still answers once before its window): every side answers; writes only to --docs")
    return p


def serving(argv: list[str]) -> int:
    args = serving_parser().parse_args(argv)
    if args.smoke:
        args.parts = args.parts or "peers"
        args.duration, args.users, args.peer_rounds, args.warmup = 1, 1, 1, 0
        args.peer_users = args.settings_users = "1"
    parts = (args.parts or ",".join(PARTS)).split(",")
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise SystemExit(f"unknown part(s) {unknown}; parts: {', '.join(PARTS)}")
    docs = args.docs or (None if args.smoke else BENCHMARKS)
    machine = load_line()
    for part in parts:
        module, function, (key, title) = PARTS[part]
        text = getattr(importlib.import_module(f"loadtests.{module}"), function)(args)
        text += "" if part == "peers" else "\n\n" + machine  # the peers part names its machine itself
        print(text, flush=True)
        if docs is not None:
            replace_section(docs, key, title, text)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = ["serving", *SUITES]
    if not argv or argv[0] not in commands:
        print(__doc__, file=sys.stderr)
        print(f"suites: {', '.join(commands)}", file=sys.stderr)
        return 2
    name, rest = argv[0], argv[1:]
    if name == "serving":
        return serving(rest)
    module, extra = SUITES[name]
    code = importlib.import_module(f"loadtests.{module}").main(extra + rest)
    return code or 0
