"""What both peers (loadtests/peer_fastapi.py, loadtests/peer_litserve.py) share: the servers a user would run
instead of TorchServe on the same model.onnx, for the side-by-side benchmark (`make bench-peers`).

Neither peer writes its own pre/post-processing: each loads the project's handler class for the model (handlers/
cnn.py, handlers/gan.py: plain Python, no TorchServe import) on the exported artifacts, as loadtests/inprocess.py
does, and calls its pieces directly, without TorchServe's Context or its `handle` loop:
  per request  `prepare`: the request envelope (genai_serve/envelope.py), the registry schema (genai_serve/schema.py)
               and the handler's `parse` (image decode + resize for cnn, the seeded latent noise for gan);
  per batch    `run_batch`: the handler's `infer` (one ONNX Runtime call for the batch, then PNG / JSON per
               request) and the JSON encoding of each answer.
So the answers, the 4xx bodies ({"error", "field"}), the ONNX Runtime session (one per model, created at load) and
its thread count (genai_serve/runtime.py thread_budget, the same share of the cores our workers get) are ours;
what differs is only the server around them: how HTTP is parsed, how requests are batched, where they wait.

Also here: the HTTP body -> TorchServe request dict translation (what TorchServe's frontend hands a worker), the
optional token check against a TorchServe-format key file, the X-Batch-Size counter behind GET /stats, and
`peer_server`, which starts a peer as a subprocess on a free loopback port and waits until GET /ping answers 200.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import subprocess
import sys
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from genai_serve.errors import InputError
from genai_ops.registry import REPO_ROOT, Paths, load_registry, select
from genai_ops.server import CONFIG_TEMPLATE, free_ports, read_properties
from loadtests.harness.servers import wait_until_up
from loadtests.inprocess import build_handler, layout

log = logging.getLogger(__name__)

PEERS = ("fastapi", "litserve")
DEFAULT_MODELS = "cnn,gan"
MAX_REQUEST_BYTES = int(read_properties(CONFIG_TEMPLATE)["max_request_size"])  # TorchServe's limit: 413 above it
TOKEN_REFUSED = "Token Authorization failed. Token either incorrect, expired, or not provided correctly"


# -- the models ----------------------------------------------------------------------------------------------------
@dataclass
class PeerModel:
    """One model as a peer serves it: the project's handler, loaded once (one ONNX Runtime session), and the
    registry's batching (batchSize, maxBatchDelay), queue (jobQueueSize) and worker (maxWorkers) settings. A peer
    keeps `workers` batches in flight per model, as TorchServe runs that many workers."""

    name: str
    version: str
    handler: object
    batch_size: int
    max_delay_s: float
    queue_size: int
    workers: int = 1


def load_model(base: Path, name: str, workdir: Path) -> PeerModel:
    """`name`'s default version from `base`'s artifacts (as `make export` wrote them), laid out under `workdir`."""
    spec = select(load_registry(), [name])[0]
    if spec.continuous:
        raise SystemExit(f"{name} is scheduled per step (continuous batching): the peers serve one-shot models only")
    version = spec.default_version
    handler = build_handler(spec, version, layout(spec, version, Paths(base), workdir / name, prefer_mar=False))
    return PeerModel(name, version, handler, *batching(spec), int(spec.model_config.get("jobQueueSize", 100)),
                     workers(spec))


def workers(spec) -> int:
    """Batches in flight per model: the registry's maxWorkers, TorchServe's workers for it."""
    return int(spec.model_config.get("maxWorkers", 1))


def batching(spec) -> tuple[int, float]:
    """(batchSize, maxBatchDelay in seconds) from the registry's model_config, as TorchServe reads them."""
    config = spec.model_config
    return int(config.get("batchSize", 1)), float(config.get("maxBatchDelay", 0)) / 1000.0


def prepare(model: PeerModel, request: dict):
    """One request (TorchServe's request dict) -> the handler's item; InputError for what the client got wrong."""
    return model.handler.parse_request(request)


def run_batch(model: PeerModel, items: list) -> list[tuple[int, bytes]]:
    """The handler's `infer` on every item at once -> one (HTTP status, JSON body) per item. An InputError raised
    for the batch goes to every member, a bug is a 500 for this batch only (as handlers/base.py does)."""
    try:
        outputs = model.handler.infer(items)
    except InputError as exc:
        outputs = [exc] * len(items)
    except Exception:
        log.exception("%s: inference failed", model.name)
        outputs = [None] * len(items)
    return [answer(out) for out in outputs]


def answer(out) -> tuple[int, bytes]:
    """An infer output (dict), an InputError or None (our bug) -> (status, JSON body) as our handlers reply."""
    if isinstance(out, InputError):
        return out.status, json.dumps(out.to_body()).encode()
    if out is None:
        return 500, json.dumps({"error": "internal error", "field": None}).encode()
    return 200, json.dumps(out).encode()


# -- HTTP -> what TorchServe hands a worker ------------------------------------------------------------------------
def worker_value(value: bytes, content_type: str):
    """A body or form part as TorchServe 0.12's worker hands it to the handler (ts/protocol/otf_message_handler.py):
    JSON parsed and text decoded where they can be, else the bytes. tests/unit/test_hostile_properties.py models
    TorchServe with it too."""
    try:
        if content_type == "application/json":
            return json.loads(value.decode("utf-8"))
        if content_type.startswith("text"):
            return value.decode("utf-8")
    except (ValueError, RecursionError):
        pass
    return value


async def torchserve_request(request) -> dict:
    """A Starlette request -> the request dict a handler gets from TorchServe: a form or multipart body is one
    entry per field, anything else is {"body": ...}. A form that does not parse arrives whole as the body (as a
    multipart Content-Type without its boundary does at TorchServe), so the envelope's 400 names it."""
    content_type = request.headers.get("content-type", "")
    mime = content_type.split(";")[0].strip().lower()
    if mime == "application/x-www-form-urlencoded" or (mime == "multipart/form-data" and "boundary=" in content_type):
        try:
            form = await request.form()
        except Exception:  # starlette's MultiPartException / HTTPException: malformed form data
            form = None
        if form is not None:
            out = {}
            for name, value in form.multi_items():  # a later part of the same name wins, as at TorchServe
                if isinstance(value, str):
                    out[name] = value
                else:
                    out[name] = worker_value(await value.read(), (value.content_type or "").split(";")[0].lower())
            return out
    return {"body": worker_value(await request.body(), mime)}


# -- tokens ----------------------------------------------------------------------------------------------------
class Tokens:
    """`Authorization: Bearer <inference key>` checked against a TorchServe-format key_file.json (`--key-file`),
    written with a fresh key when the file does not exist; with no key file, the header is accepted and ignored."""

    def __init__(self, key_file: Path | None = None):
        self.key = None
        if key_file is None:
            return
        key_file = Path(key_file)
        if not key_file.exists():
            keys = {api: {"key": secrets.token_urlsafe(24)} for api in ("management", "inference", "API")}
            key_file.write_text(json.dumps(keys))
            key_file.chmod(0o600)
        self.key = json.loads(key_file.read_text())["inference"]["key"]

    def allowed(self, authorization: str | None) -> bool:
        return self.key is None or (authorization or "") == f"Bearer {self.key}"


def refused_body() -> bytes:
    """TorchServe's answer to a missing or wrong token (it uses 400, not 401)."""
    return json.dumps({"code": 400, "type": "InvalidKeyException", "message": TOKEN_REFUSED}).encode()


# -- batch sizes for GET /stats --------------------------------------------------------------------------------
REQUESTS_BY_BATCH: dict[str, Counter] = defaultdict(Counter)


class BatchStats:
    """ASGI middleware: counts, per model, the answers that came out of a batch of each size (the X-Batch-Size
    header both peers set, as our handlers do). Per process: both peers answer HTTP from one process."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith("/predictions/"):
            return await self.app(scope, receive, send)
        model = path.split("/")[2]

        async def counting_send(message):
            if message["type"] == "http.response.start":
                size = dict(message.get("headers") or []).get(b"x-batch-size")
                if size:
                    REQUESTS_BY_BATCH[model][int(size)] += 1
            await send(message)

        await self.app(scope, receive, counting_send)


def stats() -> dict:
    """GET /stats: {"requests_by_batch_size": {model: {size: answers}}}."""
    return {"requests_by_batch_size": {m: {str(k): v for k, v in sorted(c.items())} for m, c in
                                       REQUESTS_BY_BATCH.items()}}


# -- the command line and the subprocess -------------------------------------------------------------------------
def parse_args(argv, description: str):
    import argparse

    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, default=REPO_ROOT, help="project dir holding artifacts/ (default: repo)")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--models", default=DEFAULT_MODELS, help=f"comma-separated (default {DEFAULT_MODELS})")
    parser.add_argument("--key-file", type=Path, default=None,
                        help="check Bearer tokens against this TorchServe-format key file (written if missing)")
    args = parser.parse_args(argv)
    args.models = [m for m in args.models.split(",") if m]
    return args


@contextmanager
def peer_server(peer: str, models: list[str], base: Path | None = None, key_file: Path | None = None,
                timeout_s: float = 120.0, env: dict | None = None):
    """Start `python -m loadtests.peer_<peer>` on a free loopback port; yield (url, Popen) once GET /ping is 200.
    The peer leads its own process group, so its children (LitServe's workers) are ended with it."""
    if peer not in PEERS:
        raise ValueError(f"unknown peer {peer!r}; peers: {PEERS}")
    port = free_ports(1)[0]
    cmd = [sys.executable, "-m", f"loadtests.peer_{peer}", "--port", str(port), "--models", ",".join(models),
           "--base", str(base or REPO_ROOT)] + (["--key-file", str(key_file)] if key_file else [])
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env={**os.environ, **(env or {})}, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url + "/ping", proc, timeout_s)
        yield url, proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen, timeout_s: float = 30.0) -> None:
    """SIGTERM the peer (it shuts its workers down), then SIGKILL whatever is left of its process group."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the group this peer leads (start_new_session): stragglers only
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)
