"""torch -> ONNX for fixed graphs (one self-contained file, dynamic batch axis) and the parity gate.

A graph may take several inputs (the UNet takes x and noise_variance); every input's axis 0 is the one
shared batch axis. The gate runs the exported file in ONNX Runtime and the network in eager torch on the
same inputs (random and real) and refuses the export if any output differs by more than `tolerance`. A
refused export never replaces the previous artifact: we write to a temp name and rename only after the gate.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch

PARITY_TOLERANCE = 1e-4


def input_specs(inputs) -> dict[str, dict]:
    """Registry `export.inputs` -> {name: {"shape": (...), "low"?, "high"?, "dtype"?, "batch_axis"?}}
    (per-sample shapes, without the batch axis).

    A bare shape list means standard-normal random inputs; {shape, low, high} means uniform in [low, high)
    (a noise variance, say, where N(0, 1) values would be meaningless). `dtype: int64` means integers in
    [low, high) (token ids). `batch_axis` (default 0) is where the batch axis goes: an LSTM's state is
    (layers, batch, hidden), so its batch axis is 1."""
    out = {}
    for name, spec in inputs.items():
        spec = {"shape": spec} if isinstance(spec, (list, tuple)) else dict(spec)
        spec["shape"] = tuple(spec["shape"])
        spec.setdefault("dtype", "float32")
        spec.setdefault("batch_axis", 0)
        out[name] = spec
    return out


def batched_shape(spec: dict, batch: int) -> tuple[int, ...]:
    shape = list(spec["shape"])
    shape.insert(spec["batch_axis"], batch)
    return tuple(shape)


def random_inputs(specs: dict[str, dict], batch: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    feed = {}
    for name, spec in specs.items():
        shape = batched_shape(spec, batch)
        if spec["dtype"] == "int64":
            feed[name] = rng.integers(spec.get("low", 0), spec["high"], shape, dtype=np.int64)
        elif "low" in spec:
            feed[name] = rng.uniform(spec["low"], spec["high"], shape).astype(np.float32)
        else:
            feed[name] = rng.standard_normal(shape, dtype=np.float32)
    return feed


def export_fixed_graph(net: torch.nn.Module, examples: dict[str, torch.Tensor], path: Path,
                       output_names: tuple[str, ...] = ("output",), batch_axes: dict[str, int] | None = None) -> None:
    batch = torch.export.Dim("batch", min=1, max=4096)
    batch_axes = batch_axes or {}
    torch.onnx.export(
        net.eval(),
        tuple(examples.values()),
        str(path),
        input_names=list(examples),
        output_names=list(output_names),
        dynamic_shapes=tuple({batch_axes.get(name, 0): batch} for name in examples),
        dynamo=True,
        external_data=False,  # one self-contained .onnx: nothing to forget when archiving
        verbose=False,
    )


def parity(net: torch.nn.Module, onnx_path: Path, cases: dict[str, dict[str, np.ndarray]]) -> dict[str, float]:
    """Max |torch - ORT| over every output, for each named case (a feed of every input)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    result = {}
    with torch.no_grad():
        for label, feed in cases.items():
            expected = net(*(torch.from_numpy(feed[i.name]) for i in session.get_inputs()))
            expected = expected if isinstance(expected, (tuple, list)) else (expected,)
            got = session.run(None, feed)
            result[label] = max(float(np.max(np.abs(e.numpy() - g))) for e, g in zip(expected, got, strict=True))
    return result


def export_with_gate(net, inputs: dict, out_path: Path, real_inputs: dict[str, np.ndarray], seed: int = 0,
                     tolerance: float = PARITY_TOLERANCE, output_names: tuple[str, ...] = ("output",)) -> dict:
    """Export, check parity on random (batch 1 and 7) and real inputs, then atomically install the file.

    inputs: the registry's `export.inputs`; real_inputs: {input name: batch} of what serving really feeds.
    A graph with several outputs (an LSTM step: logits, h, c) names them; parity covers all of them."""
    specs = input_specs(inputs)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    examples = {k: torch.from_numpy(v) for k, v in random_inputs(specs, 2, rng).items()}
    fd, tmp = tempfile.mkstemp(dir=out_path.parent, suffix=".onnx.tmp")
    os.close(fd)
    tmp = Path(tmp)
    try:
        export_fixed_graph(net, examples, tmp, output_names, {k: v["batch_axis"] for k, v in specs.items()})
        cases = {
            "random_bs1": random_inputs(specs, 1, rng),
            "random_bs7": random_inputs(specs, 7, rng),
            "real": {k: np.ascontiguousarray(v, dtype=specs[k]["dtype"]) for k, v in real_inputs.items()},
        }
        diffs = parity(net, tmp, cases)
        worst = max(diffs.values())
        if not worst <= tolerance:  # `not <=` also catches NaN
            raise RuntimeError(f"parity gate failed: max |torch - onnxruntime| = {worst:.3g} > {tolerance} ({diffs})")
        os.chmod(tmp, 0o644)
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return {"max_abs_diff": diffs, "tolerance": tolerance, "passed": True}
