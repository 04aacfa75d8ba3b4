"""Call a handler in-process the way TorchServe 0.12 calls it, for tests, benchmarks and `make gpu-check`.

`layout` lays a model directory out as a worker sees it (the .mar unpacked, or artifacts/ plus the model card and
model-config archiving would write) and `build_handler` initialises the registry's handler class on it.

`LocalContext` is the part of ts.context.Context a handler touches. `Frontend` plays the frontend's side of
continuous batching (wlm/ContinuousBatching.java + job/RestJob.java) in miniature: each `step()` is one handle()
call carrying the running requests (headers only, no body) plus new ones up to `batch_size`; a reply whose
stopping criterion says "not last" is a chunk of a streamed response (its first chunk fixes status and headers),
"last" ends it, and a reply without one is a whole response. `disconnect(rid)` is a client closing its
connection: the request is not sent again, as TorchServe drops a job whose channel closed. One-shot handlers
(no stopping criteria) are driven by the same class: every request is answered in its first call.
"""
from __future__ import annotations

import importlib
import itertools
import json
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from genai_ops.registry import ModelSpec, Paths, load_registry


class LocalMetrics:
    def __init__(self):
        self.recorded: list[tuple[str, float]] = []

    def add_time(self, name, value, idx=None, unit="ms", dimensions=None, metric_type=None):
        self.recorded.append((name, value))

    def add_counter(self, name, value, idx=None, dimensions=None):
        self.recorded.append((name, value))

    def add_metric(self, name, value, unit="", idx=None, dimensions=None, metric_type=None):
        self.recorded.append((name, value))

    def values(self, name: str) -> list[float]:
        return [v for n, v in self.recorded if n == name]


class LocalContext:
    """What a handler reads and sets on TorchServe's Context, recorded per call as the real one does."""

    def __init__(self, model_dir: Path, model_name: str, version: str = "1.0", model_yaml_config: dict | None = None,
                 gpu_id: int | None = None):
        self.system_properties = {"model_dir": str(model_dir), "gpu_id": gpu_id}
        self.manifest = {"model": {"modelName": model_name, "modelVersion": version}}
        self.model_yaml_config = model_yaml_config or {}
        self.metrics = LocalMetrics()
        self.request_ids = {i: f"request-{i}" for i in range(64)}
        self.headers: dict[int, dict] = {}
        self.new_call()

    def new_call(self) -> None:
        """TorchServe builds the per-request status, content type and headers afresh for every call."""
        self.status: dict[int, tuple[int, str]] = {}
        self.content_types: dict[int, str] = {}
        self.response_headers: dict[int, dict] = {}
        self.stopping_criteria = None

    def set_response_status(self, code=200, phrase="", idx=0):
        self.status[idx] = (code, phrase)

    def set_response_content_type(self, idx, value):
        self.content_types[idx] = value

    def set_response_header(self, idx, key, value):
        self.response_headers.setdefault(idx, {})[key] = value

    def get_request_header(self, idx, key):
        return self.headers.get(idx, {}).get(key)


@dataclass
class LocalResponse:
    status: int = 200
    content_type: str | None = None
    headers: dict = field(default_factory=dict)
    chunks: list[str] = field(default_factory=list)
    done: bool = False
    streamed: bool = False

    @property
    def body(self) -> str:
        return "".join(self.chunks)

    def json(self):
        return json.loads(self.body)

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.body.splitlines() if line.strip()]


class Frontend:
    def __init__(self, handler, context: LocalContext, batch_size: int = 16):
        self.handler, self.context, self.batch_size = handler, context, batch_size
        self.waiting: list[str] = []  # the job queue
        self.running: list[str] = []
        self.bodies: dict[str, dict] = {}
        self.request_headers: dict[str, dict] = {}
        self.responses: dict[str, LocalResponse] = {}
        self.calls = 0
        self._ids = itertools.count()

    def submit(self, body, headers: dict | None = None) -> str:
        """Queue a request: a dict (a JSON body as TorchServe parses it) or raw bytes. Returns its id."""
        rid = f"req-{next(self._ids)}"
        self.bodies[rid] = {"body": body}
        self.request_headers[rid] = dict(headers or {})
        self.responses[rid] = LocalResponse()
        self.waiting.append(rid)
        return rid

    def disconnect(self, rid: str) -> None:
        """The client closed its connection: the frontend stops sending the request."""
        for queue in (self.waiting, self.running):
            if rid in queue:
                queue.remove(rid)

    def step(self) -> None:
        """One handle() call: the running requests (no body) plus new ones up to batch_size."""
        while self.waiting and len(self.running) < self.batch_size:
            self.running.append(self.waiting.pop(0))
        if not self.running:
            return
        batch = list(self.running)
        data = [self.bodies.pop(rid, {}) for rid in batch]  # a request seen before comes without its body
        ctx = self.context
        ctx.new_call()
        ctx.request_ids = dict(enumerate(batch))
        ctx.headers = {i: self.request_headers[rid] for i, rid in enumerate(batch)}
        outputs = self.handler.handle(data, ctx)
        self.calls += 1
        assert len(outputs) == len(batch), "TorchServe fails the whole call when the reply count differs"
        for i, (rid, out) in enumerate(zip(batch, outputs)):
            last = ctx.stopping_criteria[i](out) if ctx.stopping_criteria else None
            self._deliver(i, rid, out, last)

    def _deliver(self, i: int, rid: str, out, last: bool | None) -> None:
        resp, ctx = self.responses[rid], self.context
        text = out.decode() if isinstance(out, (bytes, bytearray)) else out if isinstance(out, str) else json.dumps(out)
        if not resp.streamed:  # the first reply fixes the status line and headers (RestJob.responseInference)
            resp.status = ctx.status.get(i, (200, ""))[0]
            resp.content_type = ctx.content_types.get(i)
            resp.headers = dict(ctx.response_headers.get(i, {}))
        resp.chunks.append(text)
        if last is None:
            assert not resp.streamed, f"{rid}: a streamed response must end with a last chunk, not a plain reply"
            resp.done = True
        else:
            resp.streamed = True
            resp.done = last
        if resp.done:
            self.running.remove(rid)

    def run(self, max_calls: int = 100_000) -> None:
        """Step until every submitted request is answered."""
        while self.waiting or self.running:
            self.step()
            assert self.calls < max_calls, "requests never finished"

    def ask(self, bodies: list, headers: dict | None = None) -> list[LocalResponse]:
        """Submit `bodies` together and run them to the end; their responses, in order."""
        rids = [self.submit(b, headers) for b in bodies]
        self.run()
        return [self.responses[rid] for rid in rids]


def call_handler(handler, bodies: list[dict]) -> list[tuple[int, dict]]:
    """Send `bodies` together (JSON bodies arrive decoded, as TorchServe hands them over) and run them to the end;
    one (HTTP status, parsed JSON body) per request, in order."""
    return [(r.status, r.json()) for r in Frontend(handler, handler.context).ask(bodies)]


# -- model directories ---------------------------------------------------------------------------------------
@dataclass
class Layout:
    model_dir: Path
    config: dict  # model-config.yaml as TorchServe reads it (deviceType, batching, the handler section)
    source: str  # where the files came from: the .mar, or artifacts/ when nothing is archived


def layout(spec: ModelSpec, version: str, paths: Paths, dest: Path, prefer_mar: bool = True) -> Layout:
    """The model directory for `spec` `version` under `dest`: the .mar unpacked when there is one (and
    `prefer_mar`), else the artifacts with the model card and model-config that archiving would write."""
    dest.mkdir(parents=True, exist_ok=True)
    mar = paths.model_store / spec.mar_file(version)
    if prefer_mar and mar.exists():
        with zipfile.ZipFile(mar) as archive:
            archive.extractall(dest)
        manifest = json.loads((dest / "MAR-INF" / "MANIFEST.json").read_text())
        config_file = manifest["model"].get("configFile")
        config = yaml.safe_load((dest / config_file).read_text()) if config_file else {}
        return Layout(dest, config or {}, str(mar))
    from export.archive import model_card, model_config_yaml, verified_export

    registry = {**load_registry(), spec.name: spec}
    art_version = spec.artifact_version(version)
    info = verified_export(spec, paths, art_version)  # refuses a missing or unverified export, naming the fix
    art_dir = paths.artifact_dir(spec.name, art_version)
    for name in spec.artifacts:  # a file, or a directory (a spaCy pipeline, a tokenizer)
        src = art_dir / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dest / name)
    (dest / "model_card.json").write_text(json.dumps(model_card(spec, version, info, paths)))
    config = yaml.safe_load(yaml.safe_dump(model_config_yaml(spec, registry)))  # as TorchServe reads it back
    return Layout(dest, config, str(art_dir))


def handler_class(spec: ModelSpec):
    """The one class the registry's handler file defines (TorchServe's rule: ts/model_loader.py loads a handler
    module by its single class), imported from this checkout."""
    module = importlib.import_module(spec.handler.removesuffix(".py").replace("/", "."))
    classes = [c for c in vars(module).values() if isinstance(c, type) and c.__module__ == module.__name__]
    if len(classes) != 1:
        raise RuntimeError(f"{spec.handler} defines {classes}: a handler file must define exactly one class")
    return classes[0]


def build_handler(spec: ModelSpec, version: str, where: Layout, gpu_id: int | None = None):
    """An initialised handler; its LocalContext is `handler.context` (what call_handler and Frontend use)."""
    handler = handler_class(spec)()
    handler.context = LocalContext(where.model_dir, spec.name, version, where.config, gpu_id)
    handler.initialize(handler.context)
    return handler
