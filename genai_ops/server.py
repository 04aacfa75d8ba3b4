"""Start, stop and talk to TorchServe for this project: the launcher behind `make serve` (its command line is
genai_ops/serve.py: start|stop|status|smoke|curl), the container entrypoint (genai_ops/container.py), `make all`
(genai_ops/pipeline.py) and the end-to-end tests. One launcher, so what the tests start is what users run.

The module has no command line of its own. A `Server` is a working directory (key_file.json, logs/, run/) plus a
model store and ports. The committed config.properties is rendered into run/config.properties with the absolute
store path (allowed_urls needs it) and, for tests, other ports.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import requests

from genai_ops.registry import REPO_ROOT, ModelSpec, load_registry

CONFIG_TEMPLATE = REPO_ROOT / "config.properties"
LOG_CONFIG = REPO_ROOT / "log4j2.xml"
WORKER_SITE = Path(__file__).resolve().parent / "worker_site"  # its sitecustomize.py runs in every worker
PORT_KEYS = {
    "inference": "inference_address",
    "management": "management_address",
    "metrics": "metrics_address",
    "grpc_inference": "grpc_inference_port",
    "grpc_management": "grpc_management_port",
}


def read_properties(path: Path) -> dict[str, str]:
    props = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            props[key.strip()] = value.strip()
    return props


def default_ports() -> dict[str, int]:
    props = read_properties(CONFIG_TEMPLATE)
    return {name: int(props[key].rsplit(":", 1)[-1]) for name, key in PORT_KEYS.items()}


def ports_from_env(env) -> dict[str, int]:
    """The default ports with GENAI_PORTS' overrides, e.g. "inference=9080,metrics=9082"."""
    ports = default_ports()
    for item in filter(None, env.get("GENAI_PORTS", "").split(",")):
        name, _, port = item.partition("=")
        if name.strip() not in ports:
            raise SystemExit(f"GENAI_PORTS: unknown port name {name!r}; known: {sorted(ports)}")
        ports[name.strip()] = int(port)
    return ports


class ServerError(RuntimeError):
    pass


@dataclass
class Server:
    workdir: Path = REPO_ROOT
    store: Path = REPO_ROOT / "model_store"
    ports: dict[str, int] = field(default_factory=default_ports)
    host: str = "127.0.0.1"  # where this process reaches the server
    # Where the listeners bind. None: `host` (loopback). A container sets these on purpose (genai_ops/container.py):
    # `bind` for inference + metrics, `management_bind` for management; gRPC stays on `grpc_bind` (CVE-2024-35199).
    bind: str | None = None
    management_bind: str | None = None
    grpc_bind: str | None = None
    template: Path = CONFIG_TEMPLATE
    overrides: dict[str, str] = field(default_factory=dict)  # config keys replaced (or appended) after the template

    @classmethod
    def at(cls, workdir: Path) -> Server:
        """The server started in workdir: ports and store from the run/config.properties it rendered, so
        tools reach a server on other ports (the tests'); the committed config when it never started there."""
        workdir = Path(workdir)
        rendered = workdir / "run" / "config.properties"
        if not rendered.exists():
            return cls(workdir=workdir, store=workdir / "model_store")
        props = read_properties(rendered)
        ports = {name: int(props[key].rsplit(":", 1)[-1]) for name, key in PORT_KEYS.items()}
        return cls(workdir=workdir, store=Path(props.get("model_store", workdir / "model_store")), ports=ports)

    # -- paths and URLs ---------------------------------------------------------------------------
    @property
    def run_dir(self) -> Path:
        return self.workdir / "run"

    @property
    def key_file(self) -> Path:
        return self.workdir / "key_file.json"

    @property
    def state_file(self) -> Path:
        """What genai_ops.ctl promoted (genai_ops/state.py); register_all restores it."""
        return self.run_dir / "state.json"

    def url(self, api: str, path: str = "") -> str:
        return f"http://{self.host}:{self.ports[api]}{path}"

    def env(self) -> dict[str, str]:
        # TorchServe keeps its pid file in $TMPDIR and unpacks models under $TEMP: both inside run/,
        # so two servers (make serve, the tests) never share or clobber each other's state.
        # PYTHONPATH: worker_site/sitecustomize.py defers the `import torch` of TorchServe's worker protocol until
        # a handler uses torch (~280 MB per ONNX-only worker); the JVM hands its environment to every worker.
        tmp = self.run_dir / "tmp"
        python_path = os.pathsep.join(p for p in (str(WORKER_SITE), os.environ.get("PYTHONPATH", "")) if p)
        return {**os.environ, "TMPDIR": str(tmp), "TEMP": str(tmp), "LOG_LOCATION": str(self.workdir / "logs"),
                "METRICS_LOCATION": str(self.workdir / "logs"), "PYTHONPATH": python_path}

    def bind_address(self, api: str) -> str:
        if api.startswith("grpc"):
            return self.grpc_bind or self.host
        if api == "management":
            return self.management_bind or self.host
        return self.bind or self.host

    def render_config(self) -> Path:
        store = self.store.resolve()
        lines, seen = [], set()
        for line in self.template.read_text().splitlines():
            key = line.split("=", 1)[0].strip() if "=" in line and not line.lstrip().startswith("#") else None
            seen.add(key)
            if key == "model_store":
                line = f"model_store={store}"
            elif key == "allowed_urls":
                line = f"allowed_urls=file://{re.escape(str(store))}/.*"
            elif key in PORT_KEYS.values():
                name = next(n for n, k in PORT_KEYS.items() if k == key)
                port = self.ports[name]
                line = f"{key}={port}" if key.startswith("grpc") else f"{key}=http://{self.bind_address(name)}:{port}"
            elif key in ("grpc_inference_address", "grpc_management_address"):
                line = f"{key}={self.bind_address('grpc')}"
            if key in self.overrides:
                line = f"{key}={self.overrides[key]}"
            lines.append(line)
        lines += [f"{k}={v}" for k, v in self.overrides.items() if k not in seen]
        self.run_dir.mkdir(parents=True, exist_ok=True)
        out = self.run_dir / "config.properties"
        out.write_text("\n".join(lines) + "\n")
        return out

    # -- lifecycle -------------------------------------------------------------------------------
    def is_up(self) -> bool:
        """The frontend answers HTTP (even /ping needs the inference token, so any status counts)."""
        try:
            requests.get(self.url("inference", "/ping"), timeout=2)
            return True
        except requests.RequestException:
            return False

    def healthy(self) -> bool:
        """/ping with the token: 200 when every model has its minimum workers."""
        try:
            return self.call("GET", "inference", "/ping", timeout=5).status_code == 200
        except (requests.RequestException, OSError, KeyError, ValueError, ServerError):
            return False

    def start(self, timeout: float = 120.0) -> None:
        if self.is_up():
            raise ServerError(f"something already answers on {self.url('inference')}; `make stop` first")
        busy = [p for p in self.ports.values() if _port_open(self.host, p)]
        if busy:
            raise ServerError(f"ports {busy} are in use; stop what holds them or choose other ports")
        cmd = self._start_command()  # creates logs/ and run/tmp/
        with open(self.workdir / "logs" / "torchserve.out", "ab") as out:
            subprocess.run(cmd, cwd=self.workdir, env=self.env(), stdout=out, stderr=subprocess.STDOUT, check=True)
        self.wait_healthy(timeout)

    def start_foreground(self, timeout: float = 120.0) -> subprocess.Popen:
        """Start TorchServe as a child that lives as long as the server (a container's main process waits on
        it); its output goes to our stdout, which is where a container runtime collects logs."""
        busy = [p for p in self.ports.values() if _port_open(self.host, p)]
        if busy:
            raise ServerError(f"ports {busy} are in use; stop what holds them or choose other ports")
        proc = subprocess.Popen([*self._start_command(), "--foreground"], cwd=self.workdir, env=self.env())
        try:
            self.wait_healthy(timeout, proc)
        except ServerError:
            if proc.poll() is None:  # started but never healthy: do not leave a JVM behind
                self.stop()
                proc.wait(timeout=30)
            raise
        return proc

    def _start_command(self) -> list[str]:
        self.key_file.unlink(missing_ok=True)  # a stale key from the last run would look valid until refused
        (self.run_dir / "tmp").mkdir(parents=True, exist_ok=True)
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        return [_bin("torchserve"), "--start", "--ncs", "--model-store", str(self.store.resolve()),
                "--ts-config", str(self.render_config()), "--log-config", str(LOG_CONFIG)]

    def wait_healthy(self, timeout: float, proc: subprocess.Popen | None = None) -> None:
        deadline = time.monotonic() + timeout
        while not (self.key_file.exists() and self.healthy()):
            if proc is not None and proc.poll() is not None:
                raise ServerError(f"TorchServe exited with code {proc.returncode} before answering /ping")
            if time.monotonic() > deadline:
                raise ServerError(f"TorchServe did not answer /ping within {timeout:.0f}s; see {self.workdir}/logs/")
            time.sleep(0.5)

    def stop(self, timeout: float = 60.0) -> None:
        """`torchserve --stop` returns before the JVM exits: wait for the pid to go and the ports to close."""
        pid = self.pid()
        subprocess.run([_bin("torchserve"), "--stop"], cwd=self.workdir, env=self.env(),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        deadline = time.monotonic() + timeout
        while (pid and _alive(pid)) or any(_port_open(self.host, p) for p in self.ports.values()):
            if time.monotonic() > deadline:
                if pid and _alive(pid):
                    os.kill(pid, 9)
                    continue
                raise ServerError(f"ports {list(self.ports.values())} still open after {timeout:.0f}s")
            time.sleep(0.3)

    def pid(self) -> int | None:
        pid_file = self.run_dir / "tmp" / ".model_server.pid"
        try:
            return int(pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    # -- API -------------------------------------------------------------------------------------
    def token(self, api: str) -> str:
        """The current key for api (inference | management | API, the last one only mints new keys)."""
        try:
            keys = json.loads(self.key_file.read_text())
        except FileNotFoundError:
            raise ServerError(f"no {self.key_file}: TorchServe writes it where it starts (`make serve`)") from None
        return keys[api]["key"]

    def token_expiry(self, api: str) -> str | None:
        try:
            return json.loads(self.key_file.read_text())[api].get("expiration time")
        except (OSError, ValueError, KeyError):
            return None

    def call(self, method: str, api: str, path: str, token: str | None = "auto", **kwargs) -> requests.Response:
        """An HTTP call with the right token (api: inference | management | metrics)."""
        headers = dict(kwargs.pop("headers", {}) or {})
        if token == "auto":
            token = self.token(api) if api in ("inference", "management") else None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        kwargs.setdefault("timeout", 60)
        return requests.request(method, self.url(api, path), headers=headers, **kwargs)

    def manage(self, method: str, path: str, what: str, ok=(200,), **kwargs) -> requests.Response:
        """A management call that raises ServerError with one clear line unless the status is in ok."""
        try:
            r = self.call(method, "management", path, **kwargs)
        except requests.ConnectionError:
            raise ServerError(f"TorchServe is not answering on {self.url('management')} (`make serve`)") from None
        except requests.Timeout:
            raise ServerError(f"{what}: no answer within {kwargs.get('timeout', 60)}s") from None
        if r.status_code in ok:
            return r
        if "InvalidKeyException" in r.text or "Token Authorization failed" in r.text:
            expiry = self.token_expiry("management")
            raise ServerError(f"{what}: the management token in {self.key_file} was refused (expired at {expiry} "
                              "or rotated): `make ctl ARGS=\"token rotate\"` mints a new one")
        try:
            message = r.json().get("message", r.text.strip())
        except ValueError:
            message = r.text.strip()
        raise ServerError(f"{what}: HTTP {r.status_code} {message}")

    def register(self, spec: ModelSpec, version: str, timeout_s: int = 120) -> None:
        # batching from the registry, not only from the archive's model-config: TorchServe 0.12 replaces a .mar's
        # maxBatchDelay 0 by its 100 ms default (ModelManager keeps the archive's value only when > 0), and only a
        # registration parameter can say 0
        cfg = spec.model_config
        params = {"url": spec.mar_file(version), "model_name": spec.name,
                  "initial_workers": cfg.get("minWorkers", 1), "synchronous": "true",
                  **({"batch_size": cfg["batchSize"]} if "batchSize" in cfg else {}),
                  **({"max_batch_delay": cfg["maxBatchDelay"]} if "maxBatchDelay" in cfg else {})}
        self.manage("POST", "/models", f"register {spec.name} {version}", ok=(200, 201), params=params,
                    timeout=timeout_s)

    def unregister(self, name: str, version: str, timeout_s: int = 120) -> None:
        self.manage("DELETE", f"/models/{name}/{version}", f"unregister {name} {version}", timeout=timeout_s)

    def set_default(self, name: str, version: str) -> None:
        self.manage("PUT", f"/models/{name}/{version}/set-default", f"set-default {name} {version}")

    def scale(self, name: str, version: str | None, min_workers: int, max_workers: int, timeout_s: int = 120) -> None:
        path = f"/models/{name}" + (f"/{version}" if version else "")
        params = {"min_worker": min_workers, "max_worker": max_workers, "synchronous": "true",
                  "timeout": timeout_s}
        self.manage("PUT", path, f"scale {name} {version or '(default)'}", ok=(200, 202), params=params,
                    timeout=timeout_s + 10)

    def models(self) -> list[str]:
        return [m["modelName"] for m in self.manage("GET", "/models", "list models").json()["models"]]

    def versions(self, name: str) -> list[dict]:
        """Every registered version of name (TorchServe's describe output), [] when none is."""
        r = self.manage("GET", f"/models/{name}/all", f"describe {name}", ok=(200, 404))
        return r.json() if r.status_code == 200 else []

    def default_version(self, name: str) -> str | None:
        r = self.manage("GET", f"/models/{name}", f"describe {name}", ok=(200, 404))
        return r.json()[0]["modelVersion"] if r.status_code == 200 else None

    def wait_ready(self, name: str, version: str, min_workers: int = 1, timeout_s: float = 120.0) -> list[dict]:
        """Poll until the version has at least min_workers workers, all READY."""
        deadline = time.monotonic() + timeout_s
        while True:
            r = self.manage("GET", f"/models/{name}/{version}", f"describe {name} {version}")
            workers = r.json()[0].get("workers", [])
            if len(workers) >= min_workers and all(w.get("status") == "READY" for w in workers):
                return workers
            if time.monotonic() > deadline:
                states = [w.get("status") for w in workers]
                raise ServerError(f"{name} {version}: workers {states} not READY within {timeout_s:.0f}s")
            time.sleep(0.5)

    def rotate_token(self, api: str) -> str:
        """Mint a new inference or management key (needs the API key); TorchServe rewrites key_file.json."""
        self.manage("POST", "/token", f"rotate the {api} token", params={"type": api}, token=self.token("API"))
        return self.token(api)

    def predict(self, spec: ModelSpec, version: str | None = None, body: bytes | None = None,
                content_type: str | None = None, **kwargs) -> requests.Response:
        if body is None:
            body, content_type = spec.sample_body()
        path = f"/predictions/{spec.name}" + (f"/{version}" if version else "")
        return self.call("POST", "inference", path, data=body, headers={"Content-Type": content_type}, **kwargs)

    def register_all(self, registry: dict[str, ModelSpec], problems: list[str] | None = None) -> list[str]:
        """Register every archived version of every registry model and set its default; a model that
        genai_ops.ctl promoted comes back with the versions and default recorded in run/state.json.

        One bad archive never keeps the other models from being served: a wanted version whose .mar is missing,
        unreadable (truncated, garbage) or refused by TorchServe is skipped with one line naming the file (printed
        to stderr and appended to `problems`); its model is served from its other versions, if it has any."""
        from genai_ops.state import State

        state = State.load(self.state_file)
        problems = [] if problems is None else problems
        served = []
        for spec in registry.values():
            entry = state.models.get(spec.name)
            wanted = list(entry.versions) if entry else list(spec.versions)
            known = {*spec.versions, *wanted}
            faults = {v: archive_problem(self.store / spec.mar_file(v)) for v in known}
            for version in wanted:
                if faults[version]:
                    _problem(problems, f"{spec.name} {version} not served: {faults[version]}")
            versions, default = state.plan(spec.name, spec.versions, spec.default_version,
                                           {v for v, fault in faults.items() if fault is None})
            registered = []
            # the default first: TorchServe routes /predictions/<model> to the first version registered until
            # set-default, so after a restart no request reaches a version that is not the recorded default
            for version in sorted(versions, key=lambda v: v != default):
                try:
                    self.register(spec, version)
                    registered.append(version)
                except ServerError as exc:  # passed our check, refused by TorchServe (e.g. a handler that fails)
                    if not self.is_up():
                        raise
                    _problem(problems, f"{spec.name} {version} not served: {self.store / spec.mar_file(version)}: "
                                       f"{exc}")
            _, default = state.plan(spec.name, spec.versions, spec.default_version, set(registered))
            if default:
                self.set_default(spec.name, default)
                served.append(spec.name)
        return served


def archive_problem(path: Path) -> str | None:
    """Why `path` cannot be served, or None. Reads the zip directory and the manifest only: a missing, truncated or
    garbage file fails here in milliseconds (TorchServe would answer "Failed to save model" or a misleading 409),
    without reading every member (hundreds of MB for GPT-2); TorchServe still checks the rest when registering."""
    if not path.is_file():
        return f"no archive {path} (build it with `make archive-{path.stem.rsplit('-', 1)[0]}`)"
    try:
        with zipfile.ZipFile(path) as mar:
            json.loads(mar.read("MAR-INF/MANIFEST.json"))
    except KeyError:
        return f"{path} is a zip without MAR-INF/MANIFEST.json, not a model archive"
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error) as exc:
        return f"{path} is not a readable model archive (truncated or corrupt: {exc}); rebuild it with " \
               f"`make archive-{path.stem.rsplit('-', 1)[0]}`"
    return None


def _problem(problems: list[str], line: str) -> None:
    problems.append(line)
    print(f"genai-serve: {line}", file=sys.stderr, flush=True)


def free_ports(n: int) -> list[int]:
    """n loopback ports free right now (a private server for tests and the reliability drivers)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _bin(name: str) -> str:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
