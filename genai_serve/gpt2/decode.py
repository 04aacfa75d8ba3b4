"""The batched generate loop with a KV cache: every row of a batch (a request, or one of its num_responses)
advances one token per network call.

`step(input_ids (n, t), attention_mask (n, past + t), position_ids (n, t), past) -> (logits (n, t, V), present)`
is one call of the exported decoder (onnx_step.OnnxDecoder; past/present are lists of (n, heads, len, dim)
arrays). The loop:
  1. left-pads the prompts to one length; the attention mask hides the pads and position ids count only real
     tokens, so a padded row computes what it would alone;
  2. runs the whole prompt block once (empty past), then feeds each row's chosen token with the returned
     cache (one token per call: the cost per token no longer grows with the text);
  3. each row picks its token from its own logits with its own settings and generator (temperature 0 =
     greedy; else temperature, top_k, top_p, one uniform draw from the row's generator), so a seed gives
     the same text alone or in any batch;
  4. a row stops at end-of-text or its max_new_tokens; finished rows leave the batch (their cache rows are
     dropped), so a batch costs no more calls than its longest row.
No torch or TorchServe import.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

Step = Callable[[np.ndarray, np.ndarray, np.ndarray, list | None], tuple[np.ndarray, list]]


@dataclass
class Row:
    prompt: list[int]
    max_new_tokens: int
    temperature: float = 0.0  # 0 = greedy
    top_k: int | None = None
    top_p: float = 1.0
    rng: np.random.Generator | None = None
    tokens: list[int] = field(default_factory=list)  # generated so far (end-of-text not included)
    stopped_at_eos: bool = False


def choose(logits: np.ndarray, row: Row) -> int:
    """One token from one row of logits (float64 for a stable softmax / CDF)."""
    if row.temperature <= 0:
        return int(np.argmax(logits))  # first maximum, as torch.argmax in HF's greedy search
    s = logits.astype(np.float64) / row.temperature
    if row.top_k is not None and row.top_k < s.size:
        cut = np.partition(s, -row.top_k)[-row.top_k]
        s = np.where(s < cut, -np.inf, s)
    p = np.exp(s - s.max())
    p /= p.sum()
    if row.top_p < 1.0:  # nucleus: the smallest set of most likely tokens whose mass reaches top_p
        order = np.argsort(-p, kind="stable")
        mass = np.cumsum(p[order])
        keep = order[: int(np.searchsorted(mass, row.top_p)) + 1]
        kept = np.zeros_like(p)
        kept[keep] = p[keep]
        p = kept / kept.sum()
    cdf = np.cumsum(p)
    return int(min(np.searchsorted(cdf, row.rng.random() * cdf[-1], side="right"), p.size - 1))


def generate(step: Step, rows: list[Row], eos: int, pad: int | None = None,
             on_token: Callable[[int, int], None] | None = None) -> list[Row]:
    """Fill each row's `tokens`; on_token(row index, token id) is called as each token is chosen (streaming)."""
    pad = eos if pad is None else pad
    active = [i for i, r in enumerate(rows) if r.max_new_tokens > 0]
    if not active:
        return rows
    # 1. left padding, mask and position ids
    width = max(len(rows[i].prompt) for i in active)
    ids = np.full((len(active), width), pad, np.int64)
    mask = np.zeros((len(active), width), np.int64)
    for j, i in enumerate(active):
        n = len(rows[i].prompt)
        ids[j, width - n:] = rows[i].prompt
        mask[j, width - n:] = 1
    positions = np.maximum(np.cumsum(mask, axis=1) - 1, 0)
    past = None
    while active:
        # 2. one network call for every running row
        logits, past = step(ids, mask, positions, past)
        last = logits[:, -1, :]
        keep, next_ids = [], []
        for j, i in enumerate(active):
            row = rows[i]
            tok = choose(last[j], row)  # 3. this row's own choice
            if tok == eos:
                row.stopped_at_eos = True
                continue
            row.tokens.append(tok)
            if on_token:
                on_token(i, tok)
            if len(row.tokens) < row.max_new_tokens:  # 4. stop at its own budget
                keep.append(j)
                next_ids.append(tok)
        if len(keep) < len(active):  # finished rows leave the batch
            past = [p[keep] for p in past]
            mask, positions = mask[keep], positions[keep]
            active = [active[j] for j in keep]
        if not active:
            break
        ids = np.array(next_ids, np.int64)[:, None]
        positions = positions[:, -1:] + 1
        mask = np.concatenate([mask, np.ones((len(active), 1), np.int64)], axis=1)
    return rows
