"""make gpu-check on a machine without CUDA (this one, CI): it runs, and every row shows the CPU fallback and
its reason; handlers come from a real .mar (archived for the GPU) or from artifacts/, on random-weight exports."""
from __future__ import annotations

import shutil

import onnxruntime as ort
import pytest
import torch

from genai_ops.registry import Paths, load_registry
from loadtests import gpu_check
from loadtests.inprocess import call_handler

pytestmark = pytest.mark.skipif(torch.cuda.is_available() or "CUDAExecutionProvider" in ort.get_available_providers(),
                                reason="covers the CPU fallback; on a GPU machine run `make gpu-check` itself")


def rows_of(printed: str) -> dict[str, list[str]]:
    """The markdown table's body rows by model name (cells stripped)."""
    rows = {}
    for line in printed.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0] in load_registry():
            rows[cells[0]] = cells
    return rows


@pytest.fixture
def project(random_exports, tmp_path) -> Paths:
    """A copy of the random exports with gan archived as `make archive DEVICE=gpu` would (a real .mar)."""
    from export.archive import archive

    paths = Paths(tmp_path / "project")
    shutil.copytree(random_exports.artifacts, paths.artifacts)
    registry = load_registry()
    archive(registry["gan"], "1.0", registry, paths, device_type="gpu")
    return paths


def test_call_handler_gives_each_request_its_status_and_json(handler_factory):
    handler, _ = handler_factory("gan")
    (ok, ok_body), (bad, bad_body) = call_handler(handler, [{"num_samples": 1, "seed": 1}, {"num_samples": 999}])
    assert ok == 200 and ok_body["seed"] == 1 and "image_base64_png" in ok_body
    assert bad == 400 and bad_body["field"] == "num_samples"


def test_gpu_check_reports_the_cpu_fallback_and_why(project, capsys):
    code = gpu_check.main(["gan", "ebm", "cnn", "diffusion", "--base", str(project.base), "--repeats", "1"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    rows = rows_of(printed)
    header = "model | version | from | device with gpu_id 0 | why | output valid | same seed alone = batched"
    assert header in printed and set(rows) == {"gan", "ebm", "cnn", "diffusion"}
    _, _, source, device, why, valid, same, ms_there, ms_cpu, threads = rows["gan"]
    assert source == "`model_store/gan-1.0.mar`"  # the archive wins over artifacts/ when there is one
    assert device == "`cpu`" and why.startswith("WARNING: GPU 0 was assigned") and "no CUDA provider" in why
    assert valid == "yes" and same == "yes" and float(ms_there) > 0 and float(ms_cpu) > 0 and int(threads) >= 1
    assert rows["ebm"][3] == "`cpu`" and "CUDA unusable" in rows["ebm"][4] and rows["ebm"][2].startswith("`artifacts/")
    for model in ("cnn", "diffusion"):  # ONNX Runtime on the CPU is batch-invariant for these graphs
        assert rows[model][5] == "yes" and rows[model][6] == "yes", rows[model]
    assert "onnxruntime" in printed.splitlines()[-1]  # the host line: versions and providers


def test_a_model_without_an_export_is_a_failed_row_not_a_crash(project, capsys):
    assert gpu_check.main(["lstm", "gan", "--base", str(project.base), "--repeats", "1"]) == 1
    rows = rows_of(capsys.readouterr().out)
    assert "make export-lstm" in rows["lstm"][5] and rows["gan"][5] == "yes"


def test_write_is_refused_when_no_model_ran_on_a_gpu(project, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(gpu_check, "DOCS", tmp_path / "docs")
    assert gpu_check.main(["gan", "--base", str(project.base), "--repeats", "1", "--write"]) == 1
    assert "no model ran on a GPU" in capsys.readouterr().err
    assert not (tmp_path / "docs").exists()


def test_validity_catches_non_finite_numbers_and_broken_images():
    assert gpu_check.validity(200, {"probs": [0.5, 0.5]}) == (True, "yes")
    ok, why = gpu_check.validity(200, {"probs": [0.5, float("nan")], "image_base64_png": "bm90IGEgcG5n"})
    assert not ok and "probs is nan" in why and "image_base64_png does not decode" in why
    assert gpu_check.validity(400, {"error": "num_samples out of range", "field": "num_samples"})[0] is False
