"""A container's main process: python -m genai_serve.container [--check-store]

docker/entrypoint.sh execs this; the tests run it directly on the host. It reuses genai_serve/server.py, so a
container starts TorchServe exactly as `make serve` does, with the binds the deployment asks for:

  1. render config.properties (GENAI_CONFIG, default the repo's) with the listeners' binds from the
     environment: loopback unless the deployment says otherwise (the Dockerfile sets GENAI_BIND=0.0.0.0 so a
     published port reaches the server); token authorization stays on;
  2. start TorchServe in the foreground (its logs go to stdout) and wait for /ping with the token;
  3. register every archived version of every registry model and set the registry's default versions;
  4. write run/ready (the readiness probe checks it, genai_serve/probe.py), then supervise: renew the
     inference/management keys before they expire (TorchServe rewrites key_file.json), and on SIGTERM/SIGINT
     stop TorchServe and exit; if TorchServe dies, exit with its code so the orchestrator restarts the pod.

Settings (environment; every one optional):
  GENAI_WORKDIR          where key_file.json, run/ and logs/ live (default: current directory)
  GENAI_MODEL_STORE      the .mar files (default: <repo>/model_store)
  GENAI_CONFIG           the config.properties template (default: the repo's; Kubernetes mounts a ConfigMap)
  GENAI_BIND             inference + metrics listeners (default 127.0.0.1)
  GENAI_MANAGEMENT_BIND  management listener (default 127.0.0.1: reach it with kubectl port-forward / exec)
  GENAI_GRPC_BIND        both gRPC listeners (default 127.0.0.1, CVE-2024-35199)
  GENAI_PORTS            optional "inference=8080,management=8081,metrics=8082,grpc_inference=7070,grpc_management=7071"
  GENAI_START_TIMEOUT    seconds to wait for /ping (default 180)
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

from genai_serve.probe import READY_FILE
from genai_serve.registry import REPO_ROOT, load_registry
from genai_serve.server import CONFIG_TEMPLATE, Server, ServerError, default_ports

RENEW_MARGIN = dt.timedelta(minutes=5)  # renew a key this long before TorchServe's expiry time


def server_from_env(env: dict[str, str] | None = None) -> Server:
    env = os.environ if env is None else env
    ports = default_ports()
    for item in filter(None, env.get("GENAI_PORTS", "").split(",")):
        name, _, port = item.partition("=")
        if name.strip() not in ports:
            raise SystemExit(f"GENAI_PORTS: unknown port name {name!r}; known: {sorted(ports)}")
        ports[name.strip()] = int(port)
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


def run(server: Server, poll_s: float = 5.0, timeout: float = 180.0) -> int:
    check_store(server.store)
    ready = server.workdir / READY_FILE
    ready.unlink(missing_ok=True)
    # A pid file left in a persistent workdir by the last container could name a live process of this one
    # (pids restart from 1), and `torchserve --start` would then refuse to start. This workdir is ours alone.
    (server.run_dir / "tmp" / ".model_server.pid").unlink(missing_ok=True)
    stopping = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stopping.append(signum))
    proc = server.start_foreground(timeout)
    try:
        names = server.register_all(load_registry())
        ready.write_text(json.dumps({"models": names}) + "\n")
        print(f"genai-serve: ready, serving {names}", flush=True)
        while not stopping and proc.poll() is None:
            try:
                renew_keys(server)
            except (ServerError, OSError, ValueError) as exc:  # a probe will notice if keys really expire
                print(f"genai-serve: {exc}", file=sys.stderr, flush=True)
            _sleep_unless(stopping, poll_s)
    finally:
        ready.unlink(missing_ok=True)
        if proc.poll() is None:
            server.stop()
            proc.wait(timeout=30)
    return 0 if stopping else (proc.returncode or 1)


def _sleep_unless(stopping: list, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not stopping and time.monotonic() < deadline:
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
        return run(server, timeout=float(os.environ.get("GENAI_START_TIMEOUT", "180")))
    except ServerError as exc:
        print(f"genai-serve: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
