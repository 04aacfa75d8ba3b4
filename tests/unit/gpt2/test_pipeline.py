"""gpt2_qa's pipeline plumbing: the trainer's layout (two versions + the record written last), per-version
export/archive paths in the registry, and the offline default never needing the network."""
import json

import pytest

from genai_ops.registry import Paths, load_registry


def test_per_version_paths_and_the_version_check():
    spec = load_registry()["gpt2_qa"]
    assert spec.per_version and spec.checkpoint_name == "training.json"
    assert spec.default_version in spec.versions == ("1.0", "2.0", "2.1")
    assert spec.export_for("2.1")["kind"] == "gpt2_int8" and spec.export_for("2.1")["quantize"]["from"] == "2.0"
    assert spec.export_for("2.0") == {"kind": "gpt2_onnx", "per_version": True}
    paths = Paths()
    assert paths.artifact_dir("gpt2_qa", spec.artifact_version("2.0")) == paths.artifacts / "gpt2_qa" / "2.0"
    with pytest.raises(SystemExit, match="one of"):
        spec.artifact_version("3.0")
    cnn = load_registry()["cnn"]  # every other model keeps one unversioned export
    assert cnn.artifact_version("7.0") is None and paths.checkpoint("cnn", cnn.checkpoint_name).name == "model.pt"


def test_quick_training_run_writes_both_versions_with_cards_and_the_record_last(tmp_path, monkeypatch):
    from training import train_gpt2_qa

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    out = tmp_path / "checkpoints" / "gpt2_qa" / "training.json"
    train_gpt2_qa.main(["--out", str(out), "--max-steps", "2", "--train-limit", "8", "--eval-limit", "4"])
    record = json.loads(out.read_text())
    assert record["versions"] == {"1.0": "sft", "2.0": "rl"}
    assert set(record["held_out"]) == {"1.0", "2.0"} and record["held_out"]["1.0"]["greedy"]["n"] == 4
    for version, stage in record["versions"].items():
        card = json.loads((out.parent / version / "card.json").read_text())
        assert card["stage"] == stage and set(card["held_out"]) == {"greedy", "sampled"}
        for decoding in card["held_out"].values():
            assert all(0 <= decoding[k] <= 1 for k in ("exact_match", "f1", "contained", "format_compliance"))
        assert (out.parent / version / "model.safetensors").exists() and (out.parent / version / "tokenizer.json").exists()
    assert json.loads((out.parent / "2.0" / "card.json").read_text())["training"]["rl_algorithm"] == "GRPO (trl)"
    import os

    assert os.environ.get("HF_HUB_OFFLINE") == "1"  # nothing named a hub id: the run stayed offline


def test_each_version_is_archived_from_its_own_export(gpt2_exports):
    import zipfile

    from export import archive as archive_mod

    registry = load_registry()
    for version, stage in (("1.0", "sft"), ("2.0", "rl"), ("2.1", "rl")):  # 2.1: 2.0's weights in int8
        mar = archive_mod.archive(registry["gpt2_qa"], version, registry, gpt2_exports)
        with zipfile.ZipFile(mar) as z:
            names = set(z.namelist())
            card = json.loads(z.read("model_card.json"))
            generation = json.loads(z.read("generation.json"))
        assert {"gpt2_qa.py", "model.onnx", "tokenizer/tokenizer.json", "generation.json"} <= names
        assert generation["stage"] == stage and card["version"] == version and card["parity"]["passed"]
        assert "genai_serve/gpt2/decode.py" in names
    with pytest.raises(SystemExit, match="one of"):
        archive_mod.archive(registry["gpt2_qa"], "3.0", registry, gpt2_exports)
