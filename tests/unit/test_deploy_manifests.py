"""Deployment files: hadolint on both Dockerfiles, every manifest validated offline against the pinned
Kubernetes schemas (and shown to reject bad ones), and the security promises the files make (non-root,
loopback management and gRPC, probes that carry the token, config that does not drift from the repo's)."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from genai_ops.registry import REPO_ROOT
from genai_ops.server import read_properties

# deploy/validate.py is a script (`make validate-k8s`), not a package module: load it by path.
_spec = importlib.util.spec_from_file_location("deploy_validate", REPO_ROOT / "deploy/validate.py")
validate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(validate)

HADOLINT = Path(sys.executable).parent / "hadolint"
DOCKERFILES = [REPO_ROOT / "docker/Dockerfile", REPO_ROOT / "docker/Dockerfile.gpu"]
LINTED = DOCKERFILES + [REPO_ROOT / "docker/Dockerfile.kserve", REPO_ROOT / "docker/prometheus/Dockerfile"]


def hadolint(*files: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(HADOLINT), "--no-color", "--config", str(REPO_ROOT / ".hadolint.yaml"), *map(str, files)],
                          capture_output=True, text=True, timeout=60)


def load(rel: str) -> dict:
    return yaml.safe_load((REPO_ROOT / rel).read_text())


# -- Dockerfiles ----------------------------------------------------------------------------------------
def test_dockerfiles_pass_hadolint():
    result = hadolint(*LINTED)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_hadolint_rejects_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install requests\nUSER root\n")
    result = hadolint(bad)
    assert result.returncode != 0
    for rule in ("DL3007", "DL3013", "DL3002"):  # :latest, unpinned pip, last USER root
        assert rule in result.stdout


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_runtime_stage_is_non_root_with_healthcheck_and_entrypoint(dockerfile):
    final = dockerfile.read_text().split("\nFROM ")[-1]  # the runtime stage
    assert "USER 10001:10001" in final
    assert 'CMD ["python", "-m", "genai_ops.probe", "--ready"]' in final
    assert "COPY docker/entrypoint.sh" in final and 'ENTRYPOINT ["genai-entrypoint"]' in final
    assert "GENAI_BIND=0.0.0.0" in final  # said on purpose, for inference and metrics only
    assert "GENAI_MANAGEMENT_BIND" not in final and "GENAI_GRPC_BIND" not in final  # those stay loopback
    exposed = [line for line in final.splitlines() if line.startswith("EXPOSE")]
    assert exposed == ["EXPOSE 8080 8082"]
    assert "openjdk-17-jre-headless" in final


def test_gpu_image_swaps_onnxruntime_for_the_gpu_build():
    # The swap itself lives in pyproject.toml [tool.genai-serve.gpu] and docker/requirements.py; the image's pins
    # are resolved on PyPI by tests/unit/test_image_requirements.py.
    text = DOCKERFILES[1].read_text()
    assert "ARG BASE_IMAGE=nvidia/cuda:" in text and "FROM ${BASE_IMAGE}" in text
    assert "python3 docker/requirements.py --gpu > requirements.txt" in text
    assert "pip show --quiet onnxruntime" in text  # the build fails if plain onnxruntime came back in


def test_cpu_image_takes_torch_from_the_cpu_index():
    assert "download.pytorch.org/whl/cpu" in DOCKERFILES[0].read_text()


def test_compose_volumes_ports_and_prometheus():
    compose = load("docker/compose.yaml")
    genai, prometheus = compose["services"]["genai"], compose["services"]["prometheus"]
    mounts = {v.rsplit(":", 2)[1] if v.endswith(":ro") else v.rsplit(":", 1)[1]: v for v in genai["volumes"]}
    assert mounts["/opt/genai-serve/model_store"].endswith(":ro")
    assert "/var/lib/genai-serve" in mounts and "/var/lib/genai-serve/logs" in mounts  # key file, logs
    assert all(p.startswith("127.0.0.1:") for p in genai["ports"] + prometheus["ports"])
    assert prometheus["read_only"] and prometheus["build"]["dockerfile"] == "docker/prometheus/Dockerfile"
    scrape = load("docker/prometheus/prometheus.yml")["scrape_configs"][0]
    assert scrape["static_configs"][0]["targets"] == ["genai:8082"]


# -- Kubernetes / KServe manifests ------------------------------------------------------------------------
def test_every_manifest_validates_against_the_pinned_kubernetes():
    files = validate.manifests()
    assert {f.relative_to(REPO_ROOT).as_posix() for f in files} >= {
        "deploy/k8s/deployment.yaml", "deploy/k8s/service.yaml", "deploy/k8s/hpa.yaml", "deploy/k8s/configmap.yaml",
        "deploy/k8s/pvc.yaml", "deploy/kserve/inferenceservice.yaml"}
    problems = [p for f in files for p in validate.validate_file(f)]
    assert problems == []


def test_validate_k8s_command_passes():
    result = subprocess.run([sys.executable, str(REPO_ROOT / "deploy/validate.py")], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"against Kubernetes {validate.K8S_VERSION}: OK" in result.stdout


BAD = {
    "a string where Kubernetes wants an integer": ("deploy/k8s/deployment.yaml", ("spec", "replicas"), "two"),
    "a misspelt field (strict mode)": ("deploy/k8s/service.yaml", ("spec", "prots"), []),
    "a canary above 100%": ("deploy/kserve/inferenceservice.yaml", ("spec", "predictor", "canaryTrafficPercent"), 150),
    "a misspelt core field inside the CRD": ("deploy/kserve/inferenceservice.yaml",
                                             ("spec", "predictor", "model", "resources", "limts"), {}),
    "an unknown storage scheme": ("deploy/kserve/inferenceservice.yaml", ("spec", "predictor", "model", "storageUri"),
                                  "ftp://x"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_validation_rejects_bad_manifests(case):
    rel, path, value = BAD[case]
    doc = load(rel)
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert validate.validate_doc(doc), f"{case} was accepted"


def test_validation_rejects_kinds_it_has_no_schema_for():
    problems = validate.validate_doc({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})
    assert problems and "no schema" in problems[0]


def test_configmap_matches_the_repository_config():
    """The pods' config.properties is the repo's (tokens on, allowed_urls, sizes): it must not drift."""
    cm = load("deploy/k8s/configmap.yaml")
    pod = dict(line.split("=", 1) for line in cm["data"]["config.properties"].splitlines() if "=" in line)
    assert pod == read_properties(REPO_ROOT / "config.properties")
    assert pod["disable_token_authorization"] == "false"


def test_deployment_security_and_probes():
    dep = load("deploy/k8s/deployment.yaml")
    pod = dep["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["GENAI_BIND"] == "0.0.0.0"
    assert env["GENAI_MANAGEMENT_BIND"] == "127.0.0.1" and env["GENAI_GRPC_BIND"] == "127.0.0.1"
    assert env["GENAI_CONFIG"] == "/etc/genai-serve/config.properties"
    assert {p["containerPort"] for p in container["ports"]} == {8080, 8082}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    # /ping needs the token: exec probes that read the pod's key file, never httpGet
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["exec"]["command"][:3] == ["python", "-m", "genai_ops.probe"]
    assert "--ready" in container["readinessProbe"]["exec"]["command"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["model-store"]["readOnly"] is True
    (init,) = pod["initContainers"]
    assert init["command"][-1] == "--check-store"


def test_service_and_hpa_target_the_deployment():
    dep, svc, hpa = load("deploy/k8s/deployment.yaml"), load("deploy/k8s/service.yaml"), load("deploy/k8s/hpa.yaml")
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    assert {p["port"] for p in svc["spec"]["ports"]} == {8080, 8082}  # no management, no gRPC
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": dep["metadata"]["name"]}
    assert hpa["spec"]["minReplicas"] >= 2
