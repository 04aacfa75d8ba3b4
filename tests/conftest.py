"""Shared fixtures: a stand-in for TorchServe's Context (handlers are unit-tested without a server) and
small ONNX models exported from randomly initialised networks through the real export path."""
from __future__ import annotations

from pathlib import Path

import pytest

from genai_ops.checkpoint import save_checkpoint
from genai_ops.registry import Paths, load_registry
from genai_serve.nets import build
from loadtests.inprocess import Frontend, LocalContext, LocalMetrics


# TorchServe's Context as a handler sees it (shared with the benchmarks and the in-process frontend).
FakeContext, FakeMetrics = LocalContext, LocalMetrics


def ask(handler, context, bodies: list, headers: dict | None = None, batch_size: int = 16):
    """Send `bodies` together through an in-process TorchServe frontend (loadtests/inprocess.py) and return their
    responses (status, content_type, headers, chunks, .json(), .lines())."""
    return Frontend(handler, context, batch_size).ask(bodies, headers)


RANDOM_NETS = {
    "cnn": ("cnn_a2", {"num_classes": 10, "image_size": 64}),
    "gan": ("gan_generator", {"latent_dim": 100}),
    "ebm": ("ebm_energy", {}),
    "diffusion": ("diffusion_unet", {"image_size": 32, "num_channels": 3, "embedding_dim": 32}),
}
# What a trainer stores beside the weights (the diffusion normaliser): export writes it as the sidecar.
RANDOM_EXTRA = {"diffusion": {"normalizer": {"mean": [0.5, 0.45, 0.4], "std": [0.25, 0.24, 0.26]}}}


@pytest.fixture(scope="session")
def random_exports(tmp_path_factory) -> Paths:
    """checkpoints/ + artifacts/ for every image model from seeded random weights, via export.run (gated)."""
    import torch
    from export.run import main as export_main

    paths = Paths(tmp_path_factory.mktemp("project"))
    torch.manual_seed(0)
    for model, (net, kwargs) in RANDOM_NETS.items():
        state = build(net, **kwargs).state_dict()
        if model == "diffusion":  # the UNet's last conv starts at zero (seed init); random weights exercise more
            state = {k: v + 0.05 * torch.randn_like(v) if k.startswith("final") else v for k, v in state.items()}
        save_checkpoint(paths.checkpoint(model), net=net, kwargs=kwargs, state_dict=state,
                        metrics={"note": "random init (test fixture)"}, data={"source": "none"},
                        extra=RANDOM_EXTRA.get(model))
    export_main(["--base", str(paths.base), *RANDOM_NETS])
    return paths


def make_handler(model: str, paths: Paths, tmp_path: Path, version: str = "1.0", spec=None):
    """Lay out a model dir as TorchServe unpacks a .mar (artifacts + model_card.json + model-config) and initialise
    the handler (loadtests/inprocess.py). `spec` replaces the registry's entry (a benchmark's own version)."""
    from loadtests.inprocess import build_handler, layout

    spec = spec or load_registry()[model]
    where = layout(spec, version, paths, tmp_path / f"{model}-{version}-model-dir", prefer_mar=False)
    handler = build_handler(spec, version, where)
    return handler, handler.context


@pytest.fixture
def handler_factory(random_exports, tmp_path):
    return lambda model: make_handler(model, random_exports, tmp_path)


@pytest.fixture
def relu_onnx(tmp_path):
    """A one-node ONNX graph (y = relu(x)), for session and device tests."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])])
    path = tmp_path / "relu.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


# -- ONNX Runtime ---------------------------------------------------------------------------------------------------
