"""The KServe runtime image started the way KServe's controller starts deploy/kserve/servingruntime.yaml.

The bundle (`make kserve-bundle`) is mounted read-only at /mnt/models, as KServe's storage initializer leaves
it; the container gets the ServingRuntime's args, env, user, read-only root and emptyDir volumes (as tmpfs).
Every registry model is then called through KServe's own REST client (kserve_client.py, run in KServe's
virtualenv): v1 `:predict` with the model's sample request as the instance, and v2 `/infer` with the sample's
fields as one-value tensors (cnn: its image as a UINT8 [H, W, 3] tensor, the Open Inference Protocol form).
"""
from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import requests
import yaml
from PIL import Image

from docker_cli import REPO, docker, published_port, remove

sys.path.insert(0, str(REPO))
from genai_ops.registry import ModelSpec, load_registry  # noqa: E402

SERVING_RUNTIME = REPO / "deploy" / "kserve" / "servingruntime.yaml"
CLIENT = Path(__file__).with_name("kserve_client.py")
DATATYPES = ((bool, "BOOL"), (int, "INT64"), (float, "FP64"), (str, "BYTES"))


def run_args(name: str, bundle: Path) -> list[str]:
    """docker run arguments equivalent to the pod KServe makes from the ServingRuntime (image excluded)."""
    spec = yaml.safe_load(SERVING_RUNTIME.read_text())["spec"]
    container = spec["containers"][0]
    security = container.get("securityContext", {})
    limits = container.get("resources", {}).get("limits", {})
    args = ["run", "-d", "--name", name, "-v", f"{bundle.resolve()}:/mnt/models:ro", "-p", "127.0.0.1:0:8080",
            "--user", f"{security['runAsUser']}:{security.get('runAsGroup', security['runAsUser'])}"]
    if security.get("readOnlyRootFilesystem"):
        args.append("--read-only")
    for cap in security.get("capabilities", {}).get("drop", []):
        args += ["--cap-drop", cap]
    if security.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    if "cpu" in limits:
        args += ["--cpus", str(limits["cpu"])]
    if "memory" in limits:
        args += ["--memory", str(limits["memory"]).replace("Gi", "g")]
    empty_dirs = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
    for mount in container.get("volumeMounts", []):
        if mount["name"] in empty_dirs:
            args += ["--tmpfs", f"{mount['mountPath']}:uid={security['runAsUser']},gid={security['runAsUser']}"]
    for env in container.get("env", []):
        args += ["-e", f"{env['name']}={env['value']}"]
    return args


def start(image: str, name: str, bundle: Path) -> int:
    remove(name)
    args = yaml.safe_load(SERVING_RUNTIME.read_text())["spec"]["containers"][0].get("args", [])
    docker(*run_args(name, bundle), image, *args)
    return published_port(name, 8080)


def wait_ready(name: str, port: int, models: list[str], timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not json.loads(docker("inspect", name).stdout)[0]["State"]["Running"]:
            raise RuntimeError(f"{name} exited: {docker('logs', '--tail', '60', name).stderr[-3000:]}")
        try:
            if all(requests.get(f"http://127.0.0.1:{port}/v2/models/{m}/ready", timeout=5).status_code == 200
                   for m in models):
                return
        except requests.RequestException:
            pass
        time.sleep(2)
    raise TimeoutError(f"{name}: models not ready within {timeout:.0f} s")


def v1_instance(spec: ModelSpec) -> dict:
    if "file" in spec.sample:  # cnn: the image as base64 under the field its handler reads files from
        return {"file": base64.b64encode((REPO / spec.sample["file"]).read_bytes()).decode()}
    return spec.sample.get("json", {})


def v2_inputs(spec: ModelSpec) -> list[dict]:
    if "file" in spec.sample:  # cnn takes arrays: the decoded pixels as one UINT8 tensor
        pixels = np.asarray(Image.open(io.BytesIO((REPO / spec.sample["file"]).read_bytes())).convert("RGB"))
        return [{"name": "image", "shape": list(pixels.shape), "datatype": "UINT8", "data": pixels.ravel().tolist()}]
    return [{"name": field, "shape": [1], "datatype": _datatype(value), "data": [value]}
            for field, value in spec.sample.get("json", {}).items()]


def _datatype(value) -> str:
    return next(name for kind, name in DATATYPES if isinstance(value, kind))


def cases() -> list[dict]:
    registry = load_registry().values()
    good = [{"model": s.name, "protocol": "v1", "instances": [v1_instance(s)]} for s in registry]
    good += [{"model": s.name, "protocol": "v2", "inputs": v2_inputs(s)} for s in registry]
    bad = [{"model": "bigram", "protocol": "v2", "expect_field": "length",
            "inputs": [{"name": "start_word", "shape": [1], "datatype": "BYTES", "data": ["The"]},
                       {"name": "length", "shape": [1], "datatype": "INT64", "data": [10 ** 6]}]},
           {"model": "bigram", "protocol": "v1", "expect_field": "length",
            "instances": [{"start_word": "The", "length": 10}, {"start_word": "The", "length": -1}]}]
    return good + bad


def call(kserve_python: Path, port: int, todo: list[dict]) -> list[dict]:
    proc = subprocess.run([str(kserve_python), str(CLIENT), f"http://127.0.0.1:{port}"], input=json.dumps(todo),
                          capture_output=True, text=True, timeout=1800, check=True)
    return json.loads(proc.stdout)


def judge(todo: list[dict], results: list[dict]) -> list[str]:
    """Problems: a good case that failed or answered nothing, a bad case not refused with a 400 naming its field."""
    problems = []
    for case, result in zip(todo, results):
        where = f"{case['model']} {case['protocol']}"
        if "expect_field" in case:
            if result["ok"] or result.get("status") != 400 or refused_field(result) != case["expect_field"]:
                problems.append(f"{where}: bad input not refused with a 400 naming {case['expect_field']}: {result}")
            continue
        if not result["ok"]:
            problems.append(f"{where}: HTTP {result.get('status')}: {result.get('error')}")
            continue
        answer = result["answer"]
        items = answer.get("predictions") if case["protocol"] == "v1" else answer.get("outputs")
        if not items or (case["protocol"] == "v1" and "error" in items[0]):
            problems.append(f"{where}: empty or failed answer {str(answer)[:200]}")
    return problems


def refused_field(result: dict) -> str | None:
    """The field a refusal names: the model's {"error", "field"} body, as KServe's server wraps it in `detail`."""
    try:
        return json.loads(result["error"])["detail"]["field"]
    except (KeyError, TypeError, ValueError):
        return None
