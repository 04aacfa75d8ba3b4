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

    def token_bytes(self, token: int) -> bytes:
        """One token's bytes (GPT-2's byte-level alphabet undone; a special token's text as UTF-8)."""
        piece = self.fast.id_to_token(token) or ""
        table = _byte_decoder()
        if all(ch in table for ch in piece):
            return bytes(table[ch] for ch in piece)
        return piece.encode()

    def token_text(self, token: int) -> str:
        return self.token_bytes(token).decode("utf-8", errors="replace")


def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level BPE alphabet: each byte is drawn as one printable character."""
    global _BYTES
    if _BYTES is None:
        bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
        cs = bs[:]
        n = 0
        for b in range(256):
            if b not in bs:
                bs.append(b)
                cs.append(256 + n)
                n += 1
        _BYTES = {chr(c): b for b, c in zip(bs, cs)}
    return _BYTES


_BYTES: dict[str, int] | None = None
