"""Health probe for containers: python -m genai_ops.probe [--ready]   (exit 0 = healthy)

TorchServe 0.12 wants the inference token even on GET /ping, and its keys are generated inside the
container at start-up, so an HTTP probe from outside (Kubernetes httpGet, a plain curl HEALTHCHECK) cannot
carry one. This runs inside the container instead (Docker HEALTHCHECK, Kubernetes exec probes): it reads
the current key from key_file.json in GENAI_WORKDIR and calls /ping on loopback.

  liveness   /ping answers 200 with the token (the frontend and every registered model's workers are up)
  --ready    also requires run/ready, written by genai_ops/container.py once every model is registered
             and its default version set, so no traffic arrives before the models do
Only the standard library: a probe runs every few seconds and must not import torch or requests.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

READY_FILE = "run/ready"


def probe(workdir: Path, port: int, ready: bool, timeout: float = 3.0) -> tuple[bool, str]:
    if ready and not (workdir / READY_FILE).exists():
        return False, "models not registered yet (no run/ready)"
    try:
        key = json.loads((workdir / "key_file.json").read_text())["inference"]["key"]
    except (OSError, ValueError, KeyError) as exc:
        return False, f"no inference key in {workdir / 'key_file.json'}: {exc}"
    request = urllib.request.Request(f"http://127.0.0.1:{port}/ping", headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status == 200, f"/ping {response.status}"
    except urllib.error.HTTPError as exc:
        return False, f"/ping {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return False, f"/ping unreachable: {exc}"


def inference_port(env=os.environ) -> int:
    """The inference port the container configured (GENAI_PORTS, as genai_ops/container.py reads it), else 8080."""
    for item in env.get("GENAI_PORTS", "").split(","):
        name, _, port = item.partition("=")
        if name.strip() == "inference" and port.strip():
            return int(port)
    return 8080


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ready", action="store_true", help="also require every model to be registered")
    parser.add_argument("--port", type=int, default=inference_port())
    parser.add_argument("--workdir", type=Path, default=Path(os.environ.get("GENAI_WORKDIR", ".")))
    args = parser.parse_args(argv)
    ok, why = probe(args.workdir, args.port, args.ready)
    print(why)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
