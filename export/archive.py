"""Pack artifacts/<model>/ into model_store/<model>-<version>.mar with torch-model-archiver.

python -m export.archive [model ...] [--version X] [--base DIR]

Each archive holds: the artifact files (checksums verified against export.json, parity gate passed),
the handler, the shared code it imports (handlers/base.py and the genai_serve package), a generated
model-config.yaml (workers, batching and the handler's settings + request schema from models.yaml), and
model_card.json, which the handler returns for GET /models/<name>?customized=true.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from tqdm import tqdm

from genai_ops.checkpoint import atomic_write_json
from genai_ops.registry import REPO_ROOT, ModelSpec, Paths, load_registry, select, sha256_path

SHARED_CODE = ("genai_serve", "handlers/__init__.py", "handlers/base.py", "handlers/iterative.py")


def total_workers(registry: dict[str, ModelSpec]) -> int:
    """Workers the whole registry may run at once: each worker's thread budget divides the cores by it."""
    return sum(int(m.model_config.get("maxWorkers", 1)) for m in registry.values())


def verified_export(spec: ModelSpec, paths: Paths, version: str | None = None) -> dict:
    """export.json, after checking that the parity gate passed and every artifact is the file it exported.
    `version` is for per-version exports (ModelSpec.artifact_version); None reads the unversioned export."""
    art_dir = paths.artifact_dir(spec.name, version)
    info_path = art_dir / "export.json"
    if not info_path.exists():
        raise SystemExit(f"{spec.name}: no export at {art_dir}; run `make export-{spec.name}` first")
    info = json.loads(info_path.read_text())
    if not info.get("parity", {}).get("passed"):
        raise SystemExit(f"{spec.name}: export did not pass its parity gate; refusing to archive")
    for name in spec.artifacts:
        expected = info.get("artifacts", {}).get(name)
        if expected is None or sha256_path(art_dir / name) != expected:
            raise SystemExit(f"{spec.name}: {name} does not match the checksum export.json recorded; re-export")
    return info


def model_config_yaml(spec: ModelSpec, registry: dict[str, ModelSpec], device_type: str | None = None) -> dict:
    handler = {**spec.handler_config, "request": spec.request, "total_workers": total_workers(registry)}
    # deviceType gpu (the GPU image): TorchServe gives each worker a gpu_id, and the handlers use it.
    device = {"deviceType": device_type} if device_type else {}
    return {**spec.model_config, **device, "handler": handler}


def model_card(spec: ModelSpec, version: str, info: dict, paths: Paths) -> dict:
    art_dir = paths.artifact_dir(spec.name, spec.artifact_version(version))
    return {
        "name": spec.name,
        "version": version,
        "description": spec.description,
        "data": info.get("data"),
        "metrics": info.get("metrics"),
        "parity": info.get("parity"),
        # a derived version's own gate (gpt2_qa 2.1, int8: agreement with 2.0 and the EM/F1 deltas, measured)
        **({"quality": info["quality"]} if "quality" in info else {}),
        "net": info.get("net"),
        "checkpoint": info.get("checkpoint"),
        "artifacts": {n: {"sha256": sha256_path(art_dir / n)} for n in spec.artifacts},
        "archived_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def stage_shared_code(dest: Path) -> None:
    for rel in SHARED_CODE:
        src = REPO_ROOT / rel
        if src.is_dir():
            shutil.copytree(src, dest / rel, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def archive(spec: ModelSpec, version: str, registry: dict[str, ModelSpec], paths: Paths,
            device_type: str | None = None) -> Path:
    art_version = spec.artifact_version(version)  # gpt2_qa: artifacts/gpt2_qa/<version>/; others: one export
    info = verified_export(spec, paths, art_version)
    art_dir = paths.artifact_dir(spec.name, art_version)
    paths.model_store.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"archive-{spec.name}-") as tmp:
        tmp = Path(tmp)
        extra = tmp / "extra"  # its contents land at the archive root
        stage_shared_code(extra)
        atomic_write_json(extra / "model_card.json", model_card(spec, version, info, paths))
        for name in spec.artifacts[1:]:  # files or directories (a spaCy pipeline) beside the main artifact
            if (art_dir / name).is_dir():
                shutil.copytree(art_dir / name, extra / name)
            else:
                shutil.copy2(art_dir / name, extra / name)
        config = tmp / "model-config.yaml"
        config.write_text(yaml.safe_dump(model_config_yaml(spec, registry, device_type), sort_keys=False))
        out = tmp / "out"
        out.mkdir()
        cmd = [
            str(Path(sys.executable).parent / "torch-model-archiver"),
            "--model-name", spec.name, "--version", version,
            "--serialized-file", str(art_dir / spec.artifacts[0]),
            "--handler", str(REPO_ROOT / spec.handler),
            "--extra-files", str(extra),
            "--config-file", str(config),
            "--export-path", str(out), "--force",
        ]
        # The archiver stages files in $TMPDIR/<model-name>: a private TMPDIR keeps parallel runs apart.
        env = {**os.environ, "TMPDIR": str(tmp)}
        subprocess.run(cmd, check=True, env=env)
        target = paths.model_store / spec.mar_file(version)
        staged = target.with_name(f".{target.name}.tmp")  # copy beside the target, then rename atomically:
        shutil.copy2(out / f"{spec.name}.mar", staged)  # a running server never sees a half-written .mar
        os.replace(staged, target)
    return target


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", help="models to archive (default: all in models.yaml)")
    parser.add_argument("--version", help="archive the current export as this version (default: the registry's versions)")
    parser.add_argument("--base", type=Path, default=Paths().base)
    parser.add_argument("--device-type", choices=["cpu", "gpu"],
                        help="write deviceType into model-config.yaml (gpu for docker/Dockerfile.gpu; default: TorchServe decides)")
    args = parser.parse_args(argv)
    registry = load_registry()
    paths = Paths(args.base)
    jobs = [(s, v) for s in select(registry, args.models) for v in ([args.version] if args.version else s.versions)]
    for spec, version in tqdm(jobs, desc="archive", unit="mar"):
        tqdm.write(f"{spec.name} {version}: {archive(spec, version, registry, paths, args.device_type)}")


if __name__ == "__main__":
    main()
