"""The parity gate and the archive step's refusals, on real exports of small random networks."""
import json
import zipfile
from pathlib import Path

import pytest
import yaml

from export import archive as archive_mod
from export import onnx as onnx_mod
from genai_serve.nets import build
from genai_ops.registry import Paths, load_registry


def test_exports_passed_parity_with_random_and_real_inputs(random_exports):
    for model in ("cnn", "gan"):
        info = json.loads((random_exports.artifact_dir(model) / "export.json").read_text())
        diffs = info["parity"]["max_abs_diff"]
        assert set(diffs) == {"random_bs1", "random_bs7", "real"}
        assert max(diffs.values()) <= 1e-4


def test_failed_parity_gate_keeps_the_previous_artifact(tmp_path, monkeypatch):
    out = tmp_path / "model.onnx"
    out.write_bytes(b"previous artifact")
    monkeypatch.setattr(onnx_mod, "parity", lambda net, path, inputs: {k: 0.5 for k in inputs})
    with pytest.raises(RuntimeError, match="parity gate failed"):
        onnx_mod.export_with_gate(build("gan_generator"), {"input": [100]}, out,
                                  real_inputs={"input": onnx_mod.np.zeros((2, 100))})
    assert out.read_bytes() == b"previous artifact"
    assert list(tmp_path.iterdir()) == [out]  # no temp files left behind


def test_archive_contains_handler_shared_code_config_and_card(random_exports):
    registry = load_registry()
    mar = archive_mod.archive(registry["gan"], "3.1", registry, random_exports)
    assert mar.name == "gan-3.1.mar"
    with zipfile.ZipFile(mar) as z:
        names = set(z.namelist())
        config = yaml.safe_load(z.read("model-config.yaml"))
        card = json.loads(z.read("model_card.json"))
        manifest = json.loads(z.read("MAR-INF/MANIFEST.json"))
    assert {"gan.py", "model.onnx", "handlers/base.py", "genai_serve/envelope.py", "model_card.json"} <= names
    assert config["batchSize"] == registry["gan"].model_config["batchSize"]
    assert config["handler"]["request"]["num_samples"]["max"] == 64
    assert card["version"] == "3.1" and len(card["artifacts"]["model.onnx"]["sha256"]) == 64
    assert manifest["model"]["modelVersion"] == "3.1" and manifest["model"]["modelName"] == "gan"


def test_archive_refuses_an_artifact_that_changed_after_export(random_exports, tmp_path):
    import shutil

    paths = Paths(tmp_path)
    shutil.copytree(random_exports.artifact_dir("gan"), paths.artifact_dir("gan"))
    with open(paths.artifact_dir("gan") / "model.onnx", "ab") as fh:
        fh.write(b"tampered")
    registry = load_registry()
    with pytest.raises(SystemExit, match="checksum"):
        archive_mod.archive(registry["gan"], "1.0", registry, paths)


def test_registry_entries_point_at_real_files():
    root = Path(__file__).resolve().parents[2]
    for spec in load_registry().values():
        assert (root / spec.handler).is_file()
        assert spec.default_version in spec.versions
        body, content_type = spec.sample_body()
        assert body and content_type


def test_iterative_exports_carry_what_sampling_needs(random_exports):
    ebm = json.loads((random_exports.artifact_dir("ebm") / "export.json").read_text())
    assert ebm["format"] == "torch_state" and ebm["parity"]["passed"]
    assert set(ebm["parity"]["max_abs_diff"]) == {"real_images", "uniform_start"}
    diffusion = json.loads((random_exports.artifact_dir("diffusion") / "export.json").read_text())
    assert diffusion["format"] == "onnx" and max(diffusion["parity"]["max_abs_diff"].values()) <= 1e-4
    sidecar = json.loads((random_exports.artifact_dir("diffusion") / "sampler.json").read_text())
    assert sidecar["normalizer"]["std"] == [0.25, 0.24, 0.26]
    assert set(diffusion["artifacts"]) == {"model.onnx", "sampler.json"}
    import onnxruntime as ort

    session = ort.InferenceSession(str(random_exports.artifact_dir("diffusion") / "model.onnx"))
    assert [i.name for i in session.get_inputs()] == ["x", "noise_variance"]


def test_torch_state_gate_refuses_a_network_with_non_finite_outputs(tmp_path):
    import torch

    from export.kinds import export_torch_state
    from genai_ops.checkpoint import save_checkpoint

    state = build("ebm_energy").state_dict()
    state["fc2.bias"] = torch.tensor([float("nan")])
    ckpt = tmp_path / "model.pt"
    save_checkpoint(ckpt, net="ebm_energy", kwargs={}, state_dict=state, metrics={}, data={})
    with pytest.raises(RuntimeError, match="non-finite"):
        export_torch_state(load_registry()["ebm"], ckpt, tmp_path / "out")
    assert not (tmp_path / "out" / "model.pt").exists()
