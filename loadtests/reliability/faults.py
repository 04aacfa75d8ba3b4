"""Worker faults under load: kill -9 a model's worker while clients send requests, and measure recovery."""
from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter

from genai_ops.registry import ModelSpec
from genai_ops.server import Server


def worker_state(server: Server, model: str) -> list[dict]:
    return server.call("GET", "management", f"/models/{model}").json()[0]["workers"]


def _load_loop(server: Server, spec: ModelSpec, stop: threading.Event, counts: Counter, deadline: float) -> None:
    body, content_type = spec.sample_body()
    while not stop.is_set() and time.monotonic() < deadline:  # bounded in time, 127.0.0.1 only
        try:
            ok = server.predict(spec, body=body, content_type=content_type, timeout=30).status_code == 200
        except Exception:  # a dropped connection counts as a failed request
            ok = False
        counts["ok" if ok else "failed"] += 1


def kill_worker_under_load(server: Server, spec: ModelSpec, clients: int = 4, max_seconds: float = 90,
                           settle_requests: int = 20) -> dict:
    """Start `clients` request loops, kill -9 one of the model's workers, wait until TorchServe has a new READY
    worker in its place, then send `settle_requests` more. Returns pids, recovery seconds and ok/failed counts."""
    before = {w["pid"] for w in worker_state(server, spec.name)}
    victim = min(before)  # with several workers (cnn, gan run two) one is killed; recovery = its replacement READY
    stop, counts = threading.Event(), Counter()
    deadline = time.monotonic() + max_seconds
    threads = [threading.Thread(target=_load_loop, args=(server, spec, stop, counts, deadline)) for _ in range(clients)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # load is flowing before the fault
    killed_at = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    new_pid = None
    while time.monotonic() < deadline:
        ready = [w for w in worker_state(server, spec.name) if w["status"] == "READY" and w["pid"] not in before]
        if ready:
            new_pid = ready[0]["pid"]
            break
        time.sleep(0.2)
    recovery = time.monotonic() - killed_at
    stop.set()
    for t in threads:
        t.join()
    after = Counter()
    body, content_type = spec.sample_body()
    for _ in range(settle_requests):
        status = server.predict(spec, body=body, content_type=content_type, timeout=30).status_code
        after["ok" if status == 200 else "failed"] += 1
    return {"model": spec.name, "killed_pid": victim, "new_pid": new_pid, "recovery_seconds": round(recovery, 2),
            "during": {"ok": counts["ok"], "failed": counts["failed"]},
            "after_recovery": {"ok": after["ok"], "failed": after["failed"]}}
