"""Which processes a load's CPU time is charged to: named groups of pids (TorchServe's JVM and its workers, a
peer's whole process tree), read with psutil. loadtests/harness/locust_probe.py reads them inside Locust."""
from __future__ import annotations

import psutil


class ProcessGroups:
    """Named groups of server processes, {name: [pid, ...]}, whose CPU time a load run records. A process that
    has exited keeps its last reading, so a group's time never goes backwards."""

    def __init__(self, pids: dict[str, list[int]]):
        self.pids = {name: list(group) for name, group in pids.items()}
        self._last: dict[int, float] = {}

    def cpu_seconds(self) -> dict[str, float]:
        return {name: sum(self._cpu(pid) for pid in group) for name, group in self.pids.items()}

    def _cpu(self, pid: int) -> float:
        try:
            times = psutil.Process(pid).cpu_times()
            self._last[pid] = times.user + times.system
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
        return self._last.get(pid, 0.0)


def below(pid: int) -> list[int]:
    """Every process below `pid` (children, grandchildren, ...)."""
    return [p.pid for p in psutil.Process(pid).children(recursive=True)]


def torchserve_groups(pid: int) -> dict[str, list[int]]:
    """TorchServe's processes: the frontend ("jvm", the pid) and every process below it ("workers")."""
    return {"jvm": [pid], "workers": below(pid)}


def tree_group(name: str, pid: int) -> dict[str, list[int]]:
    """One group: `pid` and every process below it (a peer and, for LitServe, its HTTP, Manager and workers)."""
    return {name: [pid] + below(pid)}
