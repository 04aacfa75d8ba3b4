"""The batched generate loop with a KV cache: every row of a batch (a request, or one of its num_responses)
advances one token per network call.

`step(input_ids (n, t), attention_mask (n, past + t), position_ids (n, t), past) -> (logits (n, t, V), present)`
is one call of the exported decoder (onnx_step.OnnxDecoder; past/present are lists of (n, heads, len, dim)
arrays). The loop:
  1. left-pads the prompts to one length; the attention mask hides the pads and position ids count only real
     tokens, so a padded row computes what it would alone;
  2. runs the whole prompt block once (empty past), then feeds each row's chosen token with the returned
     cache (one token per call: the cost per token does not grow with the text);
  3. each row picks its token from its own logits with its own settings and generator (temperature 0 =
     greedy; else temperature, top_k, top_p, one uniform draw from the row's generator), so a seed gives
     the same text alone or in any batch;
     A row under a grammar (genai_serve/gpt2/grammar.py) first has its logits masked to the tokens its grammar
     admits; a row asking for logprobs records, per token, the chosen token's log-probability and the k most
     likely ones, from the distribution it was sampled from (after temperature, top_k, top_p and the mask;
     greedy rows: the masked logits' softmax at temperature 1);
  4. a row stops at end-of-text, its max_new_tokens, or once its grammar's text is complete; finished rows
     leave the batch (their cache rows are dropped), so a batch costs no more calls than its longest row;
  5. rows may also join a running batch (DecodeBatch.prefill, then the caches are left-padded to one length)
     and leave it at any step: the step scheduler (genai_serve/scheduler.py) admits requests this way.
No torch or TorchServe import.
"""
from __future__ import annotations

import logging

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

Step = Callable[[np.ndarray, np.ndarray, np.ndarray, list | None], tuple[np.ndarray, list]]
OnToken = Callable[["Row", int], None]


log = logging.getLogger(__name__)

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
    finished: bool = False  # end-of-text, budget, or a stop sequence (set by the caller)
    stopped_at_stop: bool = False  # a stop sequence ended it (the caller checks them on the text)
    text: str | None = None  # the text cut before its stop sequence (None: decode `tokens`)
    last: int | None = None  # the latest chosen token
    grammar: Any = None  # a grammar.Constraint: masks this row's logits and ends it when its text is complete
    logprobs: int | None = None  # None: none recorded; k: the chosen token's and the k most likely (0..20)
    token_logprobs: list[tuple[int, float, list[tuple[int, float]]]] = field(default_factory=list)

    @property
    def finish_reason(self) -> str:
        return "stop" if (self.stopped_at_eos or self.stopped_at_stop) else "length"


def choose(logits: np.ndarray, row: Row, allowed: np.ndarray | None = None) -> int:
    """One token from one row of logits (float64 for a stable softmax / CDF); `allowed` masks the vocabulary."""
    if allowed is not None:
        if allowed.size < logits.size:  # the model's vocabulary may be padded past the tokenizer's
            allowed = np.concatenate([allowed, np.zeros(logits.size - allowed.size, bool)])
        logits = np.where(allowed, logits, -np.inf)
    if row.temperature <= 0:
        tok = int(np.argmax(logits))  # first maximum, as torch.argmax in HF's greedy search
        if row.logprobs is not None:
            s = logits.astype(np.float64)
            _record(row, tok, s - s.max() - np.log(np.exp(s - s.max()).sum()))
        return tok
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
    tok = int(min(np.searchsorted(cdf, row.rng.random() * cdf[-1], side="right"), p.size - 1))
    if row.logprobs is not None:
        with np.errstate(divide="ignore"):
            _record(row, tok, np.log(p))
    return tok


def _record(row: Row, tok: int, logp: np.ndarray) -> None:
    """The chosen token's log-probability and the row's k most likely tokens (only those with probability > 0:
    JSON has no -infinity)."""
    top = []
    if row.logprobs:
        k = min(row.logprobs, logp.size)
        idx = np.argpartition(-logp, k - 1)[:k]
        idx = idx[np.argsort(-logp[idx], kind="stable")]
        top = [(int(i), float(logp[i])) for i in idx if np.isfinite(logp[i])]
    row.token_logprobs.append((tok, float(logp[tok]), top))


class DecodeBatch:
    """Rows decoding together with one KV cache, which rows may join (after their prompt block) and leave between
    steps: the continuous batching of vLLM/TGI, on numpy arrays.

    The cache holds each row's real tokens right-aligned; `mask` (n, L) marks them, so a row that joined with a
    shorter cache is left-padded and computes what it would alone. Positions count real tokens only. Leading
    columns that no row uses any more are trimmed when rows leave.
    """

    def __init__(self, step: Step, eos: int, pad: int | None = None):
        self.step, self.eos = step, eos
        self.pad = eos if pad is None else pad
        self.rows: list[Row] = []
        self.past: list | None = None  # per layer key/value arrays (n, heads, L, head_dim)
        self.mask: np.ndarray | None = None  # (n, L) int64
        self.last: np.ndarray | None = None  # (n,) each row's latest token, fed at the next decode

    def __len__(self) -> int:
        return len(self.rows)

    def prefill(self, rows: list[Row], on_token: OnToken | None = None) -> None:
        """Run the rows' prompts as one left-padded block, choose each row's first token, and add the rows that
        continue to the batch."""
        rows = [r for r in rows if r.max_new_tokens > 0]
        if not rows:
            return
        width = max(len(r.prompt) for r in rows)
        ids = np.full((len(rows), width), self.pad, np.int64)
        mask = np.zeros((len(rows), width), np.int64)
        for j, row in enumerate(rows):
            ids[j, width - len(row.prompt):] = row.prompt
            mask[j, width - len(row.prompt):] = 1
        logits, present = self.step(ids, mask, np.maximum(np.cumsum(mask, axis=1) - 1, 0), None)
        keep = [j for j, row in enumerate(rows) if self._advance(row, logits[j, -1], on_token)]
        if keep:
            self._join([rows[j] for j in keep], [p[keep] for p in present], mask[keep])

    def decode(self, on_token: OnToken | None = None, only: set[int] | None = None) -> None:
        """One network call: every row in the batch (or those whose id() is in `only`) feeds its latest token and
        chooses the next one. Rows left out keep their cache and get a masked (empty) column, so their positions
        and attention are as if the step had not happened."""
        if not self.rows:
            return
        idx = [j for j, row in enumerate(self.rows) if only is None or id(row) in only]
        if not idx:
            return
        if len(idx) == len(self.rows):
            positions = self.mask.sum(axis=1, keepdims=True)  # the fed token's position = real tokens before it
            mask = np.concatenate([self.mask, np.ones((len(self.rows), 1), np.int64)], axis=1)
            logits, self.past = self.step(self.last[:, None], mask, positions, self.past)
            self.mask = mask
        else:
            sub = self.mask[idx]
            logits, present = self.step(self.last[idx][:, None], np.concatenate([sub, np.ones((len(idx), 1), np.int64)], 1),
                                        sub.sum(axis=1, keepdims=True), [p[idx] for p in self.past])
            column = np.zeros((len(self.rows), 1), np.int64)
            column[idx] = 1
            self.mask = np.concatenate([self.mask, column], axis=1)
            past = []
            for p, q in zip(self.past, present):
                grown = np.concatenate([p, np.zeros_like(p[:, :, :1])], axis=2)
                grown[idx] = q
                past.append(grown)
            self.past = past
        for i, j in enumerate(idx):
            self._advance(self.rows[j], logits[i, -1], on_token)
        self.last = np.array([row.last for row in self.rows], np.int64)
        self.retain(lambda row: not row.finished)

    def retain(self, keep: Callable[[Row], bool]) -> None:
        """Drop the rows for which keep(row) is False (finished, or their request was abandoned)."""
        idx = [j for j, row in enumerate(self.rows) if keep(row)]
        if len(idx) == len(self.rows):
            return
        self.rows = [self.rows[j] for j in idx]
        if not idx:
            self.past = self.mask = self.last = None
            return
        self.past = [p[idx] for p in self.past]
        self.mask, self.last = self.mask[idx], self.last[idx]
        first = int(np.argmax(self.mask.any(axis=0)))  # leading columns no row uses any more
        if first:
            self.past = [p[:, :, first:] for p in self.past]
            self.mask = self.mask[:, first:]

    def _advance(self, row: Row, logits: np.ndarray, on_token: OnToken | None) -> bool:
        """Choose the row's next token; False once the row is finished (end-of-text or its budget)."""
        allowed = row.grammar.allowed(row.max_new_tokens - len(row.tokens)) if row.grammar is not None else None
        tok = choose(logits, row, allowed)  # this row's own settings, generator and grammar
        if tok == self.eos:
            # under a grammar, end-of-text is a stop only where the grammar's text is whole, else it ends unfinished
            row.stopped_at_eos = row.grammar is None or row.grammar.complete
            row.finished = True
            return False
        row.tokens.append(tok)
        row.last = tok
        if row.grammar is not None:
            row.grammar.accept(tok)
            if row.grammar.complete:  # the grammar's text is whole: the row ends as at end-of-text
                row.stopped_at_eos = row.finished = True
            elif row.grammar.error is not None:  # never claim "stop" for text the grammar did not accept
                log.warning("a grammar refused its row's token %d: %s; the row ends unfinished", tok, row.grammar.error)
                row.finished = True
        if on_token:
            on_token(row, tok)
        row.finished = row.finished or len(row.tokens) >= row.max_new_tokens
        return not row.finished

    def _join(self, rows: list[Row], past: list, mask: np.ndarray) -> None:
        last = np.array([r.last for r in rows], np.int64)
        if not self.rows:
            self.rows, self.past, self.mask, self.last = list(rows), past, mask, last
            return
        width = max(self.mask.shape[1], mask.shape[1])
        left = lambda a, axis: np.pad(a, [(width - a.shape[axis], 0) if d == axis else (0, 0) for d in range(a.ndim)])
        self.past = [np.concatenate([left(a, 2), left(b, 2)]) for a, b in zip(self.past, past)]
        self.mask = np.concatenate([left(self.mask, 1), left(mask, 1)])
        self.last = np.concatenate([self.last, last])
        self.rows += rows


def generate(step: Step, rows: list[Row], eos: int, pad: int | None = None,
             on_token: Callable[[int, int], None] | None = None) -> list[Row]:
    """Decode `rows` to the end as one batch (every row starts together): fill each row's `tokens`.
    on_token(row index, token id) is called as each token is chosen (streaming)."""
    index = {id(row): i for i, row in enumerate(rows)}
    callback = (lambda row, tok: on_token(index[id(row)], tok)) if on_token else None
    batch = DecodeBatch(step, eos, pad)
    batch.prefill(rows, callback)
    while len(batch):
        batch.decode(callback)
    return rows
