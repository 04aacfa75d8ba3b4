"""A container's main process: python -m genai_ops.container [--check-store]

docker/entrypoint.sh execs this; the tests run it directly on the host. It reuses genai_ops/server.py, so a
container starts TorchServe exactly as `make serve` does, with the binds the deployment asks for:

  1. render config.properties (GENAI_CONFIG, default the repo's) with the listeners' binds from the
     environment: loopback unless the deployment says otherwise (the Dockerfile sets GENAI_BIND=0.0.0.0 so a
     published port reaches the server); token authorization stays on;
  2. start TorchServe in the foreground (its logs go to stdout) and wait for /ping with the token;
  3. register every archived version of every registry model and set the registry's default versions;
  4. write run/ready (the readiness probe checks it, genai_ops/probe.py), then supervise: renew the
     inference/management keys before they expire (TorchServe rewrites key_file.json), and on SIGTERM/SIGINT
     stop TorchServe and exit;
  5. if TorchServe dies (the JVM killed, out of memory), remove run/ready (the readiness probe takes the pod out
     of the Service), kill the workers it left behind and go back to 2: the versions and defaults in
     run/state.json come back with step 3. In-process this takes seconds (measured in docs/RELIABILITY.md) where
     a pod restart also pays scheduling and the image; the liveness probe allows about a minute (3 x 20 s).
     A JVM that dies more than GENAI_MAX_RESTARTS times in 10 minutes is not restarted again: the entrypoint
     exits with an error so the orchestrator's crash-loop back-off takes over. A restarted TorchServe mints new
     keys (key_file.json).
A model whose archive is missing or unreadable is reported on stderr and in run/ready ("problems"); the other
models are served (Server.register_all).

Settings (environment; every one optional):
  GENAI_WORKDIR          where key_file.json, run/ and logs/ live (default: current directory)
  GENAI_MODEL_STORE      the .mar files (default: <repo>/model_store)
  GENAI_CONFIG           the config.properties template (default: the repo's; Kubernetes mounts a ConfigMap)
  GENAI_BIND             inference + metrics listeners (default 127.0.0.1)
  GENAI_MANAGEMENT_BIND  management listener (default 127.0.0.1: reach it with kubectl port-forward / exec)
  GENAI_GRPC_BIND        both gRPC listeners (default 127.0.0.1, CVE-2024-35199)
  GENAI_PORTS            optional "inference=8080,management=8081,metrics=8082,grpc_inference=7070,grpc_management=7071"
  GENAI_START_TIMEOUT    seconds to wait for /ping (default 180)
  GENAI_MAX_RESTARTS     TorchServe restarts allowed within 10 minutes before the entrypoint gives up (default 3)
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import sys
import time
from pathlib import Path

import psutil

from genai_ops.probe import READY_FILE
from genai_ops.registry import REPO_ROOT, load_registry
from genai_ops.server import CONFIG_TEMPLATE, Server, ServerError, ports_from_env

RENEW_MARGIN = dt.timedelta(minutes=5)  # renew a key this long before TorchServe's expiry time


def server_from_env(env: dict[str, str] | None = None) -> Server:
    env = os.environ if env is None else env
    ports = ports_from_env(env)
    return Server(
        workdir=Path(env.get("GENAI_WORKDIR", os.getcwd())).resolve(),
        store=Path(env.get("GENAI_MODEL_STORE", REPO_ROOT / "model_store")),
        ports=ports,
        bind=env.get("GENAI_BIND") or None,
        management_bind=env.get("GENAI_MANAGEMENT_BIND") or None,
        grpc_bind=env.get("GENAI_GRPC_BIND") or None,
        template=Path(env.get("GENAI_CONFIG", CONFIG_TEMPLATE)),
    )


def check_store(store: Path) -> list[str]:
    """The registry archives present in the store; exits with a clear message when there are none."""
    registry = load_registry()
    found = [spec.mar_file(v) for spec in registry.values() for v in spec.versions if (store / spec.mar_file(v)).exists()]
    if not found:
        expected = [spec.mar_file(spec.default_version) for spec in registry.values()]
        raise SystemExit(f"model store {store} holds none of the registry's archives (e.g. {expected[:3]}): "
                         "run `make archive` and mount or bake model_store/")
    return found


def renew_keys(server: Server, now: dt.datetime | None = None) -> list[str]:
    """Renew every key within RENEW_MARGIN of its expiry (POST /token?type=... with the API key, on the
    management port); TorchServe writes the new keys to key_file.json, where clients and probes read them."""
    now = now or dt.datetime.now(dt.timezone.utc)
    keys = json.loads(server.key_file.read_text())
    renewed = []
    for kind in ("inference", "management"):
        expires = keys.get(kind, {}).get("expiration time")
        if not expires:
            continue
        when = dt.datetime.fromisoformat(expires.replace("Z", "+00:00"))
        if when - now <= RENEW_MARGIN:
            r = server.call("POST", "management", f"/token?type={kind}", token=keys["API"]["key"], timeout=10)
            if r.status_code != 200:
                raise ServerError(f"renewing the {kind} key: HTTP {r.status_code} {r.text.strip()}")
            renewed.append(kind)
    return renewed


def run(server: Server, poll_s: float = 5.0, timeout: float = 180.0, max_restarts: int = 3,
        window_s: float = 600.0) -> int:
    check_store(server.store)
    stopping = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stopping.append(signum))
    deaths: list[float] = []
    while True:
        code = serve_once(server, stopping, poll_s, timeout)
        if stopping:
            return 0
        now = time.monotonic()
        deaths = [t for t in deaths if now - t < window_s] + [now]
        if len(deaths) > max_restarts:
            print(f"genai-serve: TorchServe died {len(deaths)} times within {window_s:.0f} s; not restarting it again",
                  file=sys.stderr, flush=True)
            return code or 1  # the launcher exits 0 when its JVM is killed: still a failure
        print(f"genai-serve: TorchServe exited (code {code}); restarting it ({len(deaths)} of {max_restarts} "
              f"restarts in {window_s:.0f} s)", file=sys.stderr, flush=True)


def serve_once(server: Server, stopping: list, poll_s: float, timeout: float) -> int:
    """Start TorchServe, register the models, write run/ready and supervise until a stop signal or TorchServe's
    exit; returns the exit code of TorchServe's launcher."""
    ready = server.workdir / READY_FILE
    ready.unlink(missing_ok=True)
    # A pid file left in a persistent workdir by the last container (or the JVM that just died) could name a live
    # process of this one (pids restart from 1), and `torchserve --start` would then refuse to start. This workdir
    # is ours alone.
    (server.run_dir / "tmp" / ".model_server.pid").unlink(missing_ok=True)
    proc = server.start_foreground(timeout)
    try:
        problems: list[str] = []
        try:
            names = server.register_all(load_registry(), problems)
        except ServerError:
            if proc.poll() is not None:  # TorchServe died while we registered: restart it like any other death
                return proc.returncode
            raise
        ready.write_text(json.dumps({"models": names, "problems": problems}) + "\n")
        print(f"genai-serve: ready, serving {names}", flush=True)
        while not stopping and proc.poll() is None:
            try:
                renew_keys(server)
            except (ServerError, OSError, ValueError) as exc:  # a probe will notice if keys really expire
                print(f"genai-serve: {exc}", file=sys.stderr, flush=True)
            _sleep_unless(stopping, poll_s, proc)
    finally:
        ready.unlink(missing_ok=True)
        if proc.poll() is None:
            server.stop()
            proc.wait(timeout=30)
        else:
            kill_stray_workers(server)
    return proc.returncode


def kill_stray_workers(server: Server) -> list[int]:
    """Kill the Python workers of a TorchServe whose JVM died. A worker notices only when it next reads its socket,
    so one inside a long call lives on, holding its memory, and when it exits it deletes its socket file, which by
    then may belong to the new JVM's worker of the same port. Ours are the workers with their socket in this
    server's run/tmp (Server.env), so no other server's workers are touched."""
    sock_dir = str(server.run_dir / "tmp") + os.sep
    strays = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if any(a.endswith("model_service_worker.py") for a in cmdline) and any(a.startswith(sock_dir) for a in cmdline):
            strays.append(proc)
    for proc in strays:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(strays, timeout=10)
    return [p.pid for p in strays]


def _sleep_unless(stopping: list, seconds: float, proc=None) -> None:
    deadline = time.monotonic() + seconds
    while not stopping and time.monotonic() < deadline and (proc is None or proc.poll() is None):
        time.sleep(0.2)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check-store", action="store_true",
                        help="only check that the model store holds registry archives (an init container)")
    args = parser.parse_args(argv)
    server = server_from_env()
    if args.check_store:
        print("\n".join(check_store(server.store.resolve())))
        return 0
    try:
        return run(server, timeout=float(os.environ.get("GENAI_START_TIMEOUT", "180")),
                   max_restarts=int(os.environ.get("GENAI_MAX_RESTARTS", "3")))
    except ServerError as exc:
        print(f"genai-serve: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
