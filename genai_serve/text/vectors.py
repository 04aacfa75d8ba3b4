"""Word vectors in a spaCy pipeline directory: build it, load it, look words up, search the whole table.

The sps-genai app searched `for lex in nlp.vocab`, which visits only the lexemes created so far in the process
(spaCy issues #5633, #13002): results depended on the process's history. We search every row of the
vectors table with `Vectors.most_similar` (one 2-D query for a whole batch), so the same word always gets
the same neighbours. Lookups try the word as given, then lower-cased; a phrase is one key (no averaging).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def build_pipeline(words: list[str], matrix: np.ndarray, lang: str = "en"):
    """A blank spaCy pipeline whose vocabulary holds exactly these vectors (row i = words[i])."""
    import spacy
    from spacy.vectors import Vectors

    nlp = spacy.blank(lang)
    keys = [nlp.vocab.strings.add(w) for w in words]  # add the strings, so to_disk saves them
    nlp.vocab.vectors = Vectors(strings=nlp.vocab.strings, data=np.ascontiguousarray(matrix, np.float32), keys=keys)
    return nlp


class WordVectors:
    def __init__(self, nlp):
        self.nlp = nlp
        self.strings = nlp.vocab.strings
        self.table = nlp.vocab.vectors
        self.rows, self.dim = self.table.shape
        self.size = len(self.table.key2row)  # keys (several keys may share a row in packaged vectors)

    @classmethod
    def load(cls, path: Path | str) -> "WordVectors":
        import spacy

        return cls(spacy.load(path))

    def row(self, word: str) -> int | None:
        """The row of `word` (or of its lower-case form), None when neither is in the table."""
        for cand in dict.fromkeys((word, word.lower())):
            row = self.table.key2row.get(self.strings[cand])  # strings[str] hashes; it never adds
            if row is not None and row >= 0:
                return int(row)
        return None

    def vector(self, row: int) -> np.ndarray:
        return np.asarray(self.table.data[row], dtype=np.float32)

    def similarity(self, row_a: int, row_b: int) -> float:
        a, b = self.vector(row_a), self.vector(row_b)
        denom = float(np.linalg.norm(a) * np.linalg.norm(b))
        return float(a @ b / denom) if denom else 0.0

    def neighbours(self, rows: list[int], top_k: list[int], include_self: list[bool]) -> list[list[dict]]:
        """Nearest words by cosine over the whole table, for several query rows in one call."""
        if not rows:
            return []
        n = min(max(top_k) + 1, self.rows)  # one extra: the query's own row is dropped unless asked for
        queries = np.stack([self.vector(r) for r in rows])  # most_similar normalises it in place: a copy
        keys, best, scores = self.table.most_similar(queries, n=n)
        out = []
        for i, (row, k, keep_self) in enumerate(zip(rows, top_k, include_self)):
            hits = [{"token": self.strings[int(key)], "score": round(float(score), 4)}
                    for key, r, score in zip(keys[i], best[i], scores[i]) if keep_self or int(r) != row]
            out.append(hits[:k])
        return out
