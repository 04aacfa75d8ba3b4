"""Per-process memory accounting used by the soak (loadtests/reliability/memory.py), on this process."""
from __future__ import annotations

import os

import psutil
import torch  # noqa: F401  (mapped, so libraries_loaded must see it)

from loadtests.reliability import memory


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


def test_memory_cuts_names_the_workers_that_map_libtorch_and_sums_own_and_shared_pages():
    from loadtests.reliability.run import memory_cuts

    text = memory_cuts([
        {"role": "jvm", "pss_mb": 300.0, "uss_mb": 290.0, "libraries": []},
        {"role": "cnn 1.0", "pss_mb": 200.0, "uss_mb": 80.0, "libraries": ["torch", "onnxruntime"]},
        {"role": "embeddings 1.0", "pss_mb": 150.0, "uss_mb": 100.0, "libraries": ["torch", "spacy"]},
    ])[0]
    assert "the JVM 300 MB PSS; 2 workers 180 MB of their own pages" in text
    assert "plus 170 MB, their shares" in text
    assert "Workers that map libtorch: 2 (cnn 1.0, embeddings 1.0; 350 MB PSS together)" in text
