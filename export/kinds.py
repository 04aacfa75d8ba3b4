"""Exporters, one per registry `export.kind`: checkpoint -> artifacts/<model>/ + the record export.json keeps.

Each exporter takes (spec, checkpoint path, output dir) and returns a dict with at least `format`, `net`,
`metrics`, `data` and `parity` ({"passed": bool, ...}: the gate archive.py insists on). export/run.py adds the
checkpoint's and artifacts' checksums. Adding an export format = one function here + one line in EXPORTERS.

  onnx         a fixed graph (cnn, gan, the diffusion UNet): parity-gated ONNX file, model.onnx
  torch_state  a network that serving must run in torch (the EBM: Langevin needs dE/dx by autograd):
               config + state_dict as model.pt, gated by reloading it into a fresh network
  bigram_table, lstm_step, spacy_vectors   the text models (export/text.py)
  gpt2_onnx    gpt2_qa (export/gpt2.py): a registry `export.per_version` kind, called once per version with
               version=...; writes artifacts/<model>/<version>/
  gpt2_int8    a gpt2_qa version that is another version's graph quantized to int8 (export/gpt2_int8.py; the
               registry's `export.versions.<v>: {kind: gpt2_int8, quantize: {from: ...}}`), gated on held-out
               greedy agreement and EM/F1 deltas against that version's fp32 graph
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Callable

import torch

from export.gpt2 import export_gpt2_onnx
from export.gpt2_int8 import export_gpt2_int8
from export.onnx import export_with_gate
from export.text import export_bigram_table, export_lstm_step, export_spacy_vectors
from genai_ops.checkpoint import atomic_write_bytes, atomic_write_json, build_from_checkpoint
from genai_serve.nets import build
from genai_ops.registry import ModelSpec, resolve


def _real_inputs(spec: ModelSpec, ckpt: dict) -> dict:
    """The registry's `export.real_inputs` function, called with the checkpoint (a normaliser may live there)."""
    return resolve(spec.export["real_inputs"])(ckpt)


def _write_sidecar(spec: ModelSpec, ckpt: dict, out_dir: Path) -> None:
    """`export.sidecar: name.json` writes the checkpoint's `extra` (e.g. the diffusion normaliser) beside the
    network, so the handler gets what sampling needs without loading the training checkpoint."""
    name = spec.export.get("sidecar")
    if name:
        atomic_write_json(out_dir / name, ckpt.get("extra", {}))


def export_onnx(spec: ModelSpec, ckpt_path: Path, out_dir: Path) -> dict:
    net, ckpt = build_from_checkpoint(ckpt_path)
    gate = export_with_gate(net, spec.export["inputs"], out_dir / "model.onnx", _real_inputs(spec, ckpt))
    _write_sidecar(spec, ckpt, out_dir)
    return {"format": "onnx", "exporter": f"torch {torch.__version__} (dynamo)", "net": ckpt["config"],
            "metrics": ckpt["metrics"], "data": ckpt["data"], "parity": gate}


def export_torch_state(spec: ModelSpec, ckpt_path: Path, out_dir: Path) -> dict:
    """model.pt = {"config", "state_dict"} only (no optimiser, metrics or data: the card carries those).

    Gate: the file, loaded with weights_only into a freshly built network (strict keys), must give outputs
    equal to the checkpoint's network on real inputs, and finite."""
    net, ckpt = build_from_checkpoint(ckpt_path)
    buf = io.BytesIO()
    torch.save({"config": ckpt["config"], "state_dict": net.state_dict()}, buf)
    payload = buf.getvalue()
    reloaded = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    fresh = build(reloaded["config"]["net"], **reloaded["config"]["kwargs"])
    fresh.load_state_dict(reloaded["state_dict"], strict=True)
    fresh.eval()
    diffs = {}
    with torch.no_grad():
        for label, batch in _real_inputs(spec, ckpt).items():
            x = torch.from_numpy(batch)
            expected, got = net(x), fresh(x)
            if not torch.isfinite(got).all():
                raise RuntimeError(f"{spec.name}: reloaded network gives non-finite outputs on {label}")
            diffs[label] = float((expected - got).abs().max())
    if max(diffs.values()) != 0.0:
        raise RuntimeError(f"{spec.name}: reloaded state_dict differs from the checkpoint: {diffs}")
    atomic_write_bytes(out_dir / "model.pt", payload)
    _write_sidecar(spec, ckpt, out_dir)
    return {"format": "torch_state", "exporter": f"torch {torch.__version__} state_dict", "net": ckpt["config"],
            "metrics": ckpt["metrics"], "data": ckpt["data"],
            "parity": {"max_abs_diff": diffs, "tolerance": 0.0, "passed": True,
                       "check": "reloaded into a fresh network: outputs equal and finite"}}


# per_version kinds take a fourth argument, version=...
EXPORTERS: dict[str, Callable[..., dict]] = {
    "onnx": export_onnx,
    "torch_state": export_torch_state,
    "bigram_table": export_bigram_table,
    "lstm_step": export_lstm_step,
    "spacy_vectors": export_spacy_vectors,
    "gpt2_onnx": export_gpt2_onnx,
    "gpt2_int8": export_gpt2_int8,
}
