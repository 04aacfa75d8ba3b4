"""Shared fixtures: a stand-in for TorchServe's Context (handlers are unit-tested without a server) and
small ONNX models exported from randomly initialised networks through the real export path."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from genai_serve.checkpoint import save_checkpoint
from genai_serve.registry import Paths, load_registry
from genai_serve.nets import build


class FakeMetrics:
    def __init__(self):
        self.recorded = []

    def add_time(self, name, value, idx=None, unit="ms", dimensions=None, metric_type=None):
        self.recorded.append((name, value))

    def add_counter(self, name, value, idx=None, dimensions=None):
        self.recorded.append((name, value))


class FakeContext:
    """The parts of ts.context.Context a handler touches, recording what the handler sets."""

    def __init__(self, model_dir: Path, model_name: str, version: str = "1.0", model_yaml_config: dict | None = None):
        self.system_properties = {"model_dir": str(model_dir), "gpu_id": None}
        self.manifest = {"model": {"modelName": model_name, "modelVersion": version}}
        self.model_yaml_config = model_yaml_config or {}
        self.metrics = FakeMetrics()
        self.status: dict[int, tuple[int, str]] = {}
        self.content_types: dict[int, str] = {}
        self.headers: dict[int, dict] = {}

    def set_response_status(self, code=200, phrase="", idx=0):
        self.status[idx] = (code, phrase)

    def set_response_content_type(self, idx, value):
        self.content_types[idx] = value

    def get_request_header(self, idx, key):
        return self.headers.get(idx, {}).get(key)


RANDOM_NETS = {"cnn": ("cnn_a2", {"num_classes": 10, "image_size": 64}), "gan": ("gan_generator", {"latent_dim": 100})}


@pytest.fixture(scope="session")
def random_exports(tmp_path_factory) -> Paths:
    """checkpoints/ + artifacts/ for cnn and gan from seeded random weights, via export.run (parity-gated)."""
    import torch
    from export.run import main as export_main

    paths = Paths(tmp_path_factory.mktemp("project"))
    torch.manual_seed(0)
    for model, (net, kwargs) in RANDOM_NETS.items():
        save_checkpoint(paths.checkpoint(model), net=net, kwargs=kwargs, state_dict=build(net, **kwargs).state_dict(),
                        metrics={"note": "random init (test fixture)"}, data={"source": "none"})
    export_main(["--base", str(paths.base), *RANDOM_NETS])
    return paths


def make_handler(model: str, paths: Paths, tmp_path: Path):
    """Lay out a model dir as TorchServe unpacks a .mar (artifacts + model_card.json) and initialise the handler."""
    import importlib

    from export.archive import model_card, model_config_yaml

    registry = load_registry()
    spec = registry[model]
    model_dir = tmp_path / f"{model}-model-dir"
    model_dir.mkdir()
    for name in spec.artifacts:  # a file, or a directory (a spaCy pipeline)
        src = paths.artifact_dir(model) / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, model_dir / name)
    info = json.loads((paths.artifact_dir(model) / "export.json").read_text())
    (model_dir / "model_card.json").write_text(json.dumps(model_card(spec, "1.0", info, paths)))
    config = yaml.safe_load(yaml.safe_dump(model_config_yaml(spec, registry)))  # as TorchServe reads it back
    module = importlib.import_module(spec.handler.removesuffix(".py").replace("/", "."))
    handler_cls = next(v for v in vars(module).values() if isinstance(v, type) and v.__module__ == module.__name__)
    handler = handler_cls()
    context = FakeContext(model_dir, model, model_yaml_config=config)
    handler.initialize(context)
    return handler, context


@pytest.fixture
def handler_factory(random_exports, tmp_path):
    return lambda model: make_handler(model, random_exports, tmp_path)
