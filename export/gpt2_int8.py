"""gpt2_qa's int8 version (export kind gpt2_int8): another version's fp32 graph, dynamically quantized by ONNX
Runtime, exported as a version of its own (artifacts/gpt2_qa/<version>/: model.onnx, tokenizer/, generation.json).

models.yaml says which version it derives from and how (`export.versions.<v>.quantize: {from: "2.0", ...}`).
  1. the source version's HF directory (checkpoints/gpt2_qa/<from>/) gives the tokenizer, config and card;
  2. its fp32 graph: artifacts/gpt2_qa/<from>/model.onnx when that export passed its parity gate, its file is the
     one export.json recorded and it was exported from the weights there now; otherwise a fresh optimum-onnx
     export, parity-gated against torch as any fp32 version is (export/gpt2.py);
  3. export/quantize.py quantizes it (weights int8, activations quantized per call);
  4. the quality gate below, on held-out questions, with our greedy loop over both graphs.

Candidates: models.yaml's `quantize` options first, then each of its `fallbacks` (options merged over them), in
order; the first candidate whose int8 graph passes the gate is shipped, and the record lists every attempt
(`quality.attempts`). The shipped options quantize the LM head too (the fastest graph: at the 124M shape the
head is a third of the weights, `make bench-gpt2`); the fallback keeps it in fp32 for a model whose greedy
choices are near ties there (a few-step model), so a model that does not tolerate the faster graph still gets
an int8 version that says the same thing as 2.0.

Quality gate (all must hold, or the export fails, its export.json says why and archive refuses it). On
GATE_EXAMPLES held-out questions (the source card's `data.held_out.source` when that is a directory, else the
generated offline set), prompt = template.prompt(question, context), greedy, GATE_NEW_TOKENS new tokens at most,
decoded by genai_serve/gpt2/decode.py over each graph (what the handler runs):
  token agreement     tokens identical position by position up to the first divergence / tokens generated
                      (the longer of the two sequences per question)                      >= TOKEN_AGREEMENT_MIN
  sequence agreement  share of questions whose whole answer is identical                  >= SEQUENCE_AGREEMENT_MIN
  exact match, F1     of the extracted answers vs the gold span (template.extract_answer, exact_match, f1);
                      |int8 - fp32|                                                        <= EM_DELTA_MAX, F1_DELTA_MAX
Why these numbers: a weight rounding should change what the model says, not how well; the deltas bound the
latter at 0.05 (about 3 of 64 questions flipping one way). Sequence agreement is the strict one: one flipped
argmax anywhere in 48 tokens changes the rest of an answer. 0.85 lets about 1 answer in 7 take another path
(where fp32's own choice was a near tie) while a graph of another model fails it by far
(tests/unit/gpt2/test_int8.py). Measured here with models.yaml's options: 0.976 / 0.969 (token / sequence) on a
shortened offline training (EM delta 0.000, F1 delta +0.004), 0.989 / 0.984 on the default offline training
(both 0.000), 0.895 / 0.891 on the e2e's 4-step model with the generated squad_gen-3 data (both 0.000): token
agreement counts every token after a divergence as lost, so it is held to the same 0.85 as the answers.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from export.gpt2 import (export_fp32, exporter_name, gate_prompts, net_record, parity, read_card,
                         write_serving_files)
from export.quantize import DEFAULTS, quantize_int8
from genai_serve.gpt2 import template
from genai_serve.gpt2.decode import Row, generate
from genai_serve.gpt2.onnx_step import OnnxDecoder
from genai_serve.gpt2.tokenizer import Tokenizer
from genai_ops.registry import REPO_ROOT, ModelSpec, sha256_path
from genai_serve.runtime import make_session

# -- the gate's thresholds and sizes: the one place they are set (they are written into generation.json and the
# export record with the measurements)
GATE_EXAMPLES = 64
GATE_NEW_TOKENS = 48  # as the held-out evaluation of training (training/gpt2_eval.py)
TOKEN_AGREEMENT_MIN = 0.85  # as the answers: the e2e's 4-step model, all near ties, measured 0.895 (0.989 trained)
SEQUENCE_AGREEMENT_MIN = 0.85
EM_DELTA_MAX = 0.05
F1_DELTA_MAX = 0.05
THRESHOLDS = {"token_agreement_min": TOKEN_AGREEMENT_MIN, "sequence_agreement_min": SEQUENCE_AGREEMENT_MIN,
              "exact_match_delta_max": EM_DELTA_MAX, "f1_delta_max": F1_DELTA_MAX}
GATE_BATCH = 16  # rows per decoding batch (batch invariance: the tokens do not depend on it)


def held_out(card: dict, limit: int = GATE_EXAMPLES) -> tuple[list[dict], dict]:
    """The source version's held-out split when its card names a directory, else the generated offline set."""
    from training.gpt2_data import load_examples

    source = ((card.get("data") or {}).get("held_out") or {}).get("source")
    where = Path(source) if source else None
    if where is not None and not where.is_absolute():
        where = REPO_ROOT / where  # cards name the generated set relative to the repository
    return load_examples(str(where) if where is not None and where.is_dir() else None, "dev", limit)


def greedy_tokens(onnx_path: Path, prompts: list[list[int]], eos: int, threads: int = 1) -> list[list[int]]:
    decoder = OnnxDecoder(make_session(onnx_path, threads=threads))
    out = []
    for i in range(0, len(prompts), GATE_BATCH):
        rows = generate(decoder, [Row(list(p), GATE_NEW_TOKENS) for p in prompts[i:i + GATE_BATCH]], eos=eos)
        out += [r.tokens for r in rows]
    return out


def agreement(reference: list[list[int]], candidate: list[list[int]]) -> dict:
    """Token agreement (common prefix / the longer length, summed over sequences) and sequence agreement."""
    def prefix(a, b):
        n = 0
        while n < min(len(a), len(b)) and a[n] == b[n]:
            n += 1
        return n

    common = sum(prefix(a, b) for a, b in zip(reference, candidate))
    total = sum(max(len(a), len(b)) for a, b in zip(reference, candidate))
    same = sum(a == b for a, b in zip(reference, candidate))
    return {"token_agreement": round(common / total, 4) if total else 1.0,
            "sequence_agreement": round(same / max(1, len(reference)), 4)}


def scores(texts: list[str], golds: list[str]) -> dict:
    answers = [template.extract_answer(t) for t in texts]
    n = max(1, len(texts))
    return {"exact_match": round(sum(map(template.exact_match, answers, golds)) / n, 4),
            "f1": round(sum(map(template.f1, answers, golds)) / n, 4),
            "format_compliance": round(sum(map(template.format_ok, texts)) / n, 4)}


def logits_diff(fp32: Path, int8: Path, prompts: list[list[int]]) -> float:
    """max |logits int8 - fp32| over the prompt blocks of a few prompts (informative; the gate is on tokens)."""
    a, b = OnnxDecoder(make_session(fp32, threads=1)), OnnxDecoder(make_session(int8, threads=1))
    worst = 0.0
    for p in prompts[:4]:
        ids = np.array([p], np.int64)
        args = (ids, np.ones_like(ids), np.arange(ids.shape[1])[None], None)
        worst = max(worst, float(np.abs(a(*args)[0] - b(*args)[0]).max()))
    return worst


def quality_gate(fp32: Path, int8: Path, tokenizer: Tokenizer, examples: list[dict], eos: int, n_positions: int,
                 thresholds: dict = THRESHOLDS) -> dict:
    """Both graphs decode the same held-out prompts greedily; the figures, the thresholds and `passed`."""
    prompts, golds, skipped = [], [], 0
    for e in examples:
        ids = tokenizer.encode(template.prompt(e["question"], e["context"]))
        if len(ids) + GATE_NEW_TOKENS > n_positions:  # the handler would refuse it (400): not a fair question
            skipped += 1
            continue
        prompts.append(ids)
        golds.append(e["answer"])
    if not prompts:
        raise RuntimeError("int8 gate: no held-out prompt fits the model's context")
    ref, got = greedy_tokens(fp32, prompts, eos), greedy_tokens(int8, prompts, eos)
    fp, q = (scores([tokenizer.decode(t) for t in toks], golds) for toks in (ref, got))
    agree = agreement(ref, got)
    deltas = {k: round(q[k] - fp[k], 4) for k in fp}
    checks = {"token_agreement": agree["token_agreement"] >= thresholds["token_agreement_min"],
              "sequence_agreement": agree["sequence_agreement"] >= thresholds["sequence_agreement_min"],
              "exact_match_delta": abs(deltas["exact_match"]) <= thresholds["exact_match_delta_max"],
              "f1_delta": abs(deltas["f1"]) <= thresholds["f1_delta_max"]}
    return {**agree, "fp32": fp, "int8": q, "delta": deltas, "thresholds": dict(thresholds), "checks": checks,
            "passed": all(checks.values()), "n": len(prompts), "skipped_too_long": skipped,
            "decoding": f"greedy, our loop (genai_serve/gpt2/decode.py) over each graph, {GATE_NEW_TOKENS} new tokens at most",
            "max_abs_diff": {"logits": logits_diff(fp32, int8, prompts)}}


def source_fp32(src_art: Path, hf_dir: Path, scratch: Path) -> tuple[Path, dict]:
    """(fp32 graph, its parity record): the source version's export when current, else a fresh gated export."""
    info_path = src_art / "export.json"
    if info_path.exists():
        info = json.loads(info_path.read_text())
        graph = src_art / "model.onnx"
        if (info.get("parity", {}).get("passed") and graph.exists()
                and info.get("artifacts", {}).get("model.onnx") == sha256_path(graph)
                and info.get("weights", {}).get("sha256") == sha256_path(hf_dir)):
            return graph, {**info["parity"], "fp32_graph": f"reused {src_art.name}'s export"}
    graph = scratch / "fp32.onnx"
    export_fp32(hf_dir, graph)
    gate = parity(hf_dir, graph, gate_prompts())
    if not gate["passed"]:
        raise RuntimeError(f"int8 export: the fp32 graph of {hf_dir} failed its parity gate: {gate}")
    return graph, {**gate, "fp32_graph": "exported afresh (the source version's export was missing or stale)"}


def candidates(options: dict) -> list[dict]:
    """quantize_int8's options to try, in order: models.yaml's `quantize` (less `from`, which names the source
    version), then each of its `fallbacks` merged over them."""
    fallbacks = options.get("fallbacks") or []
    first = {**DEFAULTS, **{k: v for k, v in options.items() if k not in ("from", "fallbacks")}}
    return [first] + [{**first, **fallback} for fallback in fallbacks]


def export_gpt2_int8(spec: ModelSpec, ckpt_path: Path, out_dir: Path, version: str) -> dict:
    """ckpt_path = checkpoints/gpt2_qa/training.json; the source version's HF directory lies beside it."""
    options = dict(spec.export_for(version)["quantize"])
    source = str(options.pop("from"))
    if source not in spec.versions or spec.versions.index(source) >= spec.versions.index(version):
        raise SystemExit(f"{spec.name} {version}: quantize.from must name an earlier version of {spec.versions}")
    hf_dir = ckpt_path.parent / source
    card = read_card(hf_dir)
    with tempfile.TemporaryDirectory(prefix="gpt2-int8-") as tmp:
        fp32, fp32_parity = source_fp32(out_dir.parent / source, hf_dir, Path(tmp))
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(hf_dir)
        examples, provenance = held_out(card)
        # serving's tokenizer (tokenizers on tokenizer.json, which the HF directory holds) and end-of-text id
        tokenizer = Tokenizer(hf_dir)
        attempts = []
        for i, candidate in enumerate(candidates(options)):
            staged = Path(tmp) / f"model.int8.{i}.onnx"
            quant = {"from": source, **quantize_int8(fp32, staged, **candidate)}
            gate = quality_gate(fp32, staged, tokenizer, examples, config.eos_token_id, config.n_positions)
            attempts.append({"excluded": quant["excluded"], "per_channel": quant["per_channel"],
                             "reduce_range": quant["reduce_range"], "passed": gate["passed"], "checks": gate["checks"],
                             "token_agreement": gate["token_agreement"],
                             "sequence_agreement": gate["sequence_agreement"], "delta": gate["delta"]})
            if gate["passed"]:
                break
        gate["held_out"], gate["attempts"] = provenance, attempts
        record = {"format": "onnx (decoder with past key values), int8 weights (ONNX Runtime dynamic quantization)",
                  "exporter": f"{exporter_name()} + {quant['method']} (onnxruntime {quant['onnxruntime']})",
                  "net": {**net_record(config, card), "precision": "int8", "quantization": quant},
                  "metrics": {"held_out_greedy_our_loop": {f"{source} fp32": gate["fp32"], f"{version} int8": gate["int8"],
                                                           "delta": gate["delta"], "n": gate["n"]},
                              f"held_out_{source}": card.get("held_out"), "training": card.get("training"),
                              "base": card.get("base")},
                  "data": card.get("data"), "quality": gate,
                  "parity": {"passed": bool(gate["passed"] and fp32_parity["passed"]), "max_abs_diff": gate["max_abs_diff"],
                             "check": f"int8 vs {source}'s fp32 graph: greedy agreement and EM/F1 deltas on "
                                      f"{gate['n']} held-out questions (record 'quality'); fp32 vs torch: 'fp32'",
                             "fp32": fp32_parity}}
        if not record["parity"]["passed"]:
            _record_failure(out_dir, spec.name, version, record)
            raise RuntimeError(f"{spec.name} {version}: int8 quality gate failed for all {len(attempts)} candidate(s); "
                               f"the last: {gate['checks']} "
                               f"(agreement {gate['token_agreement']} / {gate['sequence_agreement']}, "
                               f"EM/F1 delta {gate['delta']['exact_match']} / {gate['delta']['f1']})")
        shutil.move(str(staged), out_dir / "model.onnx")
    write_serving_files(hf_dir, out_dir, card, version, precision="int8", derived_from=source, quantization=quant,
                        quality_gate={k: gate[k] for k in ("token_agreement", "sequence_agreement", "fp32", "int8",
                                                           "delta", "thresholds", "passed", "n", "attempts")})
    record["metrics"]["held_out_sets"] = offline_sets_scores(out_dir, card)
    return record


def offline_sets_scores(out_dir: Path, card: dict) -> dict | None:
    """The int8 version scored on the source's held-out sets by the serving loop (greedy and sampled), as
    training scores 1.0 and 2.0; None when the source was trained on a named dataset (its one dev split is the
    quality gate's)."""
    named = (card.get("data") or {}).get("held_out_sets") or {}
    if set(named) != {"name_disjoint", "template_disjoint", "handwritten"}:
        return None
    from training.gpt2_data import held_out_sets
    from training.gpt2_eval import onnx_held_out_sets

    limit = max(src.get("examples", 0) for src in named.values())
    sets = {name: examples for name, (examples, _) in held_out_sets(None, limit).items()}
    return onnx_held_out_sets(out_dir, sets)


def _record_failure(out_dir: Path, model: str, version: str, record: dict) -> None:
    """A failed gate replaces export.json with the failing measurement: archive refuses the version (its parity
    did not pass) instead of packing an older export, and the record says why."""
    from genai_ops.checkpoint import atomic_write_json

    atomic_write_json(out_dir / "export.json", {"model": model, "version": version, **record, "artifacts": {}})
