"""ONNX Runtime sessions sized to a worker's share of the cores (DESIGN principle 10).

TorchServe's own ONNX loader gives every worker intra_op_num_threads = all cores, so N workers on a
2-core machine fight over 2N threads. We give each worker cores // workers (at least 1).
"""
from __future__ import annotations

import math
import os
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


def torch_device(gpu_id: int | str | None):
    """The torch device for a worker: cuda:<gpu_id> when TorchServe assigned a GPU and torch can use CUDA,
    else the CPU (a GPU archive on a CPU-only machine, or a CPU build of torch, still serves)."""
    import torch

    if gpu_id is not None and torch.cuda.is_available():
        return torch.device(f"cuda:{int(gpu_id)}")
    return torch.device("cpu")


def thread_budget(handler_config: dict) -> int:
    """Threads for one worker: explicit `threads` in the handler config or GENAI_THREADS_PER_WORKER wins;
    otherwise cores divided by every worker the registry starts (`total_workers`, written by archive)."""
    explicit = os.environ.get("GENAI_THREADS_PER_WORKER") or handler_config.get("threads")
    if explicit:
        return max(1, int(explicit))
    return max(1, available_cores() // max(1, int(handler_config.get("total_workers", 1))))


def make_session(path, threads: int, gpu_id: int | None = None):
    """One InferenceSession per worker, created at load time and reused for every batch."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    providers = ["CPUExecutionProvider"]
    if gpu_id is not None and "CUDAExecutionProvider" in ort.get_available_providers():
        providers = [("CUDAExecutionProvider", {"device_id": int(gpu_id)}), "CPUExecutionProvider"]
    return ort.InferenceSession(str(path), sess_options=opts, providers=providers)


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
