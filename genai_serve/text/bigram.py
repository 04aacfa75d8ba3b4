"""The sps-genai app's bigram language model, as plain Python + numpy: fit, score, generate, save.

P(w | p) = (c(p, w) + alpha) / (c(p) + alpha * V), Laplace smoothing at alpha = 1, over the whole
vocabulary V (specials included, as in the sps-genai app). Every text is <s> tokens </s>.

Generation (`generate`): `length` is the total number of tokens returned, start words included (as in the
sps-genai app); generation stops early when </s> is chosen. An unknown start word maps to <unk>: with no <unk>
counts (the sps-genai app's corpus) its row is uniform, greedy picks </s> (the lowest id) and only the start word
comes back, exactly as the sps-genai app did; a model fitted with min_freq > 1 learns <unk>'s row from its rare
words and continues from it. The start words are returned as the client wrote them (lower-cased), never as "<unk>".
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np

from genai_serve.text.sampling import Decoding, choose
from genai_serve.text.tokenize import Vocab

FORMAT = "genai-serve-bigram/1"


class BigramModel:
    def __init__(self, vocab: Vocab, counts: dict[int, dict[int, int]], alpha: float = 1.0):
        self.vocab, self.alpha = vocab, float(alpha)
        self.counts = {int(p): {int(w): int(c) for w, c in row.items()} for p, row in counts.items()}
        self.totals = {p: sum(row.values()) for p, row in self.counts.items()}

    @classmethod
    def fit(cls, texts: list[list[str]], min_freq: int = 1, alpha: float = 1.0) -> "BigramModel":
        vocab = Vocab.build(texts, min_freq)
        counts: dict[int, Counter] = defaultdict(Counter)
        for toks in texts:
            ids = vocab.encode_text(toks)
            for p, w in zip(ids, ids[1:]):
                counts[p][w] += 1
        return cls(vocab, counts, alpha)

    # -- probabilities ---------------------------------------------------------------------------
    def row_logprobs(self, prev: int) -> np.ndarray:
        """log P(. | prev) over the whole vocabulary, float64 (V,)."""
        v = len(self.vocab)
        row = np.full(v, self.alpha)
        for w, c in self.counts.get(prev, {}).items():
            row[w] += c
        return np.log(row / (self.totals.get(prev, 0) + self.alpha * v))

    def logprob(self, prev: int, nxt: int) -> float:
        c = self.counts.get(prev, {}).get(nxt, 0)
        return math.log((c + self.alpha) / (self.totals.get(prev, 0) + self.alpha * len(self.vocab)))

    def perplexity(self, texts: list[list[str]]) -> float:
        """exp of the mean negative log-probability of every token after <s>, </s> included."""
        total, n = 0.0, 0
        for toks in texts:
            ids = self.vocab.encode_text(toks)
            total += sum(self.logprob(p, w) for p, w in zip(ids, ids[1:]))
            n += len(ids) - 1
        return math.exp(-total / n)

    # -- generation ------------------------------------------------------------------------------
    def generate(self, start: list[str], length: int, how: Decoding) -> list[str]:
        """start (tokenised, non-empty) + generated tokens, at most `length` in all."""
        out = list(start)
        prev = self.vocab.id(start[-1])
        banned = (self.vocab.bos, self.vocab.unk)
        while len(out) < length:
            nxt = choose(self.row_logprobs(prev), how, banned)
            if nxt == self.vocab.eos:
                break
            out.append(self.vocab.tokens[nxt])
            prev = nxt
        return out

    # -- persistence (a torch-free JSON artifact) ----------------------------------------------------
    def to_json(self) -> dict:
        return {"format": FORMAT, "alpha": self.alpha, "vocab": self.vocab.tokens,
                "counts": {str(p): [[w, c] for w, c in sorted(row.items())] for p, row in sorted(self.counts.items())}}

    @classmethod
    def from_json(cls, obj: dict) -> "BigramModel":
        if obj.get("format") != FORMAT:
            raise ValueError(f"not a bigram table: format {obj.get('format')!r}, expected {FORMAT!r}")
        counts = {int(p): {int(w): int(c) for w, c in pairs} for p, pairs in obj["counts"].items()}
        return cls(Vocab(obj["vocab"]), counts, obj["alpha"])
