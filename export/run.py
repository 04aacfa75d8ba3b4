"""Export every model's checkpoint (or those named) into artifacts/<model>/ (python -m export.run [model ...]).

Writes model.onnx (parity-gated) and export.json: what was exported, from which checkpoint, with which
parity figures. archive.py turns export.json into the model card.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from tqdm import tqdm

from genai_serve.checkpoint import atomic_write_json, build_from_checkpoint
from genai_serve.registry import Paths, ModelSpec, load_registry, resolve, select, sha256_file
from export.onnx import export_with_gate


def export_model(spec: ModelSpec, paths: Paths) -> dict:
    ckpt_path = paths.checkpoint(spec.name)
    if not ckpt_path.exists():
        raise SystemExit(f"{spec.name}: no checkpoint at {ckpt_path}; run `make train-{spec.name}` first")
    kind = spec.export.get("kind")
    if kind != "onnx":
        raise SystemExit(f"{spec.name}: unknown export kind {kind!r}")
    net, ckpt = build_from_checkpoint(ckpt_path)
    out_dir = paths.artifact_dir(spec.name)
    started = time.perf_counter()
    real = resolve(spec.export["real_inputs"])()
    gate = export_with_gate(net, tuple(spec.export["input_shape"]), out_dir / "model.onnx", real)
    info = {
        "model": spec.name,
        "format": "onnx",
        "opset_exporter": f"torch {torch.__version__} (dynamo)",
        "checkpoint": {"path": str(ckpt_path.relative_to(paths.base)), "sha256": sha256_file(ckpt_path)},
        "net": ckpt["config"],
        "metrics": ckpt["metrics"],
        "data": ckpt["data"],
        "parity": gate,
        "artifacts": {"model.onnx": sha256_file(out_dir / "model.onnx")},
        "export_seconds": round(time.perf_counter() - started, 2),
    }
    atomic_write_json(out_dir / "export.json", info)
    return info


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("models", nargs="*", help="models to export (default: all in models.yaml)")
    parser.add_argument("--base", type=Path, default=Paths().base, help="project dir holding checkpoints/")
    args = parser.parse_args(argv)
    paths = Paths(args.base)
    specs = select(load_registry(), args.models)
    for spec in tqdm(specs, desc="export", unit="model"):
        info = export_model(spec, paths)
        worst = max(info["parity"]["max_abs_diff"].values())
        tqdm.write(f"{spec.name}: {paths.artifact_dir(spec.name) / 'model.onnx'} (parity max |diff| {worst:.2e})")


if __name__ == "__main__":
    main()
