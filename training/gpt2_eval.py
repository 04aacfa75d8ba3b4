"""The measured effect of each version on held-out questions: what a user sees, greedy and sampled.

Answers are generated from the bare prompt (the prefix NOT primed, no string wrapping), then scored:

  format_compliance  share of answers with both the prefix and the suffix (template.format_ok)
  exact_match, f1    SQuAD scores of the answer between prefix and suffix against the gold span
  contained          share of answers whose text (normalised) contains the gold span: the right name was
                     said, even if more words came with it
  mean_length        generated tokens per answer (end-of-text not counted)

`held_out` runs both decodings: greedy (temperature 0, what `"temperature": 0` requests get) and sampled
(temperature 0.8, the serving default); `held_out_sets` does so on each held-out set (training/gpt2_data.py:
name-disjoint, template-disjoint, hand-written).

    python -m training.gpt2_eval DIR [DIR ...] [--onnx ARTIFACT_DIR] [--limit N] [--out FILE]

scores trained versions (HF directories, or an exported ONNX version such as 2.1's artifacts/gpt2_qa/2.1/, decoded
by the serving loop genai_serve/gpt2/decode.py) on the offline held-out sets.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from genai_serve.gpt2.template import exact_match, extract_answer, f1, format_ok, normalize, prompt

DECODINGS = {"greedy": {"temperature": 0.0}, "sampled": {"temperature": 0.8}}
EVAL_SETTINGS = {"temperature": 0.8, "top_k": 0, "top_p": 1.0, "max_new_tokens": 48, "seed": 0}
METRICS = ("exact_match", "f1", "contained", "format_compliance", "mean_length", "n")


def contained(prediction: str, gold: str) -> float:
    g = normalize(gold)
    return float(bool(g) and f" {g} " in f" {normalize(prediction)} ")


@torch.no_grad()
def generate(model, tok, examples: list[dict], batch: int = 24, **settings) -> tuple[list[str], list[int]]:
    """Each example's generated text (end-of-text cut) and its length in tokens, under EVAL_SETTINGS + `settings`."""
    s = {**EVAL_SETTINGS, **settings}
    torch.manual_seed(s["seed"])
    tok.padding_side = "left"
    model.eval()
    decode = ({"do_sample": True, "temperature": s["temperature"], "top_k": s["top_k"], "top_p": s["top_p"]}
              if s["temperature"] > 0 else {"do_sample": False})
    texts, lengths = [], []
    for i in range(0, len(examples), batch):
        chunk = examples[i:i + batch]
        enc = tok([prompt(e["question"], e["context"]) for e in chunk], return_tensors="pt", padding=True)
        out = model.generate(**enc, **decode, max_new_tokens=s["max_new_tokens"], pad_token_id=tok.pad_token_id,
                             eos_token_id=tok.eos_token_id)
        for row in out[:, enc["input_ids"].shape[1]:].tolist():
            row = row[: row.index(tok.eos_token_id)] if tok.eos_token_id in row else row
            lengths.append(len(row))
            texts.append(tok.decode(row, skip_special_tokens=True))
    return texts, lengths


def evaluate(model, tok, examples: list[dict], batch: int = 24, **settings) -> dict:
    started = time.perf_counter()
    texts, lengths = generate(model, tok, examples, batch, **settings)
    return {
        **scores(texts, examples, lengths),
        "settings": {**EVAL_SETTINGS, **settings},
        "seconds": round(time.perf_counter() - started, 1),
        "samples": [{"question": e["question"], "gold": e["answer"], "output": t} for e, t in zip(examples[:3], texts)],
    }


def scores(texts: list[str], examples: list[dict], lengths: list[int]) -> dict:
    n = max(1, len(examples))
    answers = [extract_answer(t) for t in texts]
    golds = [e["answer"] for e in examples]
    return {
        "exact_match": round(sum(map(exact_match, answers, golds)) / n, 4),
        "f1": round(sum(map(f1, answers, golds)) / n, 4),
        "contained": round(sum(map(contained, answers, golds)) / n, 4),
        "format_compliance": round(sum(map(format_ok, texts)) / n, 4),
        "mean_length": round(sum(lengths) / n, 2),
        "n": len(examples),
    }


def evaluate_onnx(artifact_dir: Path, examples: list[dict], batch: int = 16, threads: int = 2, **settings) -> dict:
    """The same scores for an exported version (model.onnx + tokenizer/), decoded by the serving loop: how 2.1
    (int8, made at export) is measured on the held-out sets. Sampled rows draw from one seeded generator each."""
    from genai_serve.gpt2.decode import Row, generate
    from genai_serve.gpt2.onnx_step import OnnxDecoder
    from genai_serve.gpt2.tokenizer import Tokenizer
    from genai_serve.runtime import make_session

    s = {**EVAL_SETTINGS, **settings}
    started = time.perf_counter()
    tok = Tokenizer(Path(artifact_dir) / "tokenizer")
    eos = json.loads((Path(artifact_dir) / "generation.json").read_text()).get("eos_token_id", 0)
    decoder = OnnxDecoder(make_session(Path(artifact_dir) / "model.onnx", threads=threads))
    texts, lengths = [], []
    for i in range(0, len(examples), batch):
        rows = [Row(tok.encode(prompt(e["question"], e["context"])), s["max_new_tokens"], temperature=s["temperature"],
                    top_k=s["top_k"] or None, top_p=s["top_p"], rng=np.random.default_rng(s["seed"] + i + j))
                for j, e in enumerate(examples[i:i + batch])]
        for row in generate(decoder, rows, eos=eos):
            lengths.append(len(row.tokens))
            texts.append(tok.decode(row.tokens))
    return {**scores(texts, examples, lengths), "settings": s, "seconds": round(time.perf_counter() - started, 1),
            "samples": [{"question": e["question"], "gold": e["answer"], "output": t} for e, t in zip(examples[:3], texts)]}


def onnx_held_out_sets(artifact_dir: Path, sets: dict[str, list[dict]], threads: int = 2) -> dict:
    """{set: {decoding: metrics}} for an exported version, as `held_out_sets` gives them for a trained one."""
    return {name: {d: {k: v for k, v in evaluate_onnx(artifact_dir, examples, threads=threads, **settings).items()
                       if k in METRICS} for d, settings in DECODINGS.items()} for name, examples in sets.items()}


def held_out(model, tok, examples: list[dict]) -> dict:
    """{"greedy": {...}, "sampled": {...}}: both decodings on the same held-out examples."""
    return {name: evaluate(model, tok, examples, **settings) for name, settings in DECODINGS.items()}


def held_out_sets(model, tok, sets: dict[str, list[dict]]) -> dict:
    """{set: {"greedy": {...}, "sampled": {...}}} on each held-out set."""
    return {name: held_out(model, tok, examples) for name, examples in sets.items()}


def table(results: dict) -> dict:
    """{decoding: {metric: value}} without settings and samples (for training.json and the README)."""
    return {name: {k: r[k] for k in METRICS} for name, r in results.items()}


def tables(results: dict) -> dict:
    """{set: table} for held_out_sets' results."""
    return {name: table(r) for name, r in results.items()}


def main(argv=None) -> None:
    from training.gpt2_base import load_pretrained
    from training.gpt2_data import held_out_sets as sets_of

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", type=Path, help="HF directories (e.g. checkpoints/gpt2_qa/2.0)")
    parser.add_argument("--onnx", nargs="*", type=Path, default=[], help="exported versions (e.g. artifacts/gpt2_qa/2.1)")
    parser.add_argument("--dataset", help="as training's --dataset (default: the offline held-out sets)")
    parser.add_argument("--limit", type=int, default=200, help="first N questions of each set")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, help="write the tables here as JSON")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    sets = {name: examples for name, (examples, _) in sets_of(args.dataset, args.limit).items()}
    report = {}
    for directory in args.models:
        model, tok = load_pretrained(str(directory))
        report[str(directory)] = tables(held_out_sets(model, tok, sets))
        print(json.dumps({str(directory): report[str(directory)]}), flush=True)
    for directory in args.onnx:
        report[str(directory)] = onnx_held_out_sets(directory, sets, threads=args.threads)
        print(json.dumps({str(directory): report[str(directory)]}), flush=True)
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
