"""Word tokenisation, detokenisation and the vocabulary shared by the bigram and the LSTM.

The sps-genai app's tokeniser: words and single punctuation marks, lower-cased, punctuation kept as
tokens, every text wrapped as <s> ... </s>. The sps-genai app matched words with [A-Za-z0-9_]+, which splits
accented words ("Dantès" -> "dant", "s": the è matched neither alternative and was dropped); we match
\\w+ (Unicode letters), which is the same on ASCII text and keeps "dantès" whole.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

TOKEN_RE = re.compile(r"\w+|[^\w\s]")
BOS, EOS, UNK = "<s>", "</s>", "<unk>"
SPECIALS = (BOS, EOS, UNK)  # ids 0, 1, 2 in every vocabulary, as in the sps-genai app


def tokenize(text: str) -> list[str]:
    return TOKEN_RE.findall(text.lower())


def is_punct(token: str) -> bool:
    return TOKEN_RE.fullmatch(token) is not None and not token[0].isalnum() and token[0] != "_"


def detokenize(tokens: Iterable[str]) -> str:
    """Join with spaces, attaching punctuation to the word before it (the sps-genai app: "dumas." not "dumas .")."""
    out = ""
    for tok in tokens:
        out += tok if (out and is_punct(tok)) or not out else " " + tok
    return out


class Vocab:
    """Specials first, then words in first-occurrence order (the sps-genai app's order: greedy ties go to the first)."""

    def __init__(self, tokens: list[str]):
        if tuple(tokens[:3]) != SPECIALS:
            raise ValueError(f"a vocabulary starts with {SPECIALS}, got {tokens[:3]}")
        self.tokens = list(tokens)
        self.index = {t: i for i, t in enumerate(self.tokens)}
        if len(self.index) != len(self.tokens):
            raise ValueError("duplicate tokens in vocabulary")
        self.bos, self.eos, self.unk = 0, 1, 2

    @classmethod
    def build(cls, texts: Iterable[list[str]], min_freq: int = 1) -> "Vocab":
        """Words seen at least `min_freq` times; rarer ones become <unk> (so <unk> gets real counts)."""
        counts: Counter = Counter()
        order: dict[str, None] = {}
        for toks in texts:
            counts.update(toks)
            order.update(dict.fromkeys(toks))
        words = [w for w in order if counts[w] >= min_freq and w not in SPECIALS]
        return cls([*SPECIALS, *words])

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self.index

    def id(self, token: str) -> int:
        return self.index.get(token, self.unk)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        return [self.id(t) for t in tokens]

    def encode_text(self, tokens: list[str]) -> list[int]:
        """One training text: <s> tokens </s>."""
        return [self.bos, *self.encode(tokens), self.eos]
