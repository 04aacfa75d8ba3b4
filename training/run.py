"""Train every model in models.yaml, or those named: python -m training.run [model ...] [--data-dir D] [--download].

Each model's `train:` entry names its module (which exposes main(argv)) and default arguments; the
checkpoint goes to checkpoints/<model>/model.pt (or the registry's `train.checkpoint` name). `--trainer-args="--max-steps 5"` passes extra
arguments to every trainer (a quick run).
"""
from __future__ import annotations

import argparse
import importlib
import shlex
import time
from pathlib import Path

from genai_ops.registry import Paths, load_registry, select


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", help="models to train (default: all in models.yaml)")
    parser.add_argument("--data-dir", help="real datasets (torchvision layout); default: the offline data")
    parser.add_argument("--download", action="store_true", help="let torchvision download the real dataset")
    parser.add_argument("--base", type=Path, default=Paths().base, help="project dir to write checkpoints/ into")
    parser.add_argument("--trainer-args", default="", help='extra arguments for every trainer, e.g. --trainer-args="--max-steps 5"')
    args = parser.parse_args(argv)
    passthrough = shlex.split(args.trainer_args)
    paths = Paths(args.base)
    for spec in select(load_registry(), args.models):
        trainer = importlib.import_module(spec.train["module"])
        cli = ["--out", str(paths.checkpoint(spec.name, spec.checkpoint_name)), *map(str, spec.train.get("args", []))]
        cli += (["--data-dir", args.data_dir] if args.data_dir else []) + (["--download"] if args.download else [])
        started = time.perf_counter()
        print(f"== train {spec.name}: python -m {spec.train['module']} {' '.join(cli + passthrough)}", flush=True)
        trainer.main(cli + passthrough)
        print(f"== {spec.name} trained in {time.perf_counter() - started:.0f}s -> {paths.checkpoint(spec.name, spec.checkpoint_name)}", flush=True)


if __name__ == "__main__":
    main()
