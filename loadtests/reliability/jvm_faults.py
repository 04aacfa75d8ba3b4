"""Faults beyond a worker kill, on a private server that the container entrypoint supervises.

  (a) `kill -9` of the JVM under load: `python -m genai_ops.container` restarts TorchServe and registers again
      what run/state.json records (genai_ops/container.py). Measured: seconds from the kill to serving again
      (run/ready rewritten and /ping 200), whether the versions and defaults came back, and that every request
      sent after recovery succeeded.
  (b) a truncated and a garbage `.mar` (and the registry's other archives missing) at start: the start names each
      archive on stderr and in run/ready, and serves the models whose archives are good.

Never the shared server: these kill a JVM. Everything runs on free loopback ports in a temporary workdir with a
copy of one model's archive plus a second version built from its artifacts, so a promote has something to restore.
Used by tests/e2e/test_jvm_faults.py and by `make reliability` (jvm_fault_section).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from genai_ops.probe import READY_FILE
from genai_ops.registry import REPO_ROOT, ModelSpec, Paths, load_registry
from genai_ops.server import PORT_KEYS, Server, free_ports


@dataclass
class Supervised:
    proc: subprocess.Popen  # python -m genai_ops.container
    server: Server
    log: Path  # its stdout and stderr

    def ready(self) -> dict | None:
        try:
            return json.loads((self.server.workdir / READY_FILE).read_text())
        except (OSError, ValueError):
            return None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def build_store(source: Paths, dest: Path, model: str = "gan", new_version: str = "1.1",
                corrupt: tuple[str, ...] = ("cnn", "lstm")) -> Path:
    """dest/model_store with `model`'s default archive, a second version archived from source's artifacts, and the
    default archives of `corrupt` damaged: the first cut to half its bytes (truncated), the others random bytes."""
    from export.archive import archive  # the operator side only: workers never import this module

    registry = load_registry()
    spec = registry[model]
    for name in ("artifacts", "checkpoints"):  # archive() reads these; the store is ours alone
        (dest / name).symlink_to(source.base.resolve() / name)
    store = Paths(dest).model_store
    store.mkdir(parents=True)
    shutil.copy2(source.model_store / spec.mar_file(spec.default_version), store)
    archive(spec, new_version, registry, Paths(dest))
    for i, name in enumerate(corrupt):
        bad = registry[name]
        target = store / bad.mar_file(bad.default_version)
        good = (source.model_store / target.name).read_bytes()
        target.write_bytes(good[: len(good) // 2] if i == 0 else os.urandom(min(len(good), 65536)))
    return store


def start_supervised(workdir: Path, store: Path, timeout: float = 240.0) -> Supervised:
    """The container entrypoint on free loopback ports; returns once run/ready is written."""
    ports = dict(zip(PORT_KEYS, free_ports(len(PORT_KEYS))))
    env = {**os.environ, "GENAI_WORKDIR": str(workdir), "GENAI_MODEL_STORE": str(store),
           "GENAI_PORTS": ",".join(f"{k}={v}" for k, v in ports.items()), "GENAI_START_TIMEOUT": str(int(timeout))}
    log = workdir / "container.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "genai_ops.container"], cwd=REPO_ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    sup = Supervised(proc, Server(workdir=workdir, store=store, ports=ports), log)
    if not wait_ready(sup, since=0.0, timeout=timeout):
        stop_supervised(sup)
        raise RuntimeError(f"the container did not get ready within {timeout:.0f} s:\n{sup.log_text()[-3000:]}")
    return sup


def wait_ready(sup: Supervised, since: float, timeout: float) -> bool:
    """True once run/ready was written after `since` (wall clock) and /ping answers 200."""
    ready, deadline = sup.server.workdir / READY_FILE, time.monotonic() + timeout
    while time.monotonic() < deadline and sup.proc.poll() is None:
        try:
            fresh = ready.stat().st_mtime > since
        except OSError:
            fresh = False
        if fresh and sup.server.healthy():
            return True
        time.sleep(0.1)
    return False


def stop_supervised(sup: Supervised, timeout: float = 90.0) -> int | None:
    """SIGTERM, as an orchestrator stops a pod: the entrypoint stops TorchServe and exits 0."""
    if sup.proc.poll() is None:
        sup.proc.send_signal(signal.SIGTERM)
        try:
            sup.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            sup.proc.kill()
            sup.proc.wait(timeout=30)
    return sup.proc.returncode


def served_versions(server: Server, names) -> dict[str, dict]:
    """{model: {"versions": [...], "default": v}} as TorchServe reports them now."""
    return {name: {"versions": sorted(v["modelVersion"] for v in server.versions(name)),
                   "default": server.default_version(name)} for name in names}


def _load(server: Server, spec: ModelSpec, stop: threading.Event, deadline: float, log: list) -> None:
    body, content_type = spec.sample_body()
    while not stop.is_set() and time.monotonic() < deadline:  # bounded in time, loopback only
        sent = time.monotonic()
        try:
            ok = server.predict(spec, body=body, content_type=content_type, timeout=30).status_code == 200
        except Exception:  # refused connection, no key file yet, model not registered again yet
            ok = False
        log.append((sent, ok))
        if not ok:
            time.sleep(0.1)


def kill_jvm_under_load(sup: Supervised, spec: ModelSpec, clients: int = 4, after_s: float = 3.0,
                        max_seconds: float = 240.0) -> dict:
    """Load `spec` from `clients` threads, SIGKILL the JVM, wait until the entrypoint has TorchServe serving again,
    keep the load `after_s` longer; compare versions and defaults before and after."""
    server = sup.server
    names = sup.ready()["models"]
    before = served_versions(server, names)
    victim = server.pid()
    workers = [w["pid"] for n in names for v in server.versions(n) for w in v.get("workers", [])]
    stop, log, deadline = threading.Event(), [], time.monotonic() + max_seconds
    threads = [threading.Thread(target=_load, args=(server, spec, stop, deadline, log), daemon=True)
               for _ in range(clients)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # load is flowing before the fault
    killed_wall, killed = time.time(), time.monotonic()
    os.kill(victim, signal.SIGKILL)
    recovered = wait_ready(sup, since=killed_wall, timeout=max(1.0, deadline - time.monotonic()))
    recovered_at = time.monotonic()
    time.sleep(after_s if recovered else 0)
    stop.set()
    for t in threads:
        t.join(timeout=40)
    after = Counter(ok for sent, ok in log if recovered and sent >= recovered_at)
    during = Counter(ok for sent, ok in log if not (recovered and sent >= recovered_at))
    first_ok = min((sent for sent, ok in log if ok and sent > killed), default=None)
    now = served_versions(server, names) if recovered else {}
    return {"model": spec.name, "killed_pid": victim, "new_pid": server.pid(), "recovered": recovered,
            "recovery_seconds": round(recovered_at - killed, 2),
            "first_success_seconds": None if first_ok is None else round(first_ok - killed, 2),
            "during": {"ok": during[True], "failed": during[False]},
            "after_recovery": {"ok": after[True], "failed": after[False]},
            "before": before, "restored": now, "restored_ok": recovered and now == before,
            "old_workers_left": [pid for pid in workers if _alive(pid)]}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def bad_archives_named(sup: Supervised, store: Path, corrupt: tuple[str, ...]) -> dict[str, bool]:
    """{archive file: named in run/ready's problems and in the entrypoint's log} for each damaged archive."""
    registry, problems, log = load_registry(), (sup.ready() or {}).get("problems", []), sup.log_text()
    files = [str(store / registry[n].mar_file(registry[n].default_version)) for n in corrupt]
    return {f: any(f in p for p in problems) and f in log for f in files}


def jvm_fault_section(source: Paths | None = None, model: str = "gan", corrupt: tuple[str, ...] = ("cnn", "lstm"),
                      workdir: Path | None = None) -> tuple[list[str], bool]:
    """(a) and (b) on a private supervised server built from `source` (default: the repo's archives)."""
    from genai_ops import ctl

    source = source or Paths()
    own = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="genai-jvm-faults-")) if own else workdir
    spec = load_registry()[model]
    sup = None
    try:
        store = build_store(source, workdir, model, "1.1", corrupt)
        sup = start_supervised(workdir, store)
        named = bad_archives_named(sup, store, corrupt)
        serves = sup.server.predict(spec, timeout=60).status_code == 200
        promoted = ctl.main(["--workdir", str(workdir), "promote", model, "1.1"], server=sup.server) == 0
        r = kill_jvm_under_load(sup, spec)
        named_again = bad_archives_named(sup, store, corrupt)
    finally:
        code = stop_supervised(sup) if sup else None
        if own:
            shutil.rmtree(workdir, ignore_errors=True)
    ok_b = all(named.values()) and all(named_again.values()) and serves
    ok_a = promoted and r["recovered"] and r["restored_ok"] and r["after_recovery"]["failed"] == 0 and \
        r["after_recovery"]["ok"] > 0 and not r["old_workers_left"] and code == 0
    rows = ["| fault | result |", "|---|---|",
            f"| `kill -9` of the JVM, {model} under load from 4 clients, {model} 1.1 promoted (run/state.json) | "
            f"serving again after **{r['recovery_seconds']} s** (first 200 after {r['first_success_seconds']} s); "
            f"versions/defaults before {r['before']}, after {r['restored']}; requests during recovery ok / failed "
            f"{r['during']['ok']} / {r['during']['failed']}, after {r['after_recovery']['ok']} / "
            f"{r['after_recovery']['failed']}; old workers left: {len(r['old_workers_left'])} |"
            + ("" if ok_a else " **FAIL**"),
            f"| a truncated {corrupt[0]} and a garbage {', '.join(corrupt[1:])} archive at start (other models' "
            f"archives absent) | each named on stderr and in run/ready: {all(named.values())} (again after the "
            f"restart: {all(named_again.values())}); {model} served: {serves} |" + ("" if ok_b else " **FAIL**")]
    return rows, ok_a and ok_b
