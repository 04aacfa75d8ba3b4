"""The LSTM's generation loop: every request of a batch steps through one network call per token.

`step(tokens (n, 1) int64, h (1, n, H), c (1, n, H)) -> (logits (n, V), h, c)` is the exported ONNX step
(or the torch network in tests). Each row has its own prompt, budget, decoding and generator:
  1. all rows start from a zero state and read <s> then their prompt, one token per call, so rows with
     prompts of different lengths share calls (a row still reading its prompt ignores its logits);
  2. a row that has read its prompt picks a token from its own logits with its own generator, so the
     same seed gives the same text alone or in any batch;
  3. a row leaves the batch when it picks </s> or reaches its length; the rest go on (no wasted steps).
No torch or TorchServe import: the handler feeds ONNX Runtime.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from genai_serve.text.sampling import Decoding, choose

Step = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


@dataclass
class Row:
    prompt: list[int]  # <s> + the start words' ids
    budget: int  # tokens to generate at most (length minus the start words)
    how: Decoding


def generate_batch(step: Step, rows: list[Row], hidden_size: int, eos: int, banned: tuple[int, ...] = ()) -> list[list[int]]:
    """Generated ids per row (prompt not included, </s> not included)."""
    n = len(rows)
    h = np.zeros((1, n, hidden_size), np.float32)
    c = np.zeros((1, n, hidden_size), np.float32)
    out: list[list[int]] = [[] for _ in rows]
    read = [0] * n  # prompt tokens fed so far
    feed = [r.prompt[0] for r in rows]
    active = [i for i, r in enumerate(rows) if r.budget > 0]
    while active:
        tokens = np.array([[feed[i]] for i in active], dtype=np.int64)
        logits, h_new, c_new = step(tokens, h[:, active], c[:, active])
        h[:, active], c[:, active] = h_new, c_new
        still = []
        for j, i in enumerate(active):
            read[i] += 1
            if read[i] < len(rows[i].prompt):  # 1. still reading the prompt
                feed[i] = rows[i].prompt[read[i]]
                still.append(i)
                continue
            tok = choose(logits[j], rows[i].how, banned)  # 2. this row's own choice
            if tok == eos:  # 3. done
                continue
            out[i].append(tok)
            feed[i] = tok
            if len(out[i]) < rows[i].budget:
                still.append(i)
        active = still
    return out
