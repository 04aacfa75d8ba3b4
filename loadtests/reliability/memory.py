"""What the running TorchServe costs in memory, per process: the JVM and every model's workers.

RSS counts a shared page in every process that maps it, so eight workers that each load libtorch "use" it
eight times; PSS (proportional set size, from /proc/<pid>/smaps_rollup) divides each shared page among the
processes that share it, so PSS summed over processes is what the machine actually spends. Both are reported:
RSS because operators' dashboards show it, PSS for the budget.
"""
from __future__ import annotations

from dataclasses import dataclass

import psutil

from genai_ops.server import Server

MB = 2**20
# Native libraries whose presence in a worker says what it imported (a worker that serves an ONNX graph but
# maps libtorch pays for torch's ~300 MB of code and allocator pools; the per-worker table shows who does).
LIBRARIES = {"torch": "libtorch_cpu", "onnxruntime": "onnxruntime_pybind11_state", "spacy": "thinc"}


@dataclass
class ProcessMemory:
    role: str  # "jvm" or the model a worker serves
    pid: int
    rss_mb: float
    pss_mb: float
    uss_mb: float


def worker_models(server: Server) -> dict[int, str]:
    """{worker pid: model name} from the management API (a worker's command line does not name its model)."""
    out = {}
    for m in server.call("GET", "management", "/models").json()["models"]:
        for described in server.call("GET", "management", f"/models/{m['modelName']}/all").json():
            for w in described.get("workers", []):
                if w.get("pid"):
                    out[int(w["pid"])] = f"{m['modelName']} {described['modelVersion']}"
    return out


def _measure(proc: psutil.Process, role: str) -> ProcessMemory | None:
    try:
        full = proc.memory_full_info()  # reads smaps_rollup: rss, pss, uss on Linux
    except (psutil.NoSuchProcess, psutil.AccessDenied):  # a worker being replaced
        return None
    return ProcessMemory(role, proc.pid, full.rss / MB, getattr(full, "pss", full.rss) / MB, full.uss / MB)


def snapshot(server: Server, models: dict[int, str] | None = None) -> list[ProcessMemory]:
    """The JVM and each of its descendant Python processes; a worker the map does not know is "worker"."""
    models = worker_models(server) if models is None else models
    jvm = psutil.Process(server.pid())
    out = [_measure(jvm, "jvm")]
    for child in jvm.children(recursive=True):
        out.append(_measure(child, models.get(child.pid, "worker")))
    return [m for m in out if m is not None]


def totals(processes: list[ProcessMemory]) -> dict[str, float]:
    """{"jvm", "workers", "total"} RSS and PSS sums in MB (keys like "rss_jvm", "pss_total")."""
    out = {}
    for kind in ("rss", "pss"):
        jvm = sum(getattr(p, f"{kind}_mb") for p in processes if p.role == "jvm")
        workers = sum(getattr(p, f"{kind}_mb") for p in processes if p.role != "jvm")
        out.update({f"{kind}_jvm": round(jvm, 1), f"{kind}_workers": round(workers, 1),
                    f"{kind}_total": round(jvm + workers, 1)})
    return out


def libraries_loaded(pid: int) -> list[str]:
    """Which of LIBRARIES the process has mapped (from /proc/<pid>/maps); [] if it is gone."""
    try:
        maps = open(f"/proc/{pid}/maps").read()
    except OSError:
        return []
    return [name for name, marker in LIBRARIES.items() if marker in maps]
