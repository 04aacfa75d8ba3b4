"""Registry models' handlers built and called in this process from `make all`'s output, without TorchServe.

build_handler lays a model directory out as a TorchServe worker sees it (the .mar from model_store/ unpacked
when there is one, else artifacts/ plus the model card and model-config that archiving would write), imports
the handler class from this checkout and initialises it with a context stand-in, with or without a gpu_id.

call_handler is the one place that speaks the handler protocol: today a batch is one handle(data, context)
call. When the iterative handlers move to TorchServe's continuous batching (a request takes several handle()
calls), only call_handler changes; callers keep sending bodies and getting (status, JSON) back.
"""
from __future__ import annotations

import importlib
import json
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from genai_serve.registry import ModelSpec, Paths, load_registry


class LocalContext:
    """The parts of TorchServe's Context (ts/context.py) a handler touches: what initialize() reads and what
    handle() sets per response (the status is kept; headers and content types are not needed here)."""

    def __init__(self, model_dir: Path | None = None, name: str = "model", version: str | None = None,
                 yaml_config: dict | None = None, gpu_id: int | None = None, batch: int = 0):
        self.system_properties = {"model_dir": str(model_dir), "gpu_id": gpu_id}
        self.manifest = {"model": {"modelName": name, "modelVersion": version}}
        self.model_yaml_config = yaml_config or {}
        self.metrics = None  # handlers/base.py skips metrics without a metrics cache
        self.request_ids = {i: f"local-{i}" for i in range(batch)}
        self.status: dict[int, int] = {}

    def set_response_status(self, code=200, phrase="", idx=0):
        self.status[idx] = code

    def set_response_content_type(self, idx, value):
        pass

    def set_response_header(self, idx, key, value):
        pass

    def get_request_header(self, idx, key):
        return None


def call_handler(handler, bodies: list[dict]) -> list[tuple[int, dict]]:
    """Send `bodies` to `handler` as one batch (JSON bodies arrive decoded, as TorchServe hands them over);
    one (HTTP status, parsed JSON body) per request, in order."""
    ctx = LocalContext(batch=len(bodies))
    out = handler.handle([{"body": body} for body in bodies], ctx)
    return [(ctx.status.get(i, 200), json.loads(text)) for i, text in enumerate(out)]


@dataclass
class Layout:
    model_dir: Path
    config: dict  # model-config.yaml as TorchServe reads it (deviceType, batching, the handler section)
    source: str  # where the files came from: the .mar, or artifacts/ when nothing is archived


def layout(spec: ModelSpec, version: str, paths: Paths, dest: Path) -> Layout:
    """The model directory for `spec` `version` under `dest`, from the .mar when there is one."""
    dest.mkdir(parents=True, exist_ok=True)
    mar = paths.model_store / spec.mar_file(version)
    if mar.exists():
        with zipfile.ZipFile(mar) as archive:
            archive.extractall(dest)
        manifest = json.loads((dest / "MAR-INF" / "MANIFEST.json").read_text())
        config_file = manifest["model"].get("configFile")
        config = yaml.safe_load((dest / config_file).read_text()) if config_file else {}
        return Layout(dest, config or {}, str(mar))
    from export.archive import model_card, model_config_yaml, verified_export

    registry = load_registry()
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
    """The one handler class the registry's handler file defines (TorchServe's rule), from this checkout."""
    from handlers.base import BaseHandler

    module = importlib.import_module(spec.handler.removesuffix(".py").replace("/", "."))
    classes = [c for c in vars(module).values()
               if isinstance(c, type) and issubclass(c, BaseHandler) and c.__module__ == module.__name__]
    if len(classes) != 1:
        raise RuntimeError(f"{spec.handler} defines {classes}: a handler file must define exactly one class")
    return classes[0]


def build_handler(spec: ModelSpec, version: str, where: Layout, gpu_id: int | None = None):
    handler = handler_class(spec)()
    handler.initialize(LocalContext(where.model_dir, spec.name, version, where.config, gpu_id))
    return handler
