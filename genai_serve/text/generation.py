"""One text-generation request (bigram and LSTM share the API): validated params -> what the models need.

Request {"start_word", "length", "mode"?, "temperature"?, "top_k"?, "seed"?} (the seed apps' bodies
work as they are). `start_word` may hold several words: all are kept and the model continues after the
last. `length` is the total number of tokens returned, start words included (as in the sps-genai app); if the start
already has `length` tokens or more it comes back unchanged. Greedy mode ignores temperature, top_k and
seed; sampled mode draws from the request's own generator, seeded by `seed` or by a fresh random seed
that the response returns, so any output can be reproduced.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass

import numpy as np

from genai_serve.errors import InputError
from genai_serve.text.sampling import Decoding
from genai_serve.text.tokenize import detokenize, tokenize


@dataclass
class GenerationRequest:
    start: list[str]  # the start words, tokenised (lower-cased, punctuation split off)
    length: int
    how: Decoding
    seed: int | None  # None in greedy mode

    @property
    def budget(self) -> int:
        """How many tokens the model may add."""
        return max(0, self.length - len(self.start))


def parse_generation(params) -> GenerationRequest:
    start = tokenize(params.start_word)
    if not start:
        raise InputError("start_word: contains no word or punctuation to start from (got only spaces)", "start_word")
    if params.mode == "greedy":
        return GenerationRequest(start, params.length, Decoding(greedy=True), None)
    seed = params.seed if params.seed is not None else secrets.randbits(32)
    how = Decoding(greedy=False, temperature=params.temperature, top_k=params.top_k, rng=np.random.default_rng(seed))
    return GenerationRequest(start, params.length, how, seed)


def response(model: str, req: GenerationRequest, generated: list[str]) -> dict:
    mode = "greedy" if req.how.greedy else "sample"
    return {"generated_text": detokenize([*req.start, *generated]), "model": model, "mode": mode, "seed": req.seed}
