"""Which device each model runs on, and why (genai_serve/runtime.py DeviceReport): the CPU fallbacks this
CPU-only machine shows for real, the worker's load log line and its model card (describe)."""
from __future__ import annotations

import logging

import onnxruntime as ort
import pytest
import torch

from genai_serve import runtime
from genai_ops.registry import load_registry
from genai_serve.runtime import (DeviceReport, make_session, recording_devices, session_device, torch_device,
                                 torch_device_report, worker_device)

ORT_HAS_CUDA = "CUDAExecutionProvider" in ort.get_available_providers()
needs_cpu_onnxruntime = pytest.mark.skipif(ORT_HAS_CUDA, reason="covers the CPU package's fallback")
needs_no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="covers the fallback on a machine without CUDA")

# What each export kind (models.yaml `export.kind`, or a version's `export.versions.<v>.kind`) is served
# through: the runtime a worker must report.
RUNTIME_OF_EXPORT_KIND = {"onnx": "onnxruntime", "lstm_step": "onnxruntime", "gpt2_onnx": "onnxruntime",
                          "gpt2_int8": "onnxruntime", "torch_state": "torch", "bigram_table": "none",
                          "spacy_vectors": "none"}


def test_session_without_a_gpu_id_is_on_the_cpu_and_recorded(relu_onnx):
    with recording_devices() as reports:
        session = make_session(relu_onnx, threads=1)
    assert reports == [session_device(session, None)]
    (report,) = reports
    assert (report.device, report.runtime, report.providers) == ("cpu", "onnxruntime", ("CPUExecutionProvider",))
    assert "no gpu_id assigned" in report.reason and report.warning is None


@needs_cpu_onnxruntime
def test_session_with_a_gpu_id_on_the_cpu_package_warns_and_names_the_package(relu_onnx):
    with recording_devices() as reports:
        make_session(relu_onnx, threads=1, gpu_id=0)
    (report,) = reports
    assert report.device == "cpu" and "no CUDA provider in this onnxruntime" in report.reason
    assert report.warning.startswith("GPU 0 was assigned but this model runs on the CPU")


@needs_cpu_onnxruntime
def test_a_cuda_provider_that_does_not_start_is_read_from_the_session(relu_onnx, monkeypatch):
    # As with onnxruntime-gpu when CUDA or cuDNN cannot be loaded: the CUDA provider is asked for, ONNX Runtime
    # drops it and runs on the CPU. The report reads what the session got, not what was asked for.
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    with recording_devices() as reports:
        session = make_session(relu_onnx, threads=1, gpu_id=0)
    assert session.get_providers() == ["CPUExecutionProvider"]
    (report,) = reports
    assert report.device == "cpu" and "could not start" in report.reason and report.warning


def test_nothing_is_recorded_outside_a_recording_block(relu_onnx):
    make_session(relu_onnx, threads=1)  # no block open: must not fail, must not leak into the next one
    with recording_devices() as reports:
        pass
    assert reports == []


# -- torch ----------------------------------------------------------------------------------------------------------
def test_torch_reasons(monkeypatch):
    none = torch_device_report(None)
    assert none.device == "cpu" and "no gpu_id" in none.reason and none.warning is None
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    unusable = torch_device_report(0)
    assert unusable.device == "cpu" and "CUDA unusable" in unusable.reason and unusable.warning
    monkeypatch.setattr(torch.version, "cuda", None)
    no_cuda = torch_device_report("0")
    assert no_cuda.device == "cpu" and "built without CUDA" in no_cuda.reason and no_cuda.warning


def test_torch_on_a_usable_gpu_reports_it_without_a_warning(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # stands in for a GPU machine's driver
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index: "NVIDIA H200")
    report = torch_device_report("0")
    assert report.device == "cuda:0" and "NVIDIA H200" in report.reason and report.warning is None
    assert torch_device_report(1).device == "cpu"  # past the GPUs torch sees


def test_torch_device_records_what_it_returns(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with recording_devices() as reports:
        device = torch_device(0)
    assert device.type == "cpu" and [r.runtime for r in reports] == ["torch"] and reports[0].warning


# -- one report per worker ------------------------------------------------------------------------------------------
def test_worker_without_a_network_is_on_the_cpu_by_design():
    report = worker_device([], gpu_id=0, device_type="gpu")
    assert (report.device, report.runtime, report.warning) == ("cpu", "none", None)
    assert "no GPU path" in report.reason


def test_worker_reports_merge_and_keep_every_warning():
    gpu = DeviceReport("cuda:0", "onnxruntime", ("CUDAExecutionProvider", "CPUExecutionProvider"), "ok")
    cpu = DeviceReport("cpu", "torch", reason="CUDA unusable", warning="GPU 0 was assigned but ...")
    merged = worker_device([gpu, cpu], gpu_id=0)
    assert merged.device == "cuda:0+cpu" and merged.runtime == "onnxruntime+torch"
    assert merged.warning == cpu.warning and "ok; CUDA unusable" == merged.reason
    assert merged.summary() == "cuda:0+cpu (onnxruntime+torch [CUDAExecutionProvider, CPUExecutionProvider]): " \
        "WARNING: GPU 0 was assigned but ..."
    assert gpu.summary() == "cuda:0 (onnxruntime [CUDAExecutionProvider, CPUExecutionProvider]): ok"


def test_gpu_archive_without_a_gpu_id_on_a_gpu_machine_warns(monkeypatch):
    cpu = DeviceReport("cpu", "onnxruntime", ("CPUExecutionProvider",), "no gpu_id assigned")
    monkeypatch.setattr(runtime, "gpu_visible", lambda: True)  # as if /dev/nvidia0 were present
    assert "assigned no gpu_id" in worker_device([cpu], None, "gpu").warning
    assert worker_device([cpu], None, None).warning is None  # not archived for the GPU: the CPU is expected
    monkeypatch.setattr(runtime, "gpu_visible", lambda: False)
    assert worker_device([cpu], None, "gpu").warning is None  # no GPU here: nothing to fall back from


# -- handlers: the log line at load and the model card ---------------------------------------------------------------
def test_every_export_kind_has_a_runtime_to_report():
    kinds = {spec.export_for(v)["kind"] for spec in load_registry().values()
             for v in (spec.versions if spec.per_version else (None,))}
    assert kinds <= set(RUNTIME_OF_EXPORT_KIND), kinds - set(RUNTIME_OF_EXPORT_KIND)


@pytest.mark.parametrize("model", ["cnn", "gan", "ebm", "diffusion"])
def test_image_models_report_the_runtime_they_run_on(model, handler_factory):
    handler, _ = handler_factory(model)
    card = handler.describe()["device"]
    assert card["runtime"] == RUNTIME_OF_EXPORT_KIND[load_registry()[model].export["kind"]]
    assert card["device"] == "cpu" and card["warning"] is None and card["reason"]


@pytest.mark.parametrize("model", ["bigram", "lstm", "embeddings"])
def test_text_models_report_the_runtime_they_run_on(model, text_handler):
    handler, _ = text_handler(model)
    card = handler.describe()["device"]
    assert card["runtime"] == RUNTIME_OF_EXPORT_KIND[load_registry()[model].export["kind"]]
    assert card["device"] == "cpu" and card["warning"] is None


@needs_cpu_onnxruntime
@needs_no_cuda
@pytest.mark.parametrize("model, why", [("gan", "no CUDA provider"), ("ebm", "CUDA unusable")])
def test_gpu_archive_landing_on_the_cpu_warns_in_the_log_and_the_card(model, why, handler_factory, caplog):
    handler, ctx = handler_factory(model)
    ctx.system_properties["gpu_id"] = 0  # what TorchServe hands a worker of a deviceType: gpu archive
    ctx.model_yaml_config = {**ctx.model_yaml_config, "deviceType": "gpu"}
    with caplog.at_level(logging.INFO, logger="handlers.base"):
        handler.initialize(ctx)
    (line,) = [r for r in caplog.records if "loaded with" in r.getMessage()]
    assert line.levelno == logging.WARNING and "GPU 0 was assigned but this model runs on the CPU" in line.getMessage()
    card = handler.describe()["device"]
    assert card["device"] == "cpu" and why in card["reason"] and card["warning"].startswith("GPU 0 was assigned")
