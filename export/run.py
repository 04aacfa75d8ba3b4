"""Export every model's checkpoint (or those named) into artifacts/<model>/ (python -m export.run [model ...]).

The registry's `export.kind` picks the exporter (export/kinds.py). Each writes its artifacts plus
export.json: what was exported, from which checkpoint, with which gate figures and artifact checksums.
archive.py verifies those checksums and turns export.json into the model card.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from tqdm import tqdm

from export.kinds import EXPORTERS
from genai_ops.checkpoint import atomic_write_json
from genai_ops.registry import Paths, ModelSpec, load_registry, select, sha256_path


def export_model(spec: ModelSpec, paths: Paths) -> list[dict]:
    """Export one model: once, or once per version when the registry sets `export.per_version` (each with the
    kind of `export.versions.<v>` when it names one)."""
    ckpt_path = paths.checkpoint(spec.name, spec.checkpoint_name)
    if not ckpt_path.exists():
        raise SystemExit(f"{spec.name}: no checkpoint at {ckpt_path}; run `make train-{spec.name}` first")
    versions = spec.versions if spec.per_version else (None,)
    kinds = {v: spec.export_for(v).get("kind") for v in versions}  # a version may have its own (gpt2_qa 2.1)
    for kind in kinds.values():
        if kind not in EXPORTERS:
            raise SystemExit(f"{spec.name}: unknown export kind {kind!r}; known: {sorted(EXPORTERS)}")
    # versions in registry order: one derived from another (2.1 from 2.0) comes after it and reuses its export
    return [_export_one(spec, paths, ckpt_path, EXPORTERS[kinds[v]], v) for v in versions]


def _export_one(spec: ModelSpec, paths: Paths, ckpt_path: Path, exporter, version: str | None) -> dict:
    out_dir = paths.artifact_dir(spec.name, version)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    record = exporter(spec, ckpt_path, out_dir, version=version) if version else exporter(spec, ckpt_path, out_dir)
    info = {
        "model": spec.name,
        **({"version": version} if version else {}),
        "checkpoint": {"path": str(ckpt_path.relative_to(paths.base)), "sha256": sha256_path(ckpt_path)},
        **record,
        "artifacts": {name: sha256_path(out_dir / name) for name in spec.artifacts},
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
        for info in export_model(spec, paths):
            worst = max(info["parity"]["max_abs_diff"].values())
            where = paths.artifact_dir(spec.name, info.get("version"))
            q = info.get("quality")  # a derived version's gate (gpt2_qa 2.1): agreement and score deltas
            gate = (f"gate: agreement {q['token_agreement']:.3f} of tokens, {q['sequence_agreement']:.3f} of answers; "
                    f"EM delta {q['delta']['exact_match']:+.3f}, F1 delta {q['delta']['f1']:+.3f}" if q
                    else f"gate max |diff| {worst:.2e}")
            tqdm.write(f"{spec.name}: {info['format']} -> {where} ({gate})")


if __name__ == "__main__":
    main()
