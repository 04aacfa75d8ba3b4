"""The tokenizer as serving needs it: the `tokenizers` library on the exported tokenizer.json (no
transformers import in the worker: it would pull in torch, ~500 MB per worker, for nothing)."""
from __future__ import annotations

from pathlib import Path


class Tokenizer:
    def __init__(self, directory: Path):
        from tokenizers import Tokenizer as Fast

        self.fast = Fast.from_file(str(Path(directory) / "tokenizer.json"))

    def encode(self, text: str) -> list[int]:
        return self.fast.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        return self.fast.decode(ids, skip_special_tokens=True)
