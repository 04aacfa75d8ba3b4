"""Choosing the next token from a row of scores (log-probabilities or logits): greedy or sampled.

Shared by the bigram and the LSTM so both treat temperature, top_k, ties and seeds the same way:
  greedy   argmax; ties go to the lowest id (the sps-genai app: the word first seen in the corpus; </s> before words)
  sample   softmax(scores / temperature) over the top_k highest scores (all when top_k is None), one
           uniform draw from the request's own generator, inverse CDF in float64
`banned` ids (<s>, <unk>) are never chosen: a generator should not emit "<unk>" as text.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Decoding:
    """How one request picks tokens. rng is that request's own generator (None for greedy)."""

    greedy: bool = True
    temperature: float = 1.0
    top_k: int | None = None
    rng: np.random.Generator | None = None


def choose(scores: np.ndarray, how: Decoding, banned: tuple[int, ...] = ()) -> int:
    s = np.array(scores, dtype=np.float64)  # a copy: the caller's row stays untouched
    if banned:
        s[list(banned)] = -np.inf
    if how.greedy:
        return int(np.argmax(s))  # first maximum: the lowest id wins ties
    s /= how.temperature
    if how.top_k is not None and how.top_k < s.size:
        keep = np.argsort(-s, kind="stable")[: how.top_k]  # stable: ties at the cut keep the lower ids
        kept = np.full_like(s, -np.inf)
        kept[keep] = s[keep]
        s = kept
    p = np.exp(s - s.max())
    cdf = np.cumsum(p)
    # u * total < total, so the first index whose cdf exceeds it always has p > 0 (never a banned id)
    return int(np.searchsorted(cdf, how.rng.random() * cdf[-1], side="right"))
