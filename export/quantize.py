"""fp32 ONNX graph -> int8 by ONNX Runtime's dynamic quantization: the one place that logic lives (the gpt2_int8
export, export/gpt2_int8.py, and `make bench-gpt2`'s int8 rows both call `quantize_int8`).

Dynamic quantization (onnxruntime.quantization.quantize_dynamic): the weights of the chosen ops are stored as
int8 once, with a scale (one per tensor, or one per output channel with per_channel); activations are
quantized to uint8 at run time, per call, from their own min/max. No calibration data is needed. When the
session loads, ORT's CPU optimiser turns each quantized MatMul into one DynamicQuantizeMatMul (seen in the
optimised 2.1 graph here), an int8 GEMM.

GPT-2 as optimum-onnx exports it has its layer projections (Conv1D: c_attn, c_proj, c_fc, mlp c_proj) as Gemm
and the LM head as MatMul. ORT's dynamic quantizer has no integer Gemm: with "Gemm" in op_types every Gemm
whose weight is a constant (alpha = beta = 1, A not transposed) is first rewritten as the equivalent MatMul +
Add, which the quantizer takes. A weight that the graph computes as Transpose(initializer) (GPT-2's LM head,
tied to the token embedding) is folded into an initializer, so the head can be quantized too (or left fp32
with `exclude`). Only MatMuls with a constant weight are quantized (MatMulConstBOnly): attention's
activation x activation MatMuls (QK^T, softmax x V) stay fp32.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

DEFAULTS = {"weight_type": "QInt8", "per_channel": False, "reduce_range": False, "op_types": ["MatMul", "Gemm"],
            "exclude": []}


def gemm_to_matmul(model) -> int:
    """Rewrite, in place, Gemm(A, B, C) with a constant B as MatMul(A, B) (+ Add(., C)); returns how many.

    Gemm computes alpha * A' @ B' + beta * C; only alpha = beta = 1 and transA = 0 are rewritten (what torch's
    addmm exports); transB = 1 gets a transposed copy of B as a new initializer."""
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    nodes, done = [], 0
    for node in graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        plain = attrs.get("alpha", 1.0) == 1.0 and attrs.get("beta", 1.0) == 1.0 and not attrs.get("transA", 0)
        if node.op_type != "Gemm" or not plain or node.input[1] not in inits:
            nodes.append(node)
            continue
        weight = node.input[1]
        if attrs.get("transB", 0):
            transposed = numpy_helper.from_array(np.ascontiguousarray(numpy_helper.to_array(inits[weight]).T),
                                                 f"{weight}_transposed_for_matmul")
            graph.initializer.append(transposed)
            weight = transposed.name
        has_bias = len(node.input) > 2 and node.input[2]
        product = f"{node.output[0]}_matmul" if has_bias else node.output[0]
        nodes.append(helper.make_node("MatMul", [node.input[0], weight], [product], name=f"{node.name}_as_MatMul"))
        if has_bias:
            nodes.append(helper.make_node("Add", [product, node.input[2]], [node.output[0]], name=f"{node.name}_bias_Add"))
        done += 1
    del graph.node[:]
    graph.node.extend(nodes)
    return done


def fold_transposed_weights(model) -> int:
    """Replace, in place, Transpose(initializer) feeding a MatMul by a transposed initializer; returns how many.

    optimum ties GPT-2's LM head to the token embedding: the head's weight is Transpose(wte) computed in the
    graph (ORT folds it at load), so the quantizer, which only takes a constant weight, would skip the head,
    the largest MatMul of all (768 x 50257 at 124M). The embedding lookup keeps the fp32 wte."""
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    matmul_b = {n.input[1] for n in graph.node if n.op_type == "MatMul"}
    keep, done = [], 0
    for node in graph.node:
        if node.op_type == "Transpose" and node.input[0] in inits and node.output[0] in matmul_b:
            perm = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "perm"), None)
            array = numpy_helper.to_array(inits[node.input[0]])
            graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(np.transpose(array, perm)),
                                                             node.output[0]))
            done += 1
        else:
            keep.append(node)
    del graph.node[:]
    graph.node.extend(keep)
    return done


def count_ops(path: Path) -> dict[str, int]:
    import collections

    import onnx

    return dict(collections.Counter(n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node))


def quantize_int8(src: Path, dst: Path, weight_type: str = DEFAULTS["weight_type"],
                  per_channel: bool = DEFAULTS["per_channel"], reduce_range: bool = DEFAULTS["reduce_range"],
                  op_types: list[str] | None = None, exclude: list[str] = ()) -> dict:
    """Quantize the fp32 graph `src` into `dst` (a single file; the graph must be under 2 GB); returns what was
    done, for the export record. `exclude`: node names left in fp32 (after the Gemm rewrite a layer's node is
    named "<its Gemm>_as_MatMul"; GPT-2's LM head is "/lm_head/MatMul")."""
    import logging

    import onnx
    import onnxruntime
    from onnxruntime.quantization import QuantType, quantize_dynamic

    op_types = list(op_types or DEFAULTS["op_types"])
    unknown = set(op_types) - {"MatMul", "Gemm", "Gather", "Conv", "Attention", "LSTM"}
    if unknown:
        raise ValueError(f"quantize: op_types {sorted(unknown)} cannot be dynamically quantized")
    model = onnx.load(str(src))
    rewritten = gemm_to_matmul(model) if "Gemm" in op_types else 0
    folded = fold_transposed_weights(model) if {"MatMul", "Gemm"} & set(op_types) else 0
    ops = sorted({"MatMul" if t == "Gemm" else t for t in op_types})
    level = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)  # its "consider pre-processing" advice, printed on every call
    try:
        quantize_dynamic(model, Path(dst), op_types_to_quantize=ops, per_channel=per_channel,
                         reduce_range=reduce_range, weight_type=QuantType[weight_type], nodes_to_exclude=list(exclude),
                         extra_options={"MatMulConstBOnly": True})
    finally:
        logging.getLogger().setLevel(level)
    after = count_ops(dst)
    return {"method": "onnxruntime.quantization.quantize_dynamic", "onnxruntime": onnxruntime.__version__,
            "weight_type": weight_type, "activations": "uint8, quantized per call from their own range (dynamic)",
            "per_channel": per_channel, "reduce_range": reduce_range, "op_types": op_types,
            "gemm_rewritten_as_matmul": rewritten,
            "transposed_weights_folded": folded, "excluded": list(exclude),
            "quantized_matmuls": after.get("MatMulInteger", 0) + after.get("DynamicQuantizeMatMul", 0),
            "fp32_matmuls_left": after.get("MatMul", 0) + after.get("Gemm", 0),
            "size_mb": {"fp32": round(Path(src).stat().st_size / 2**20, 2),
                        "int8": round(Path(dst).stat().st_size / 2**20, 2)}}
