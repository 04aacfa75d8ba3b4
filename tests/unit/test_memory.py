"""Per-process memory accounting used by the soak (genai_serve/reliability/memory.py), on this process."""
from __future__ import annotations

import os

import psutil
import torch  # noqa: F401  (mapped, so libraries_loaded must see it)

from genai_serve.reliability import memory


def test_this_process_measures_uss_below_pss_below_rss_and_shows_torch_mapped():
    m = memory._measure(psutil.Process(), "worker")
    assert 0 < m.uss_mb <= m.pss_mb <= m.rss_mb
    assert "torch" in memory.libraries_loaded(os.getpid())
    assert memory.libraries_loaded(2**22 + 7) == []  # no such pid: nothing, not an error


def test_totals_split_the_jvm_from_the_workers():
    procs = [memory.ProcessMemory("jvm", 1, 300, 250, 200), memory.ProcessMemory("cnn 1.0", 2, 400, 150, 100),
             memory.ProcessMemory("gan 1.0", 3, 400, 150, 100)]
    t = memory.totals(procs)
    assert (t["rss_jvm"], t["rss_workers"], t["rss_total"]) == (300, 800, 1100)
    assert (t["pss_jvm"], t["pss_workers"], t["pss_total"]) == (250, 300, 550)
