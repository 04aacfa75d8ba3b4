"""The measured effect of each version on held-out questions: what a user sees, greedy and sampled.

Answers are generated from the bare prompt (the prefix NOT primed, no string wrapping), then scored:

  format_compliance  share of answers with both the prefix and the suffix (template.format_ok)
  exact_match, f1    SQuAD scores of the answer between prefix and suffix against the gold span
  contained          share of answers whose text (normalised) contains the gold span: the right name was
                     said, even if more words came with it
  mean_length        generated tokens per answer (end-of-text not counted)

`held_out` runs both decodings: greedy (temperature 0, what `"temperature": 0` requests get) and sampled
(temperature 0.8, the serving default).
"""
from __future__ import annotations

import time

import torch

from genai_serve.gpt2.template import exact_match, extract_answer, f1, format_ok, normalize, prompt

DECODINGS = {"greedy": {"temperature": 0.0}, "sampled": {"temperature": 0.8}}
EVAL_SETTINGS = {"temperature": 0.8, "top_k": 0, "top_p": 1.0, "max_new_tokens": 48, "seed": 0}
METRICS = ("exact_match", "f1", "contained", "format_compliance", "mean_length", "n")


def contained(prediction: str, gold: str) -> float:
    g = normalize(gold)
    return float(bool(g) and f" {g} " in f" {normalize(prediction)} ")


@torch.no_grad()
def evaluate(model, tok, examples: list[dict], batch: int = 24, **settings) -> dict:
    s = {**EVAL_SETTINGS, **settings}
    sample = s["temperature"] > 0
    started = time.perf_counter()
    torch.manual_seed(s["seed"])
    tok.padding_side = "left"
    model.eval()
    decode = ({"do_sample": True, "temperature": s["temperature"], "top_k": s["top_k"], "top_p": s["top_p"]}
              if sample else {"do_sample": False})
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
        "settings": s,
        "seconds": round(time.perf_counter() - started, 1),
        "samples": [{"question": e["question"], "gold": e["answer"], "output": t} for e, t in zip(examples[:3], texts)],
    }


def held_out(model, tok, examples: list[dict]) -> dict:
    """{"greedy": {...}, "sampled": {...}}: both decodings on the same held-out examples."""
    return {name: evaluate(model, tok, examples, **settings) for name, settings in DECODINGS.items()}


def table(results: dict) -> dict:
    """{decoding: {metric: value}} without settings and samples (for training.json and the README)."""
    return {name: {k: r[k] for k in METRICS} for name, r in results.items()}
