"""`make all`'s driver: each model trained, exported, archived and served in turn, fastest first.

    python -m genai_ops.pipeline [model ...] [--data-dir D] [--download] [--trainer-args "..."] [--base DIR]

Nothing waits for the slowest model: TorchServe starts as soon as the first archive exists, and every later model
is registered, smoked and announced (its curl line) the moment its own archive exists, so the first answers come
minutes after the start while gpt2_qa is still training. The order is the registry's `train.estimate_s` (the
offline training time measured on the reference machine), shortest first; progress says which model is in which
stage and how long the rest should take (the estimates, scaled by how this machine has done so far). At the end
every model is served and smoked, and a table gives each stage's time, the time to the first answer and to all.

Each stage runs as its own process with the same command as its make target (`python -m training.run cnn`, ...),
so a stage's threads and memory end with it. The timings are also written to run/make_all.json. `--base` moves
the project directory (checkpoints, artifacts, model_store, the server's files) and GENAI_PORTS the ports, as
for the container (genai_ops/container.py).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from genai_ops.registry import ModelSpec, Paths, load_registry, select
from genai_ops.serve import TOKEN_LINE, curl_examples, curl_line, smoke
from genai_ops.server import Server, ServerError, ports_from_env

PRIOR_S = 120.0  # Progress.scale's weight for the registry's estimates
STAGES = (("train", "training.run"), ("export", "export.run"), ("archive", "export.archive"))


@dataclass
class Progress:
    """How long the models left should take: their estimates, scaled by measured / estimated so far."""
    specs: list[ModelSpec]
    trained_s: float = 0.0
    estimated_done_s: float = 0.0
    times: dict[str, dict[str, float]] = field(default_factory=dict)

    def scale(self) -> float:
        # PRIOR_S of the registry's own pace counts as already seen: a 1-s estimate that took 4 s (mostly Python
        # starting) must not quadruple the hour ahead; the long models' times then dominate as they come in
        return (self.trained_s + PRIOR_S) / (self.estimated_done_s + PRIOR_S)

    def left_s(self, after: int) -> float:
        return self.scale() * sum(estimate(s) for s in self.specs[after:])

    def trained(self, spec: ModelSpec, seconds: float) -> None:
        self.trained_s += seconds
        self.estimated_done_s += estimate(spec)


def estimate(spec: ModelSpec) -> float:
    return float(spec.train.get("estimate_s", math.inf))


def order(specs: list[ModelSpec]) -> list[ModelSpec]:
    """Shortest training first; a model without an estimate goes last (the registry's order breaks ties)."""
    return sorted(specs, key=estimate)


def run_stage(module: str, spec: ModelSpec, extra: list[str]) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", module, spec.name, *extra], check=True)
    return time.monotonic() - started


def build(spec: ModelSpec, base: Path, train_args: list[str], progress: Progress, index: int) -> None:
    """Train, export and archive one model, saying where it is and how long the rest should take."""
    progress.times[spec.name] = {}
    for stage, module in STAGES:
        if stage == "train":
            rest = progress.left_s(index + 1)
            print(f"\n== [{index + 1}/{len(progress.specs)}] training {spec.name} (about {_human(estimate(spec) * progress.scale())}; "
                  f"the models after it about {_human(rest)} more)", flush=True)
        seconds = run_stage(module, spec, ["--base", str(base), *(train_args if stage == "train" else [])])
        progress.times[spec.name][stage] = round(seconds, 1)
        if stage == "train":
            progress.trained(spec, seconds)


def serve(server: Server, spec: ModelSpec, started: bool) -> bool:
    """Start TorchServe on the first archive; register a model's versions, smoke it, print its curl line."""
    if not started:
        server.start()
        print(f"TorchServe up on {server.url('inference')}; the token is read from key_file.json:\n{TOKEN_LINE}")
    served = server.register_all({spec.name: spec})
    ok = bool(served) and smoke(server, served)
    print(f"   {curl_line(server, spec)}", flush=True)
    return ok


def report(progress: Progress, first_answer_s: float | None, total_s: float) -> dict:
    lines = ["", "| model | train | export | archive |", "|---|---|---|---|"]
    for name, t in progress.times.items():
        lines.append(f"| {name} | {t.get('train', 0):.0f} s | {t.get('export', 0):.0f} s | {t.get('archive', 0):.0f} s |")
    print("\n".join(lines))
    first = f"{first_answer_s:.0f} s" if first_answer_s is not None else "none"
    print(f"\nmake all: first answer {first} after training started; all models served after {total_s:.0f} s")
    return {"stages_s": progress.times, "first_answer_s": first_answer_s, "all_served_s": round(total_s, 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", help="models (default: every model in models.yaml)")
    parser.add_argument("--data-dir", help="real datasets (torchvision layout); default: the offline data")
    parser.add_argument("--download", action="store_true")
    parser.add_argument("--trainer-args", default="", help='extra arguments for every trainer ("--max-steps 4")')
    parser.add_argument("--base", type=Path, default=Paths().base, help="project dir (default: the repository)")
    args = parser.parse_args(argv)
    train_args = (["--data-dir", args.data_dir] if args.data_dir else []) + (["--download"] if args.download else [])
    train_args += [f"--trainer-args={args.trainer_args}"] if args.trainer_args else []
    specs = order(select(load_registry(), args.models))
    server = Server(workdir=args.base, store=Paths(args.base).model_store, ports=ports_from_env(os.environ))
    if server.is_up():
        print(f"error: something already answers on {server.url('inference')}; `make stop` first", file=sys.stderr)
        return 1
    progress, ok, first_answer = Progress(specs), True, None
    started = time.monotonic()
    try:
        for index, spec in enumerate(specs):
            build(spec, args.base, train_args, progress, index)
            ok &= serve(server, spec, started=index > 0)
            if ok and first_answer is None:
                first_answer = time.monotonic() - started
    except (ServerError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    times = report(progress, first_answer, time.monotonic() - started)
    server.run_dir.mkdir(parents=True, exist_ok=True)
    (server.run_dir / "make_all.json").write_text(json.dumps(times, indent=2) + "\n")
    print("\n" + curl_examples(server, [s.name for s in specs]))
    return 0 if ok else 1


def _human(seconds: float) -> str:
    return "?" if math.isinf(seconds) else (f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
