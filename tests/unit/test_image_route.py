"""The Dockerfiles, the stand-in base route of `make image-test` and the deployment manifests agree.

`make image-test` builds and runs the images (too long for `make test`); these fast checks keep the pieces it
relies on from drifting apart: the build arguments and their defaults, what the stand-in base provides for
the Dockerfile's commands, the image tags each piece names, and the ServingRuntime the test starts as KServe.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys

import yaml

from export import kserve_bundle
from genai_ops.registry import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "docker" / "imagetest"))
import docker_cli  # noqa: E402
import run as image_test  # noqa: E402

DOCKER = REPO_ROOT / "docker"


def build_args(dockerfile: str) -> dict[str, str]:
    text = (DOCKER / dockerfile).read_text()
    return dict(line.split()[1].split("=", 1) for line in text.splitlines() if line.startswith("ARG ") and "=" in line)


def test_cpu_dockerfile_defaults_are_the_real_base_and_index_the_test_falls_back_from():
    args = build_args("Dockerfile")
    assert args == {"BASE_IMAGE": docker_cli.REGISTRY_BASE, "TORCH_INDEX_URL": docker_cli.TORCH_CPU_INDEX}
    text = (DOCKER / "Dockerfile").read_text()
    assert [line for line in text.splitlines() if line.startswith("FROM ")] == ["FROM ${BASE_IMAGE} AS deps",
                                                                                "FROM ${BASE_IMAGE}"]
    # an empty TORCH_INDEX_URL must drop the option, not pass an empty index to pip
    assert '${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"}' in text
    assert "# syntax=" not in text  # BuildKit would pull its frontend image from the registry


def test_compose_builds_with_the_same_defaults():
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]
    genai = compose["genai"]["build"]["args"]
    assert genai["BASE_IMAGE"] == "${GENAI_BASE_IMAGE:-%s}" % docker_cli.REGISTRY_BASE
    assert genai["TORCH_INDEX_URL"] == "${GENAI_TORCH_INDEX_URL-%s}" % docker_cli.TORCH_CPU_INDEX
    assert compose["genai"]["image"] == image_test.CPU_IMAGE
    assert compose["prometheus"]["image"] == image_test.PROMETHEUS_IMAGE
    assert compose["prometheus"]["build"]["dockerfile"] == "docker/prometheus/Dockerfile"


def test_standin_base_provides_what_the_dockerfile_runs():
    script = (DOCKER / "standin-base.sh").read_text()
    packages = re.search(r"--include=(\S+)", script).group(1).split(",")
    # The Dockerfile calls `python` (as python:3.11-slim has it), makes a venv with pip, and apt installs Java.
    assert {"python3", "python3-venv", "python-is-python3", "ca-certificates"} <= set(packages)
    text = (DOCKER / "Dockerfile").read_text()
    assert "python -m venv /opt/venv" in text and "apt-get install" in text
    # The same Debian release as the registry's base (python:3.11-slim-bookworm -> bookworm, Python 3.11)
    suite = re.search(r"\\\n\s+(\w+) \"\$ROOTFS\"", script).group(1)
    assert docker_cli.REGISTRY_BASE.endswith(suite) and suite == "bookworm"
    # pip inside the build trusts the machine's CA bundle
    assert 'cp "$CA_BUNDLE" "$ROOTFS/etc/ssl/certs/ca-certificates.crt"' in script
    assert "cert = /etc/ssl/certs/ca-certificates.crt" in script
    assert docker_cli.STANDIN_BASE in script


def test_kserve_runtime_image_and_servingruntime_name_the_images_the_test_builds():
    assert build_args("Dockerfile.kserve") == {"GENAI_IMAGE": image_test.CPU_IMAGE}
    runtime = yaml.safe_load((REPO_ROOT / "deploy/kserve/servingruntime.yaml").read_text())
    (container,) = runtime["spec"]["containers"]
    assert container["image"] == image_test.KSERVE_IMAGE
    # the runtime (in KServe's venv, where it runs) takes the ServingRuntime's args as written
    parsed = subprocess.run([str(image_test.KSERVE_PYTHON), "-c", "import json, sys; from genai_ops.kserve_runtime "
                             "import parse_args; print(json.dumps(vars(parse_args(sys.argv[1:]))))", *container["args"]],
                            cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    args = json.loads(parsed.stdout)
    assert args["model_store"] == f"{kserve_bundle.MOUNT}/model-store"
    assert args["ts_config"] == f"{kserve_bundle.MOUNT}/config/config.properties"
    workdir = {e["name"]: e["value"] for e in container["env"]}["GENAI_WORKDIR"]
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert workdir in mounts and "/tmp" in mounts  # the writable paths under a read-only root
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_image_test_runs_the_container_as_the_deployment_does():
    """What `make image-test` checks is how deploy/k8s/deployment.yaml runs the image: same user, read-only root
    with the same writable paths, no capabilities, the same CPU and memory limits, the store read-only."""
    import container as checks

    args = checks.hardened_run_args("c", REPO_ROOT / "model_store")
    deployment = yaml.safe_load((REPO_ROOT / "deploy/k8s/deployment.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    (serving,) = [c for c in pod["containers"] if c["name"] == "genai-serve"]
    assert args[args.index("--user") + 1] == f"{pod['securityContext']['runAsUser']}:{pod['securityContext']['runAsGroup']}"
    assert "--read-only" in args and serving["securityContext"]["readOnlyRootFilesystem"] is True
    assert args[args.index("--cap-drop") + 1] == "ALL" and serving["securityContext"]["capabilities"]["drop"] == ["ALL"]
    tmpfs = {args[i + 1].split(":")[0] for i, a in enumerate(args) if a == "--tmpfs"}
    writable = {m["mountPath"] for m in serving["volumeMounts"] if not m.get("readOnly")}
    assert tmpfs == writable == {"/tmp", checks.WORKDIR}
    limits = serving["resources"]["limits"]
    assert args[args.index("--cpus") + 1] == limits["cpu"]
    assert args[args.index("--memory") + 1] == limits["memory"].replace("Gi", "g")
    store = [m for m in serving["volumeMounts"] if m["mountPath"] == checks.STORE]
    assert store and store[0]["readOnly"] and any(a.endswith(f":{checks.STORE}:ro") for a in args)
    ports = {p["containerPort"] for p in serving["ports"]}
    assert ports == {8080, 8082} and {"127.0.0.1:0:8080", "127.0.0.1:0:8082"} <= set(args)
