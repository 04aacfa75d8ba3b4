"""A bounded mixed-load soak: every registry model's sample request from a few client threads, with the memory
(RSS and PSS, loadtests/reliability/memory.py) of the JVM and of every worker sampled at intervals, growth
after warm-up reported for the totals and for each process, and worker restarts counted."""
from __future__ import annotations

import random
import threading
import time
from collections import Counter

from genai_ops.registry import ModelSpec
from loadtests.reliability import memory
from genai_ops.server import Server


def _client(server: Server, specs: list[ModelSpec], stop: threading.Event, counts: Counter, seed: int) -> None:
    rng = random.Random(seed)
    bodies = {s.name: s.sample_body() for s in specs}
    while not stop.is_set():
        spec = rng.choice(specs)
        body, content_type = bodies[spec.name]
        try:
            status = server.predict(spec, body=body, content_type=content_type, timeout=120).status_code
        except Exception:
            status = 0
        counts[(spec.name, status)] += 1


def _growth(first: float, last: float) -> float:
    return round(100.0 * (last - first) / first, 2) if first else 0.0


def soak(server: Server, specs: list[ModelSpec], seconds: float = 600, clients: int = 4, interval: float = 10,
         warmup: float = 60) -> dict:
    stop, counts = threading.Event(), Counter()
    models_before = memory.worker_models(server)
    threads = [threading.Thread(target=_client, args=(server, specs, stop, counts, i), daemon=True)
               for i in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    samples, per_process = [], {}  # per_process: pid -> [(t, ProcessMemory)]

    def sample() -> None:
        t = round(time.monotonic() - started, 1)
        processes = memory.snapshot(server, models_before)
        samples.append({"t": t, **memory.totals(processes)})
        for p in processes:
            per_process.setdefault(p.pid, []).append((t, p))

    try:
        while (elapsed := time.monotonic() - started) < seconds:
            sample()
            time.sleep(min(interval, max(0.0, seconds - elapsed)))
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=150)
    sample()
    models_after = memory.worker_models(server)
    after = [s for s in samples if s["t"] >= warmup] or samples
    first, last = after[0], after[-1]
    growth = {k: _growth(first[k], last[k]) for k in first if k != "t"}
    processes = []
    for pid, series in per_process.items():
        warm = [p for t, p in series if t >= warmup] or [p for _, p in series]
        end = series[-1][1]
        processes.append({"role": end.role, "pid": pid, "rss_mb": round(end.rss_mb, 1), "pss_mb": round(end.pss_mb, 1),
                          "uss_mb": round(end.uss_mb, 1), "pss_growth_percent": _growth(warm[0].pss_mb, end.pss_mb),
                          "libraries": memory.libraries_loaded(pid), "alive_at_end": series[-1][0] == samples[-1]["t"]})
    by_status = Counter()
    for (_, status), n in counts.items():
        by_status[status] += n
    return {"seconds": seconds, "clients": clients, "warmup": warmup, "samples": samples,
            "growth_percent_after_warmup": growth, "processes": sorted(processes, key=lambda p: p["role"]),
            "worker_restarts": len(set(models_before) - set(models_after)), "requests": sum(counts.values()),
            "by_status": dict(by_status), "by_model": {s.name: sum(n for (m, _), n in counts.items() if m == s.name)
                                                      for s in specs}}


def svg_plot(samples: list[dict], warmup: float, width: int = 640, height: int = 260) -> str:
    """Memory (MB) over time as a small SVG line chart: RSS total, PSS total, the JVM's PSS; warm-up shaded."""
    series = {"RSS total": [s["rss_total"] for s in samples], "PSS total": [s["pss_total"] for s in samples],
              "JVM PSS": [s["pss_jvm"] for s in samples]}
    ts = [s["t"] for s in samples]
    t_max, y_max = max(ts) or 1.0, max(series["RSS total"]) * 1.1 or 1.0
    left, bottom = 50, height - 30
    x = lambda t: left + (width - left - 10) * t / t_max
    y = lambda v: bottom - (bottom - 10) * v / y_max
    colors = {"RSS total": "#999", "PSS total": "#1f77b4", "JVM PSS": "#d62728"}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
             'font-size="11">',
             f'<rect x="{x(0):.1f}" y="10" width="{x(min(warmup, t_max)) - x(0):.1f}" height="{bottom - 10}" '
             'fill="#eee"/>',
             f'<line x1="{left}" y1="{bottom}" x2="{width - 10}" y2="{bottom}" stroke="#999"/>',
             f'<line x1="{left}" y1="10" x2="{left}" y2="{bottom}" stroke="#999"/>',
             f'<text x="{left}" y="{height - 8}">0 s</text><text x="{width - 60}" y="{height - 8}">{t_max:.0f} s</text>',
             f'<text x="4" y="16">{y_max:.0f} MB</text><text x="4" y="{bottom}">0</text>']
    for i, (name, values) in enumerate(series.items()):
        points = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in zip(ts, values))
        parts.append(f'<polyline fill="none" stroke="{colors[name]}" stroke-width="1.5" points="{points}"/>')
        parts.append(f'<text x="{left + 10 + 110 * i}" y="24" fill="{colors[name]}">{name}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
