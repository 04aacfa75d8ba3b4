"""The measured effect of each version: sample answers to held-out questions (temperature 0.8, no string
wrapping, the prefix NOT primed) and score what the model itself produced.

  format_compliance  share of answers with both the prefix and the suffix (template.format_ok)
  exact_match, f1    SQuAD scores of the answer between prefix and suffix against the gold span
  mean_length        generated tokens per answer (end-of-text not counted)
"""
from __future__ import annotations

import time

import torch

from genai_serve.gpt2.template import exact_match, extract_answer, f1, format_ok, prompt

EVAL_SETTINGS = {"temperature": 0.8, "top_k": 0, "top_p": 1.0, "max_new_tokens": 48, "seed": 0}


@torch.no_grad()
def evaluate(model, tok, examples: list[dict], batch: int = 24, **settings) -> dict:
    s = {**EVAL_SETTINGS, **settings}
    started = time.perf_counter()
    torch.manual_seed(s["seed"])
    tok.padding_side = "left"
    model.eval()
    texts, lengths = [], []
    for i in range(0, len(examples), batch):
        chunk = examples[i:i + batch]
        enc = tok([prompt(e["question"], e["context"]) for e in chunk], return_tensors="pt", padding=True)
        out = model.generate(**enc, do_sample=True, temperature=s["temperature"], top_k=s["top_k"], top_p=s["top_p"],
                             max_new_tokens=s["max_new_tokens"], pad_token_id=tok.pad_token_id,
                             eos_token_id=tok.eos_token_id)
        for row in out[:, enc["input_ids"].shape[1]:].tolist():
            row = row[: row.index(tok.eos_token_id)] if tok.eos_token_id in row else row
            lengths.append(len(row))
            texts.append(tok.decode(row, skip_special_tokens=True))
    n = max(1, len(examples))
    answers = [extract_answer(t) for t in texts]
    return {
        "format_compliance": round(sum(map(format_ok, texts)) / n, 4),
        "exact_match": round(sum(exact_match(a, e["answer"]) for a, e in zip(answers, examples)) / n, 4),
        "f1": round(sum(f1(a, e["answer"]) for a, e in zip(answers, examples)) / n, 4),
        "mean_length": round(sum(lengths) / n, 2),
        "n": len(examples),
        "settings": s,
        "seconds": round(time.perf_counter() - started, 1),
        "samples": [{"question": e["question"], "gold": e["answer"], "output": t} for e, t in zip(examples[:3], texts)],
    }
