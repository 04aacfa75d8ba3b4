"""torch -> ONNX for fixed graphs (one self-contained file, dynamic batch axis) and the parity gate.

The gate runs the exported file in ONNX Runtime and the network in eager torch on the same inputs
(random and real) and refuses the export if any output differs by more than `tolerance`. A refused
export never replaces the previous artifact: we write to a temp name and rename only after the gate.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch

PARITY_TOLERANCE = 1e-4


def export_fixed_graph(net: torch.nn.Module, example: torch.Tensor, path: Path) -> None:
    batch = torch.export.Dim("batch", min=1, max=4096)
    torch.onnx.export(
        net.eval(),
        (example,),
        str(path),
        input_names=["input"],
        output_names=["output"],
        dynamic_shapes=({0: batch},),
        dynamo=True,
        external_data=False,  # one self-contained .onnx: nothing to forget when archiving
        verbose=False,
    )


def parity(net: torch.nn.Module, onnx_path: Path, inputs: dict[str, np.ndarray]) -> dict[str, float]:
    """Max |torch - ORT| for each named input batch."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    result = {}
    with torch.no_grad():
        for label, batch in inputs.items():
            expected = net(torch.from_numpy(batch)).numpy()
            got = session.run(None, {name: batch})[0]
            result[label] = float(np.max(np.abs(expected - got)))
    return result


def export_with_gate(net, input_shape, out_path: Path, real_inputs: np.ndarray, seed: int = 0,
                     tolerance: float = PARITY_TOLERANCE) -> dict:
    """Export, check parity on random (batch 1 and 7) and real inputs, then atomically install the file."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    example = torch.from_numpy(rng.standard_normal((2, *input_shape), dtype=np.float32))
    fd, tmp = tempfile.mkstemp(dir=out_path.parent, suffix=".onnx.tmp")
    os.close(fd)
    tmp = Path(tmp)
    try:
        export_fixed_graph(net, example, tmp)
        inputs = {
            "random_bs1": rng.standard_normal((1, *input_shape), dtype=np.float32),
            "random_bs7": rng.standard_normal((7, *input_shape), dtype=np.float32),
            "real": np.ascontiguousarray(real_inputs, dtype=np.float32),
        }
        diffs = parity(net, tmp, inputs)
        worst = max(diffs.values())
        if not worst <= tolerance:  # `not <=` also catches NaN
            raise RuntimeError(f"parity gate failed: max |torch - onnxruntime| = {worst:.3g} > {tolerance} ({diffs})")
        os.chmod(tmp, 0o644)
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return {"max_abs_diff": diffs, "tolerance": tolerance, "passed": True}
