"""The post-training app's word-level LSTM language model:
Embedding(V, 64) -> LSTM(64 -> 128) -> Linear(128 -> V).

Training runs whole sequences (`forward`); serving runs one token at a time (`LSTMStep`, exported to
ONNX), keeping the hidden and cell state outside the graph so the handler's loop owns it per request.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


class TinyLSTMLM(nn.Module):
    def __init__(self, vocab_size: int, embed_dim: int = 64, hidden_size: int = 128):
        super().__init__()
        self.vocab_size, self.hidden_size = vocab_size, hidden_size
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_size, num_layers=1, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, tokens: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None):
        """tokens (B, T) int64 -> logits (B, T, V), (h, c) each (1, B, hidden)."""
        out, state = self.lstm(self.embed(tokens), state)
        return self.head(out), state


class LSTMStep(nn.Module):
    """One step for serving: tokens (B, 1), h (1, B, H), c (1, B, H) -> logits (B, V), h, c."""

    def __init__(self, lm: TinyLSTMLM):
        super().__init__()
        self.lm = lm

    def forward(self, tokens: torch.Tensor, h: torch.Tensor, c: torch.Tensor):
        logits, (h, c) = self.lm(tokens, (h, c))
        return logits[:, -1], h, c


def numpy_step(lm: TinyLSTMLM):
    """The torch network as the serving loop's `step` (numpy in, numpy out): trainers and tests use it to
    generate exactly as the handler does with the ONNX step."""
    step = LSTMStep(lm).eval()

    def run(tokens, h, c):
        with torch.no_grad():
            out = step(torch.from_numpy(tokens), torch.from_numpy(np.ascontiguousarray(h)),
                       torch.from_numpy(np.ascontiguousarray(c)))
        return tuple(x.numpy() for x in out)

    return run
