"""A Locust plugin (no users of its own) that loadtests/harness/locust_run.py loads beside the real locustfile
(`locust -f locustfile.py,locust_probe.py`). At the moment the test starts and the moment it stops it reads CPU
time, and at the stop it takes Locust's final stats, so every figure covers the same window:
- CPU per request leaves out Locust's own start-up and imports (about a CPU-second on 2 cores) and what a server
  burns idle while the client starts (LitServe's polling workers);
- the counts and percentiles are final: Locust 2.47 rewrites its --csv files once a second and not at shutdown,
  so a CSV misses up to the last second of a run (all of a 1-second run).

  GENAI_CPU_GROUPS  JSON {group name: [pid, ...]}: the server's processes, grouped as the caller shows them
  GENAI_PROBE_OUT   where to write {"cpu_s": {group: CPU s, ..., "locust": CPU s}, "wall_s": s,
                    "stats": {name: {"rps", "requests", "failures", "p50", "p99", "content"}, "Aggregated": ...}}

"locust" is this process (user + system time of all its threads). Percentiles are None when nothing finished.
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

from locust import events

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from loadtests.harness.procs import ProcessGroups  # noqa: E402

GROUPS = ProcessGroups(json.loads(os.environ.get("GENAI_CPU_GROUPS", "{}")))
_start: dict[str, float] = {}


def readings() -> dict[str, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return {**GROUPS.cpu_seconds(), "locust": own.ru_utime + own.ru_stime, "wall": time.monotonic()}


def entry(stats) -> dict:
    done = stats.num_requests > 0
    return {"rps": stats.total_rps, "requests": stats.num_requests, "failures": stats.num_failures,
            "p50": stats.get_response_time_percentile(0.5) if done else None,
            "p99": stats.get_response_time_percentile(0.99) if done else None, "content": stats.avg_content_length}


@events.test_start.add_listener
def on_start(**_kwargs):
    _start.update(readings())


@events.test_stop.add_listener
def on_stop(environment, **_kwargs):
    out = os.environ.get("GENAI_PROBE_OUT")
    if not out or not _start:
        return
    end = readings()
    spent = {name: end[name] - _start[name] for name in end}
    wall = spent.pop("wall")
    stats = {e.name: entry(e) for e in environment.stats.entries.values()}
    stats["Aggregated"] = entry(environment.stats.total)
    Path(out).write_text(json.dumps({"cpu_s": spent, "wall_s": wall, "stats": stats}))
