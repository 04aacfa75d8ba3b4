"""`make kserve-bundle`: the layout KServe's TorchServe runtime reads under storageUri, and a config whose
model_snapshot loads every archived version with the registry's default (the start-up itself is exercised
against a real TorchServe in tests/e2e/test_deploy_e2e.py)."""
from __future__ import annotations

import json

import pytest
import yaml

from export import kserve_bundle
from genai_ops.registry import REPO_ROOT, Paths, load_registry


@pytest.fixture
def project(tmp_path):
    """A model store holding a (stand-in) archive for every version of every registry model."""
    paths = Paths(tmp_path / "project")
    paths.model_store.mkdir(parents=True)
    for spec in load_registry().values():
        for version in spec.versions:
            (paths.model_store / spec.mar_file(version)).write_bytes(f"{spec.name} {version}".encode())
    return paths


def props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))


def test_layout_holds_config_and_every_archived_version(project, tmp_path):
    out = tmp_path / "bundle"
    kserve_bundle.main(["--out", str(out), "--base", str(project.base)])
    registry = load_registry()
    expected = {spec.mar_file(v) for spec in registry.values() for v in spec.versions}
    assert {p.name for p in (out / "model-store").iterdir()} == expected
    assert sorted(p.name for p in out.iterdir()) == ["config", "model-store"]
    assert [p.name for p in (out / "config").iterdir()] == ["config.properties"]
    for name in expected:  # the archives themselves, byte for byte
        assert (out / "model-store" / name).read_bytes() == (project.model_store / name).read_bytes()


def test_config_follows_kserve_torchserve_conventions(project, tmp_path):
    out = tmp_path / "bundle"
    kserve_bundle.main(["--out", str(out), "--base", str(project.base)])
    cfg = props((out / "config/config.properties").read_text())
    assert cfg["model_store"] == "/mnt/models/model-store"
    assert cfg["inference_address"] == "http://127.0.0.1:8085"  # the runtime forwards here from :8080
    assert "service_envelope" not in cfg  # the runtime speaks v1/v2 itself; TorchServe gets the models' own requests
    snapshot = json.loads(cfg["model_snapshot"])
    registry = load_registry()
    assert set(snapshot["models"]) == set(registry)
    assert snapshot["modelCount"] == sum(len(s.versions) for s in registry.values())
    for name, versions in snapshot["models"].items():
        spec = registry[name]
        assert set(versions) == set(spec.versions)
        assert [v for v, entry in versions.items() if entry["defaultVersion"]] == [spec.default_version]
        for version, entry in versions.items():
            assert entry["marName"] == spec.mar_file(version)
            assert (out / "model-store" / entry["marName"]).exists()
            assert entry["batchSize"] == spec.model_config["batchSize"]
            assert entry["maxBatchDelay"] == spec.model_config["maxBatchDelay"]
            assert entry["minWorkers"] == spec.model_config["minWorkers"]


def test_config_keeps_torchserve_unreachable_from_outside_the_pod(project):
    """Token auth is off only because every listener but metrics is on loopback and nothing can register."""
    cfg = props(kserve_bundle.render_config(list(load_registry().values()), project.model_store))
    assert cfg["disable_token_authorization"] == "true"
    for key in ("inference_address", "management_address"):
        assert cfg[key].startswith("http://127.0.0.1:")
    assert cfg["grpc_inference_address"] == cfg["grpc_management_address"] == "127.0.0.1"
    # KServe's model server takes 8080 (REST) and 8081 (gRPC): none of TorchServe's listeners may
    ports = {cfg[k].rsplit(":", 1)[1] for k in ("inference_address", "management_address", "metrics_address")}
    assert not ports & {"8080", "8081"} and not {cfg["grpc_inference_port"], cfg["grpc_management_port"]} & {"8080", "8081"}
    assert cfg["enable_model_api"] == "false"
    assert cfg["allowed_urls"] == r"file:///mnt/models/model\-store/.*"
    assert cfg["max_request_size"] == "10485760"  # the rest of the project's config carries over


def test_named_models_only_and_missing_archives_refused(project, tmp_path):
    out = tmp_path / "bundle"
    kserve_bundle.main(["cnn", "--out", str(out), "--base", str(project.base)])
    assert sorted(p.name for p in (out / "model-store").iterdir()) == ["cnn-1.0.mar"]
    assert list(json.loads(props((out / "config/config.properties").read_text())["model_snapshot"])["models"]) == ["cnn"]
    (project.model_store / "gan-1.0.mar").unlink()
    with pytest.raises(SystemExit, match="gan-1.0.mar"):
        kserve_bundle.main(["--out", str(out), "--base", str(project.base)])


def test_inferenceservice_names_the_runtime_that_loads_the_bundle():
    isvc = yaml.safe_load((REPO_ROOT / "deploy/kserve/inferenceservice.yaml").read_text())
    runtime = yaml.safe_load((REPO_ROOT / "deploy/kserve/servingruntime.yaml").read_text())
    model = isvc["spec"]["predictor"]["model"]
    assert model["runtime"] == runtime["metadata"]["name"]
    formats = {f["name"] for f in runtime["spec"]["supportedModelFormats"]}
    assert model["modelFormat"]["name"] in formats
    assert model["protocolVersion"] in runtime["spec"]["protocolVersions"]
    assert model["storageUri"].startswith("pvc://")
    args = runtime["spec"]["containers"][0]["args"]  # where KServe's storage initializer puts the bundle
    assert f"--model-store={kserve_bundle.MOUNT}/model-store" in args
    assert f"--ts-config={kserve_bundle.MOUNT}/config/config.properties" in args
