"""Lay out what KServe's TorchServe runtime loads from an InferenceService's storageUri.

python -m export.kserve_bundle [model ...] [--out dist/kserve] [--base DIR]

    <out>/config/config.properties     TorchServe configuration, read by TorchServe and by the KServe runtime
    <out>/model-store/<name>-<v>.mar   every archived version of every registry model (all, or those named)

KServe mounts the storage at /mnt/models and starts the runtime image (genai_ops/kserve_runtime.py) with
--model-store=/mnt/models/model-store --ts-config=/mnt/models/config/config.properties: TorchServe loads
every archive `model_snapshot` lists (there is no register call: every version with its workers and
batching from models.yaml, the registry's default marked `defaultVersion`), and KServe's model server on
:8080 learns the model names from the same snapshot and forwards to TorchServe's inference listener on
127.0.0.1:8085. The runtime speaks KServe's v1 and v2 itself, so TorchServe gets each model's own requests
and no `service_envelope` is set.

Security differs from `make serve` on purpose, and only inside the pod: inference and management listen on
127.0.0.1 (nothing outside the pod reaches TorchServe; KServe's ingress and the runtime are the way in), the
model API is off (the snapshot is the only way models load) and TorchServe's token is off: the runtime in the
same pod is its only client. Authenticate at KServe's ingress instead (docs/DEPLOY.md).
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

from genai_ops.registry import REPO_ROOT, ModelSpec, Paths, load_registry, select
from genai_ops.server import CONFIG_TEMPLATE

MOUNT = "/mnt/models"  # where KServe's storage initializer puts the storageUri's contents
# KServe's model server takes 8080 (REST) and 8081 (gRPC); TorchServe's listeners stay clear of both.
PORTS = {"inference": 8085, "management": 8086, "metrics": 8082, "grpc_inference": 7075, "grpc_management": 7076}


def model_snapshot(specs: list[ModelSpec], store: Path) -> dict:
    """TorchServe's snapshot JSON: the models (and versions) to load at start-up and how to run them."""
    models = {}
    for spec in specs:
        cfg = spec.model_config
        models[spec.name] = {
            version: {
                "defaultVersion": version == spec.default_version,
                "marName": spec.mar_file(version),
                "minWorkers": int(cfg.get("minWorkers", 1)),
                "maxWorkers": int(cfg.get("maxWorkers", 1)),
                "batchSize": int(cfg.get("batchSize", 1)),
                "maxBatchDelay": int(cfg.get("maxBatchDelay", 100)),
                "responseTimeout": int(cfg.get("responseTimeout", 120)),
            }
            for version in archived_versions(spec, store)
        }
    return {"name": "startup.cfg", "modelCount": sum(len(v) for v in models.values()), "models": models}


def archived_versions(spec: ModelSpec, store: Path) -> list[str]:
    return [v for v in spec.versions if (store / spec.mar_file(v)).exists()]


def render_config(specs: list[ModelSpec], store: Path, mount: str = MOUNT, ports: dict[str, int] | None = None) -> str:
    """config.properties for the pod: the project's template with the KServe-specific keys replaced."""
    ports = {**PORTS, **(ports or {})}
    model_store = f"{mount}/model-store"
    overrides = {
        "inference_address": f"http://127.0.0.1:{ports['inference']}",
        "management_address": f"http://127.0.0.1:{ports['management']}",
        # Metrics carry no inputs or outputs: KServe / Prometheus scrape them from outside the pod.
        "metrics_address": f"http://0.0.0.0:{ports['metrics']}",
        "grpc_inference_address": "127.0.0.1",
        "grpc_inference_port": str(ports["grpc_inference"]),
        "grpc_management_address": "127.0.0.1",
        "grpc_management_port": str(ports["grpc_management"]),
        "model_store": model_store,
        "allowed_urls": f"file://{re.escape(model_store)}/.*",
        "disable_token_authorization": "true",  # loopback only: the runtime in the same pod is the one client
        "enable_model_api": "false",
        "model_snapshot": json.dumps(model_snapshot(specs, store), separators=(",", ":")),
    }
    lines = ["# Written by `make kserve-bundle` (export/kserve_bundle.py) for KServe's TorchServe runtime; do not edit.",
             "# Inference and management listen on loopback inside the pod; KServe's model server on :8080 is the way in."]
    seen = set()
    for line in CONFIG_TEMPLATE.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#") or "=" not in line:
            continue  # the template's comments describe `make serve`, not this pod
        key = line.split("=", 1)[0].strip()
        seen.add(key)
        lines.append(f"{key}={overrides[key]}" if key in overrides else line)
    lines += [f"{k}={v}" for k, v in overrides.items() if k not in seen]
    return "\n".join(lines) + "\n"


def build_bundle(out: Path, specs: list[ModelSpec], paths: Paths) -> list[Path]:
    store = paths.model_store
    missing = [spec.mar_file(v) for spec in specs for v in spec.versions if not (store / spec.mar_file(v)).exists()]
    if missing:
        raise SystemExit(f"{store} lacks {missing}: run `make archive` (or name the models to bundle)")
    if out.exists():
        shutil.rmtree(out)  # a bundle is rebuilt whole: no archive from an earlier registry survives in it
    (out / "config").mkdir(parents=True)
    (out / "model-store").mkdir()
    copied = []
    for spec in specs:
        for version in spec.versions:
            copied.append(Path(shutil.copy2(store / spec.mar_file(version), out / "model-store")))
    (out / "config" / "config.properties").write_text(render_config(specs, store))
    return copied


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", help="models to bundle (default: all in models.yaml)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "dist" / "kserve")
    parser.add_argument("--base", type=Path, default=Paths().base, help="project dir holding model_store/")
    args = parser.parse_args(argv)
    specs = select(load_registry(), args.models)
    copied = build_bundle(args.out, specs, Paths(args.base))
    print(f"{args.out}: config/config.properties + {len(copied)} archive(s) in model-store/")
    for path in copied:
        print(f"  {path.name}")


if __name__ == "__main__":
    main()
