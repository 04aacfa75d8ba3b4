"""gpt2_qa export: one version's Hugging Face directory -> artifacts/gpt2_qa/<version>/ (export kind gpt2_onnx).

  model.onnx       the decoder with past key values (optimum-onnx's exporter, task text-generation-with-past):
                   input_ids, attention_mask, position_ids, past_key_values.<i>.key/value -> logits, present.*
  tokenizer/       the tokenizer files (tokenizer.json, vocab, merges, special tokens)
  generation.json  what serving needs besides the graph: end-of-text id, context size, the stage (base / sft /
                   rl), the template, and the held-out measurements of that version

Parity gate (both must hold, or the export fails and archive refuses it):
  1. logits of ONNX Runtime vs torch on held-out prompts, for the prompt block and for a cached step:
     max |diff| <= 1e-3;
  2. our decoding loop (genai_serve/gpt2/decode.py) over the ONNX graph, greedy, a batch of prompts of
     different lengths (left padding), gives the same tokens as transformers' greedy generate per prompt.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from genai_ops.checkpoint import atomic_write_json
from genai_serve.gpt2 import template
from genai_serve.gpt2.decode import Row, generate
from genai_serve.gpt2.onnx_step import OnnxDecoder
from genai_ops.registry import ModelSpec, sha256_path
from genai_serve.runtime import make_session

TOLERANCE = 1e-3
GATE_NEW_TOKENS = 16


def gate_prompts(n: int = 4) -> list[str]:
    from training.gpt2_data import load_examples

    dev, _ = load_examples(None, "dev", n)
    return [template.prompt(e["question"], e["context"] if i % 2 == 0 else None) for i, e in enumerate(dev)]


@torch.no_grad()
def parity(hf_dir: Path, onnx_path: Path, prompts: list[str]) -> dict:
    from transformers import AutoTokenizer, GPT2LMHeadModel

    model = GPT2LMHeadModel.from_pretrained(hf_dir).eval()
    tok = AutoTokenizer.from_pretrained(hf_dir)
    decoder = OnnxDecoder(make_session(onnx_path, threads=1))
    diffs, same_tokens = [], []
    rows = [Row(tok(p)["input_ids"], GATE_NEW_TOKENS) for p in prompts]
    for row in rows:  # 1. logits, prompt block then one cached step
        ids = np.array([row.prompt], np.int64)
        mask, pos = np.ones_like(ids), np.arange(ids.shape[1])[None]
        logits, present = decoder(ids, mask, pos, None)
        ref = model(torch.from_numpy(ids), use_cache=True)
        diffs.append(float(np.abs(logits - ref.logits.numpy()).max()))
        nxt = np.array([[int(logits[0, -1].argmax())]], np.int64)
        logits2, _ = decoder(nxt, np.ones((1, ids.shape[1] + 1), np.int64), np.array([[ids.shape[1]]]), present)
        ref2 = model(torch.from_numpy(nxt), past_key_values=ref.past_key_values, use_cache=True)
        diffs.append(float(np.abs(logits2 - ref2.logits.numpy()).max()))
    generate(decoder, rows, eos=tok.eos_token_id)  # 2. our batched loop vs HF greedy, one prompt at a time
    for row in rows:
        out = model.generate(torch.tensor([row.prompt]), attention_mask=torch.ones(1, len(row.prompt), dtype=torch.long),
                             do_sample=False, max_new_tokens=GATE_NEW_TOKENS, pad_token_id=tok.eos_token_id)
        hf = out[0, len(row.prompt):].tolist()
        hf = hf[: hf.index(tok.eos_token_id)] if tok.eos_token_id in hf else hf
        same_tokens.append(hf == row.tokens)
    worst = max(diffs)
    return {"max_abs_diff": {"logits": worst}, "tolerance": TOLERANCE, "greedy_tokens_match_hf": all(same_tokens),
            "passed": worst <= TOLERANCE and all(same_tokens),
            "check": f"ORT vs torch logits (prompt + cached step) on {len(prompts)} held-out prompts; our batched "
                     f"greedy loop == transformers generate for {GATE_NEW_TOKENS} tokens"}


def export_fp32(hf_dir: Path, dest: Path) -> None:
    """optimum-onnx's decoder-with-past export of the HF directory, as the single file `dest`."""
    from optimum.exporters.onnx import main_export

    with tempfile.TemporaryDirectory(prefix="gpt2-onnx-") as tmp:
        main_export(str(hf_dir), output=tmp, task="text-generation-with-past", device="cpu")
        if any(Path(tmp).glob("*.onnx_data")):
            raise RuntimeError("the exported graph has external data (a model over 2 GB): ship model.onnx_data too")
        shutil.move(str(Path(tmp) / "model.onnx"), dest)


def read_card(hf_dir: Path) -> dict:
    return json.loads((hf_dir / "card.json").read_text()) if (hf_dir / "card.json").exists() else {}


def write_serving_files(hf_dir: Path, out_dir: Path, card: dict, version: str, **generation) -> tuple:
    """tokenizer/ and generation.json beside the graph; returns (tokenizer, config) of the HF directory.
    `generation` adds or replaces keys of generation.json (the int8 version: quantization, gate)."""
    from transformers import AutoConfig, AutoTokenizer

    if (out_dir / "tokenizer").exists():
        shutil.rmtree(out_dir / "tokenizer")
    tok = AutoTokenizer.from_pretrained(hf_dir)
    tok.save_pretrained(out_dir / "tokenizer")
    config = AutoConfig.from_pretrained(hf_dir)
    atomic_write_json(out_dir / "generation.json", {
        "eos_token_id": tok.eos_token_id, "pad_token_id": tok.pad_token_id, "n_positions": config.n_positions,
        "stage": card.get("stage", "base"), "version": version, "prefix": template.PREFIX, "suffix": template.SUFFIX,
        "held_out": {decoding: {k: v for k, v in r.items() if k != "samples"}
                     for decoding, r in card.get("held_out", {}).items()}, **generation,
    })
    return tok, config


def net_record(config, card: dict) -> dict:
    return {"architecture": "GPT2LMHeadModel", "stage": card.get("stage", "base"),
            **{k: getattr(config, k) for k in ("n_layer", "n_head", "n_embd", "n_positions", "vocab_size")}}


def exporter_name() -> str:
    import optimum.onnx

    return f"optimum-onnx {getattr(optimum.onnx, '__version__', '0.1.0')} text-generation-with-past"


def export_gpt2_onnx(spec: ModelSpec, ckpt_path: Path, out_dir: Path, version: str) -> dict:
    """ckpt_path = checkpoints/gpt2_qa/training.json; the version's HF directory lies beside it."""
    hf_dir = ckpt_path.parent / version
    card = read_card(hf_dir)
    export_fp32(hf_dir, out_dir / "model.onnx")
    tok, config = write_serving_files(hf_dir, out_dir, card, version)
    gate = parity(hf_dir, out_dir / "model.onnx", gate_prompts())
    return {"format": "onnx (decoder with past key values)", "exporter": exporter_name(), "net": net_record(config, card),
            "metrics": {"held_out": card.get("held_out"), "held_out_sets": card.get("held_out_sets"),
                        "training": card.get("training"), "base": card.get("base")},
            "data": card.get("data"), "parity": gate,
            # what the int8 version derived from this one checks before reusing model.onnx (export/gpt2_int8.py)
            "weights": {"path": hf_dir.relative_to(ckpt_path.parents[2]).as_posix(), "sha256": sha256_path(hf_dir)}}
