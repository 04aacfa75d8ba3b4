"""A bounded mixed-load soak: every registry model's sample request from a few client threads, with the RSS
of the JVM and of every worker sampled at intervals, and growth after warm-up reported."""
from __future__ import annotations

import random
import threading
import time
from collections import Counter

import psutil

from genai_serve.registry import ModelSpec
from genai_serve.server import Server


def rss_mb(server: Server) -> dict[str, float]:
    """{"jvm": MB, "workers": MB (sum)} for the running TorchServe."""
    jvm = psutil.Process(server.pid())
    workers = jvm.children(recursive=True)
    total = 0.0
    for w in workers:
        try:
            total += w.memory_info().rss
        except psutil.NoSuchProcess:  # a worker that is being replaced
            pass
    return {"jvm": jvm.memory_info().rss / 2**20, "workers": total / 2**20}


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


def soak(server: Server, specs: list[ModelSpec], seconds: float = 600, clients: int = 4, interval: float = 10,
         warmup: float = 60) -> dict:
    stop, counts = threading.Event(), Counter()
    threads = [threading.Thread(target=_client, args=(server, specs, stop, counts, i), daemon=True)
               for i in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    samples = []
    try:
        while (elapsed := time.monotonic() - started) < seconds:
            samples.append({"t": round(elapsed, 1), **rss_mb(server)})
            time.sleep(min(interval, max(0.0, seconds - elapsed)))
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=150)
    samples.append({"t": round(time.monotonic() - started, 1), **rss_mb(server)})
    after = [s for s in samples if s["t"] >= warmup] or samples
    first, last = after[0], after[-1]
    growth = {k: round(100.0 * (last[k] - first[k]) / first[k], 2) for k in ("jvm", "workers")}
    total_first, total_last = first["jvm"] + first["workers"], last["jvm"] + last["workers"]
    growth["total"] = round(100.0 * (total_last - total_first) / total_first, 2)
    by_status = Counter()
    for (_, status), n in counts.items():
        by_status[status] += n
    return {"seconds": seconds, "clients": clients, "warmup": warmup, "samples": samples,
            "growth_percent_after_warmup": growth, "requests": sum(counts.values()),
            "by_status": dict(by_status), "by_model": {s.name: sum(n for (m, _), n in counts.items() if m == s.name)
                                                      for s in specs}}


def svg_plot(samples: list[dict], warmup: float, width: int = 640, height: int = 260) -> str:
    """RSS (MB) over time as a small SVG line chart: JVM, workers, total; the warm-up shaded."""
    series = {"total": [s["jvm"] + s["workers"] for s in samples], "workers": [s["workers"] for s in samples],
              "jvm": [s["jvm"] for s in samples]}
    ts = [s["t"] for s in samples]
    t_max, y_max = max(ts) or 1.0, max(series["total"]) * 1.1 or 1.0
    left, bottom = 50, height - 30
    x = lambda t: left + (width - left - 10) * t / t_max
    y = lambda v: bottom - (bottom - 10) * v / y_max
    colors = {"total": "#222", "workers": "#1f77b4", "jvm": "#d62728"}
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
        parts.append(f'<text x="{left + 10 + 90 * i}" y="24" fill="{colors[name]}">{name} RSS</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
