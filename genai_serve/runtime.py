"""ONNX Runtime sessions sized to a worker's share of the cores (N workers must not each take every core),
and the device each network actually got.

TorchServe's own ONNX loader gives every worker intra_op_num_threads = all cores, so N workers on a
2-core machine fight over 2N threads. We give each worker cores // workers (at least 1).

Devices: make_session and torch_device fall back to the CPU when a GPU cannot be used, so they also say
what they got and why (a DeviceReport). Inside `recording_devices()` (handlers/base.py wraps each
handler's load() in it) every report is collected; `worker_device` turns them into the one line a worker
logs at load and its model card shows, with a warning when a GPU was meant to be used and is not.
"""
from __future__ import annotations

import contextlib
import math
import os
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

_ORT_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(int64)": np.int64,
               "tensor(int32)": np.int32, "tensor(double)": np.float64}


CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def available_cores(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """Cores this process may use: its CPU affinity, capped by a cgroup v2 CPU quota when there is one.
    In a container or a Kubernetes pod with a CPU limit, the affinity still lists every core of the node
    (64 on a big node) while the quota allows, say, 2: sizing threads from the affinity alone oversubscribes."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 CPU controller here: the affinity is the limit
    return cores


@dataclass(frozen=True)
class DeviceReport:
    """Where one network runs and why. `warning` is set when a GPU was asked for and the CPU is used."""

    device: str  # "cuda:0" or "cpu"
    runtime: str  # "onnxruntime" | "torch" | "none" (no network: pure Python, spaCy)
    providers: tuple[str, ...] = ()  # ONNX Runtime: the session's providers, in the order it tries them
    reason: str = ""
    warning: str | None = None

    def as_dict(self) -> dict:
        return {**asdict(self), "providers": list(self.providers)}

    def summary(self) -> str:
        providers = f" [{', '.join(self.providers)}]" if self.providers else ""
        where = f"{self.device} ({self.runtime}{providers})"
        return f"{where}: WARNING: {self.warning}" if self.warning else f"{where}: {self.reason}"  # a warning has its why


_reports: ContextVar[list | None] = ContextVar("genai_device_reports", default=None)


@contextlib.contextmanager
def recording_devices():
    """Collect the DeviceReport of every session and torch device made inside the block (a handler's load)."""
    reports: list[DeviceReport] = []
    token = _reports.set(reports)
    try:
        yield reports
    finally:
        _reports.reset(token)


def _record(report: DeviceReport) -> DeviceReport:
    reports = _reports.get()
    if reports is not None:
        reports.append(report)
    return report


def _fell_back(gpu_id, why: str) -> str:
    return f"GPU {gpu_id} was assigned but this model runs on the CPU: {why}"


def torch_device_report(gpu_id: int | str | None) -> DeviceReport:
    """cuda:<gpu_id> when TorchServe assigned a GPU and torch can use it, else the CPU, with the reason."""
    import torch

    def cpu(reason: str, fallback: bool = True) -> DeviceReport:
        return DeviceReport("cpu", "torch", reason=reason, warning=_fell_back(gpu_id, reason) if fallback else None)

    if gpu_id is None:
        return cpu("no gpu_id assigned (TorchServe assigns one only when it sees a GPU and deviceType is not cpu)",
                   fallback=False)
    if torch.version.cuda is None:
        return cpu(f"torch {torch.__version__} is built without CUDA")
    if not torch.cuda.is_available():
        return cpu(f"CUDA unusable: torch {torch.__version__} (CUDA {torch.version.cuda}) finds no usable GPU "
                   "(torch.cuda.is_available() is False: no driver, a driver too old, or no device visible)")
    if int(gpu_id) >= torch.cuda.device_count():
        return cpu(f"gpu_id {gpu_id}, but torch sees only {torch.cuda.device_count()} GPU(s)")
    index = int(gpu_id)
    return DeviceReport(f"cuda:{index}", "torch", reason=f"gpu_id {gpu_id} assigned; torch {torch.__version__} "
                        f"(CUDA {torch.version.cuda}) on {torch.cuda.get_device_name(index)}")


def torch_device(gpu_id: int | str | None):
    """The torch device for a worker: cuda:<gpu_id> when TorchServe assigned a GPU and torch can use CUDA,
    else the CPU (a GPU archive on a CPU-only machine, or a CPU build of torch, still serves)."""
    import torch

    return torch.device(_record(torch_device_report(gpu_id)).device)


def session_device(session, gpu_id: int | str | None) -> DeviceReport:
    """What an InferenceSession actually runs on: its get_providers(), not what was asked for (ONNX Runtime
    drops the CUDA provider, with an error in the log, when CUDA or cuDNN cannot be loaded)."""
    import onnxruntime as ort

    providers = tuple(session.get_providers())
    version = f"onnxruntime {ort.__version__}"
    if "CUDAExecutionProvider" in providers:
        return DeviceReport(f"cuda:{int(gpu_id or 0)}", "onnxruntime", providers,
                            f"gpu_id {gpu_id} assigned; {version} runs the graph with CUDAExecutionProvider")
    if gpu_id is None:
        reason = "no gpu_id assigned (TorchServe assigns one only when it sees a GPU and deviceType is not cpu)"
        return DeviceReport("cpu", "onnxruntime", providers, reason)
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        reason = f"no CUDA provider in this {version} (the CPU package; the GPU image installs onnxruntime-gpu)"
    else:
        reason = (f"{version} has CUDAExecutionProvider but it could not start (CUDA or cuDNN libraries missing, "
                  "driver too old, or no usable device: see ONNX Runtime's error earlier in this log)")
    return DeviceReport("cpu", "onnxruntime", providers, reason, _fell_back(gpu_id, reason))


def worker_device(reports: list[DeviceReport], gpu_id, device_type: str | None = None) -> DeviceReport:
    """One report for a worker from those its load() recorded (none: a model with no network to place)."""
    if not reports:
        return DeviceReport("cpu", "none", reason="no GPU path: this model runs no ONNX Runtime session and no torch "
                            "network (plain Python / NumPy), so it stays on the CPU whatever gpu_id or deviceType say")
    devices = list(dict.fromkeys(r.device for r in reports))
    runtimes = list(dict.fromkeys(r.runtime for r in reports))
    providers = tuple(dict.fromkeys(p for r in reports for p in r.providers))
    reasons = list(dict.fromkeys(r.reason for r in reports))
    warnings = list(dict.fromkeys(r.warning for r in reports if r.warning))
    if gpu_id is None and device_type == "gpu" and gpu_visible() and "cpu" in devices:
        warnings.append("archived for the GPU (deviceType gpu) and a GPU is visible, but TorchServe assigned no "
                        "gpu_id (number_of_gpu=0 in config.properties?): this model runs on the CPU")
    return DeviceReport("+".join(devices), "+".join(runtimes), providers, "; ".join(reasons),
                        "; ".join(warnings) or None)


def gpu_visible() -> bool:
    """An NVIDIA GPU device node is present (what `docker run --gpus` and the device plugin expose)."""
    return any(Path("/dev").glob("nvidia[0-9]*"))


def thread_budget(handler_config: dict) -> int:
    """Threads for one worker: explicit `threads` in the handler config or GENAI_THREADS_PER_WORKER wins;
    otherwise cores divided by every worker the registry starts (`total_workers`, written by archive)."""
    explicit = os.environ.get("GENAI_THREADS_PER_WORKER") or handler_config.get("threads")
    if explicit:
        return max(1, int(explicit))
    return max(1, available_cores() // max(1, int(handler_config.get("total_workers", 1))))


def make_session(path, threads: int, gpu_id: int | None = None):
    """One InferenceSession per worker, created at load time and reused for every batch. The device it got is
    recorded (session_device) for the worker's load log line and model card."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    providers = ["CPUExecutionProvider"]
    if gpu_id is not None and "CUDAExecutionProvider" in ort.get_available_providers():
        providers = [("CUDAExecutionProvider", {"device_id": int(gpu_id)}), "CPUExecutionProvider"]
    session = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
    _record(session_device(session, gpu_id))
    return session


class OnnxModel:
    """A graph with one output; inputs are fed positionally in the artifact's order, with names and dtypes
    read from the artifact, not literals. model(x) for the CNN, model(x, noise_variance) for the UNet."""

    def __init__(self, path, threads: int, gpu_id: int | None = None):
        self.session = make_session(path, threads, gpu_id)
        self.inputs = [(i.name, _ORT_DTYPES[i.type]) for i in self.session.get_inputs()]
        self.output_name = self.session.get_outputs()[0].name

    def __call__(self, *batches: np.ndarray) -> np.ndarray:
        if len(batches) != len(self.inputs):
            raise ValueError(f"graph takes {len(self.inputs)} inputs {[n for n, _ in self.inputs]}, got {len(batches)}")
        feed = {name: np.ascontiguousarray(b, dtype=dtype) for (name, dtype), b in zip(self.inputs, batches)}
        return self.session.run([self.output_name], feed)[0]
