"""gpt2_qa 2.1 = 2.0 quantized to int8: the quantize function (export/quantize.py), the quality gate and its
refusals (export/gpt2_int8.py), the handler serving the int8 graph, and `make bench-gpt2`'s int8 row at a tiny
shape. The graphs are the tiny GPT-2s of conftest.py, exported by the real export path."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from export import gpt2_int8
from export.quantize import count_ops, gemm_to_matmul, quantize_int8
from genai_serve.gpt2.onnx_step import OnnxDecoder
from genai_serve.gpt2.tokenizer import Tokenizer
from genai_ops.registry import load_registry
from genai_serve.runtime import make_session
from tests.unit.gpt2.conftest import TINY

QA = {"question": "Where did Julia live?", "context": "Julia lived in the town of Thornmoor.", "max_new_tokens": 12,
      "temperature": 0, "seed": 0}


def fp32_graph(paths, version="2.0"):
    return paths.artifact_dir("gpt2_qa", version) / "model.onnx"


def prompt_call(decoder, ids):
    ids = np.array([ids], np.int64)
    return decoder(ids, np.ones_like(ids), np.arange(ids.shape[1])[None], None)


# -- the quantize function --------------------------------------------------------------------------------------
def test_gemm_rewrite_computes_what_the_gemm_did(tmp_path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w, b = rng.normal(size=(5, 4)).astype(np.float32), rng.normal(size=(5,)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["y"], name="g", transB=1)], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 5])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x = rng.normal(size=(3, 4)).astype(np.float32)

    def run(name):
        onnx.save(model, tmp_path / name)
        return make_session(tmp_path / name, threads=1).run(None, {"x": x})[0]

    before = run("gemm.onnx")
    assert gemm_to_matmul(model) == 1
    assert [n.op_type for n in model.graph.node] == ["MatMul", "Add"]
    onnx.checker.check_model(model)
    after = run("matmul.onnx")
    np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-5)


def test_quantize_covers_every_projection_and_the_tied_head_and_keeps_the_decoder_interface(gpt2_exports, tmp_path):
    src, dst = fp32_graph(gpt2_exports), tmp_path / "int8.onnx"
    done = quantize_int8(src, dst)
    ops = count_ops(dst)
    per_layer = 4  # c_attn, attn c_proj, c_fc, mlp c_proj
    assert done["gemm_rewritten_as_matmul"] == TINY["n_layer"] * per_layer and done["transposed_weights_folded"] == 1
    assert ops.get("Gemm", 0) == 0 and done["quantized_matmuls"] == TINY["n_layer"] * per_layer + 1  # + the LM head
    assert ops.get("MatMul", 0) == done["fp32_matmuls_left"] == TINY["n_layer"] * 2  # attention's QK^T and PV stay fp32
    a, b = make_session(src, threads=1), make_session(dst, threads=1)
    assert [(i.name, i.type) for i in a.get_inputs()] == [(i.name, i.type) for i in b.get_inputs()]
    assert [o.name for o in a.get_outputs()] == [o.name for o in b.get_outputs()]
    fp, q = OnnxDecoder(a), OnnxDecoder(b)
    ids = Tokenizer(gpt2_exports.artifact_dir("gpt2_qa", "2.0") / "tokenizer").encode("Question: Where did Julia live?")
    (lf, pf), (lq, pq) = prompt_call(fp, ids), prompt_call(q, ids)
    assert [p.shape for p in pf] == [p.shape for p in pq]
    spread = float(lf.max() - lf.min())
    diff = float(np.abs(lf - lq).max())
    assert 0 < diff < 0.1 * spread  # rounded, not broken
    assert (lf.argmax(-1) == lq.argmax(-1)).mean() >= 0.9


def test_quantize_options_are_applied(gpt2_exports, tmp_path):
    head = "/lm_head/MatMul"
    done = quantize_int8(fp32_graph(gpt2_exports), tmp_path / "q.onnx", op_types=["Gemm"], exclude=[head],
                         per_channel=True)
    assert done["per_channel"] and done["excluded"] == [head]
    assert done["quantized_matmuls"] == TINY["n_layer"] * 4  # the head was left in fp32
    with pytest.raises(ValueError, match="cannot be dynamically quantized"):
        quantize_int8(fp32_graph(gpt2_exports), tmp_path / "x.onnx", op_types=["Softmax"])


# -- the gate ---------------------------------------------------------------------------------------------------
def test_agreement_and_scores_follow_their_definitions():
    ref, got = [[1, 2, 3, 4], [5, 6], [7]], [[1, 2, 9, 4], [5, 6], [7, 8]]
    a = gpt2_int8.agreement(ref, got)
    assert a["sequence_agreement"] == round(1 / 3, 4)
    assert a["token_agreement"] == round((2 + 2 + 1) / (4 + 2 + 2), 4)  # common prefix / the longer sequence
    assert gpt2_int8.agreement([[]], [[]]) == {"token_agreement": 1.0, "sequence_agreement": 1.0}
    from genai_serve.gpt2.template import PREFIX, SUFFIX

    s = gpt2_int8.scores([f"{PREFIX} Thornmoor {SUFFIX}", "in the town of Thornmoor"], ["Thornmoor", "Thornmoor"])
    assert s["exact_match"] == 0.5 and s["format_compliance"] == 0.5 and 0.5 < s["f1"] < 1


def test_the_int8_export_passed_its_gate_and_says_so_in_the_record_generation_json_and_card(gpt2_exports):
    art = gpt2_exports.artifact_dir("gpt2_qa", "2.1")
    info = json.loads((art / "export.json").read_text())
    q = info["quality"]
    assert info["version"] == "2.1" and info["parity"]["passed"] and q["passed"] and all(q["checks"].values())
    assert q["thresholds"] == gpt2_int8.THRESHOLDS and 0 < q["n"] <= gpt2_int8.GATE_EXAMPLES
    assert q["token_agreement"] >= gpt2_int8.TOKEN_AGREEMENT_MIN
    assert q["sequence_agreement"] >= gpt2_int8.SEQUENCE_AGREEMENT_MIN
    assert q["delta"]["f1"] == round(q["int8"]["f1"] - q["fp32"]["f1"], 4)
    assert q["held_out"]["split"] == "dev"  # the card names no directory: the generated offline set
    assert info["parity"]["fp32"]["passed"] and info["parity"]["fp32"]["fp32_graph"].startswith("reused")
    assert info["net"]["precision"] == "int8" and info["net"]["quantization"]["from"] == "2.0"
    generation = json.loads((art / "generation.json").read_text())
    assert generation["stage"] == "rl" and generation["derived_from"] == "2.0" and generation["precision"] == "int8"
    assert generation["quality_gate"]["thresholds"] == gpt2_int8.THRESHOLDS
    assert count_ops(art / "model.onnx").get("MatMulInteger", 0) > 0

    from export import archive as archive_mod

    registry = load_registry()
    mar = archive_mod.archive(registry["gpt2_qa"], "2.1", registry, gpt2_exports)
    with zipfile.ZipFile(mar) as z:
        card = json.loads(z.read("model_card.json"))
        names = set(z.namelist())
    assert mar.name == "gpt2_qa-2.1.mar" and {"model.onnx", "tokenizer/tokenizer.json", "generation.json"} <= names
    assert card["version"] == "2.1" and card["quality"]["passed"] and card["net"]["precision"] == "int8"


def test_the_gate_fails_against_a_graph_of_another_model_and_with_stricter_thresholds(gpt2_exports):
    tok = Tokenizer(gpt2_exports.artifact_dir("gpt2_qa", "2.0") / "tokenizer")
    examples, _ = gpt2_int8.held_out({}, 16)
    eos = json.loads((gpt2_exports.artifact_dir("gpt2_qa", "2.0") / "generation.json").read_text())["eos_token_id"]
    int8 = gpt2_exports.artifact_dir("gpt2_qa", "2.1") / "model.onnx"
    other = gpt2_int8.quality_gate(fp32_graph(gpt2_exports, "1.0"), int8, tok, examples, eos, TINY["n_positions"])
    assert not other["passed"] and not other["checks"]["sequence_agreement"]
    assert other["sequence_agreement"] < gpt2_int8.SEQUENCE_AGREEMENT_MIN
    own = gpt2_int8.quality_gate(fp32_graph(gpt2_exports), int8, tok, examples, eos, TINY["n_positions"])
    assert own["passed"]
    stricter = {**gpt2_int8.THRESHOLDS, "token_agreement_min": own["token_agreement"] + 0.01}
    strict = gpt2_int8.quality_gate(fp32_graph(gpt2_exports), int8, tok, examples, eos, TINY["n_positions"], stricter)
    assert not strict["passed"] and strict["checks"] == {**own["checks"], "token_agreement": False}


def test_a_failed_gate_fails_the_export_and_archive_refuses_the_version(gpt2_exports, tmp_path, monkeypatch):
    import shutil

    from export import archive as archive_mod
    from genai_ops.registry import Paths

    paths = Paths(tmp_path)
    shutil.copytree(gpt2_exports.checkpoints, paths.checkpoints)
    shutil.copytree(gpt2_exports.artifacts, paths.artifacts)
    wrong = fp32_graph(gpt2_exports, "1.0")  # "quantize" another model's graph: the gate must catch it

    def quantize_the_wrong_graph(src, dst, **options):
        return quantize_int8(wrong, dst, **options)

    monkeypatch.setattr(gpt2_int8, "quantize_int8", quantize_the_wrong_graph)
    spec = load_registry()["gpt2_qa"]
    with pytest.raises(RuntimeError, match="int8 quality gate failed"):
        gpt2_int8.export_gpt2_int8(spec, paths.checkpoint("gpt2_qa", "training.json"),
                                   paths.artifact_dir("gpt2_qa", "2.1"), "2.1")
    failed = json.loads((paths.artifact_dir("gpt2_qa", "2.1") / "export.json").read_text())
    assert failed["parity"]["passed"] is False and failed["quality"]["sequence_agreement"] < 1
    assert [a["passed"] for a in failed["quality"]["attempts"]] == [False, False]  # every candidate tried
    registry = load_registry()
    with pytest.raises(SystemExit, match="did not pass"):
        archive_mod.archive(registry["gpt2_qa"], "2.1", registry, paths)


def test_a_stale_source_export_is_not_reused(gpt2_exports, tmp_path):
    import shutil

    hf = gpt2_exports.checkpoints / "gpt2_qa" / "2.0"
    src = tmp_path / "2.0"
    shutil.copytree(gpt2_exports.artifact_dir("gpt2_qa", "2.0"), src)
    graph, record = gpt2_int8.source_fp32(src, hf, tmp_path)
    assert graph == src / "model.onnx" and record["fp32_graph"].startswith("reused")
    info = json.loads((src / "export.json").read_text())
    info["weights"]["sha256"] = "0" * 64  # exported from other weights than the directory holds now
    (src / "export.json").write_text(json.dumps(info))
    graph, record = gpt2_int8.source_fp32(src, hf, tmp_path)
    assert graph == tmp_path / "fp32.onnx" and record["passed"] and record["fp32_graph"].startswith("exported afresh")


# -- serving ----------------------------------------------------------------------------------------------------
def test_the_handler_serves_the_int8_version_like_any_other(gpt2_handler):
    h, ctx = gpt2_handler("2.1")
    from tests.unit.gpt2.test_handler import run

    [out] = run(h, ctx, [QA])
    assert out["model_version"] == "2.1" and isinstance(out["answer"], str) and out["completion_tokens"] > 0
    assert run(h, ctx, [QA])[0]["answer"] == out["answer"]
    assert "note" not in run(h, ctx, [{**QA, "use_rl_model": True}])[0]  # 2.1 is the RL model, in int8
    card = h.describe()["model_card"]
    assert card["version"] == "2.1" and card["quality"]["passed"] and card["net"]["quantization"]["from"] == "2.0"


# -- make bench-gpt2's int8 row, at a tiny shape --------------------------------------------------------------------
def test_bench_gpt2_int8_rows_run_at_a_tiny_shape_with_2_1s_options():
    from loadtests import bench_gpt2

    variants = bench_gpt2.int8_variants()
    shipped = load_registry()["gpt2_qa"].export_for("2.1")["quantize"]
    assert variants["int8"] == gpt2_int8.candidates(shipped)[0] and "fallbacks" not in variants["int8"]
    assert (bench_gpt2.LM_HEAD in variants["int8"].get("exclude", [])) != (bench_gpt2.LM_HEAD in variants["int8_alt"]["exclude"])
    r = bench_gpt2.bench(1, 1, **bench_gpt2.SMOKE)
    assert all(r[bs][side] > 0 for bs in (1, 8) for side in ("hf", "ours", "int8", "int8_alt"))
    layers = bench_gpt2.SMOKE["shape"]["n_layer"] * 4
    counts = sorted(r["quantization"][v]["quantized_matmuls"] for v in ("int8", "int8_alt"))
    assert counts == [layers, layers + 1]  # with and without the LM head
    text = bench_gpt2.render(r, 1, 1, 0.0)
    assert "SMOKE RUN" in text and "| ratio int8 (2.1) / fp32, our loop |" in text


def test_a_candidate_that_fails_the_gate_falls_back_to_the_next_and_the_record_lists_both(gpt2_exports, tmp_path,
                                                                                          monkeypatch):
    import shutil

    from genai_ops.registry import Paths

    spec = load_registry()["gpt2_qa"]
    first, fallback = gpt2_int8.candidates(dict(spec.export_for("2.1")["quantize"]))
    assert first["exclude"] == [] and fallback["exclude"] == ["/lm_head/MatMul"]  # models.yaml: head quantized first
    paths = Paths(tmp_path)
    shutil.copytree(gpt2_exports.checkpoints, paths.checkpoints)
    shutil.copytree(gpt2_exports.artifacts, paths.artifacts)
    wrong = fp32_graph(gpt2_exports, "1.0")

    def first_candidate_quantizes_the_wrong_graph(src, dst, **options):  # so the first attempt must fail its gate
        return quantize_int8(wrong if not options["exclude"] else src, dst, **options)

    monkeypatch.setattr(gpt2_int8, "quantize_int8", first_candidate_quantizes_the_wrong_graph)
    record = gpt2_int8.export_gpt2_int8(spec, paths.checkpoint("gpt2_qa", "training.json"),
                                        paths.artifact_dir("gpt2_qa", "2.1"), "2.1")
    attempts = record["quality"]["attempts"]
    assert [a["passed"] for a in attempts] == [False, True] and attempts[1]["excluded"] == ["/lm_head/MatMul"]
    assert record["parity"]["passed"] and record["net"]["quantization"]["excluded"] == ["/lm_head/MatMul"]
    generation = json.loads((paths.artifact_dir("gpt2_qa", "2.1") / "generation.json").read_text())
    assert generation["quality_gate"]["attempts"] == attempts
