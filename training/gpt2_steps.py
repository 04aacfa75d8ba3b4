"""The optimiser loop gpt2_qa's pre-training and SFT share: rows of token ids with a weight per predicted token.

A row is (ids, n_first, first_weight): the first `n_first` tokens are context (their prediction weighted
`first_weight`, 0 for "not trained on"), the rest is what the row teaches (weight 1). SFT uses it for
prompt -> answer (a small weight on the prompt: the model also learns to read it), the copy drills of
pre-training for text -> the same text again. One loss, one schedule, one progress bar for both.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Callable

import torch
from tqdm import tqdm


@dataclass
class Row:
    ids: list[int]
    n_first: int
    first_weight: float = 0.0


def pad(rows: list[Row], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(ids, attention_mask, weights) right-padded; weights[r, j] weighs predicting ids[r, j] from ids[r, :j].
    Padding (and the first token, which nothing predicts) has weight 0."""
    width = max(len(r.ids) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    weights = torch.zeros((len(rows), width))
    for i, r in enumerate(rows):
        n = len(r.ids)
        ids[i, :n], mask[i, :n] = torch.tensor(r.ids), 1
        weights[i, 1:r.n_first] = r.first_weight
        weights[i, r.n_first:n] = 1.0
    return ids, mask, weights


def weighted_loss(model, ids: torch.Tensor, mask: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss to minimise, mean cross-entropy on the taught tokens alone, for the progress bar). Both tensors:
    a float() here would split a compiled graph in two."""
    logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]
    ce = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), ids[:, 1:].reshape(-1),
                                           reduction="none").view(ids.size(0), -1)
    w = weights[:, 1:]
    taught = w == 1.0
    return (ce * w).sum() / (w > 0).sum(), (ce.detach() * taught).sum() / taught.sum().clamp(min=1)


def cosine(warmup: int, steps: int, floor: float = 0.05) -> Callable[[int], float]:
    """Linear warm-up, then cosine decay to `floor` x the peak learning rate."""
    return lambda s: min(1.0, (s + 1) / warmup) * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps))))


# torch.compile (inductor) fuses the small model's many elementwise ops (layer norms, GELU, softmax, the loss):
# measured 0.37 -> 0.29 s per step of 32 x ~160 tokens on the reference machine, after ~60-70 s of compiling.
# That repays itself only on long runs; short ones (the tests' --max-steps 4) stay eager.
COMPILE_MIN_STEPS = 400


def loss_function(steps: int) -> Callable:
    """weighted_loss, compiled when `steps` repay the compile time; eager where compiling is impossible
    (no C compiler on the machine) — the same loss either way, so a run never fails for want of speed."""
    if steps < COMPILE_MIN_STEPS or os.environ.get("GENAI_SERVE_NO_COMPILE"):
        return weighted_loss
    compiled = torch.compile(weighted_loss, dynamic=True)  # rows vary in length: one graph for all widths

    def guarded(*args):
        nonlocal compiled
        try:
            return compiled(*args)
        except Exception as err:  # noqa: BLE001 - a compiler failure: fall back once, say so
            if compiled is weighted_loss:
                raise
            print(f"torch.compile unavailable ({type(err).__name__}: {str(err)[:120]}); training eagerly", flush=True)
            compiled = weighted_loss
            return weighted_loss(*args)

    return guarded


class WeightAverage:
    """The running mean of a model's weights over the steps it is fed (stochastic weight averaging): the mean of
    nearby points on the end of a trajectory often sits in a flatter region than any one of them."""

    def __init__(self, model):
        self.model, self.n = model, 0
        self.mean = {name: p.detach().clone() for name, p in model.named_parameters()}

    @torch.no_grad()
    def update(self) -> None:
        self.n += 1
        for name, p in self.model.named_parameters():
            self.mean[name].add_(p.detach() - self.mean[name], alpha=1.0 / self.n)

    @torch.no_grad()
    def apply(self) -> None:
        for name, p in self.model.named_parameters():
            p.copy_(self.mean[name])


def train(model, next_rows: Callable[[int], list[Row]], pad_id: int, steps: int, lr: float, warmup: int = 20,
          desc: str = "train", stop_below: float | None = None, min_steps: int = 0,
          average_from: float | None = None, average_every: int = 10) -> dict:
    """Up to `steps` AdamW steps on next_rows(step); returns the taught-token loss (smoothed), the steps taken and
    the seconds spent. With `stop_below`, the rate stays at its peak after warm-up (no decay) and training stops
    once the smoothed taught loss is below it (after `min_steps`): a transition that comes at a different step
    for different data (the copy drills' induction head) is waited for, not cut off by a schedule. With
    `average_from` (a fraction of `steps`), the model ends with the mean of its weights taken every
    `average_every` steps from then on."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.98), weight_decay=0.01)
    # A quick run (--max-steps 4) warms up for one step, not 20: its model must still move off its random start.
    warm = max(1, min(warmup, steps // 20))
    shape = (lambda s: min(1.0, (s + 1) / warm)) if stop_below is not None else cosine(warm, steps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, shape)
    started, smooth, loss_of, taken = time.perf_counter(), None, loss_function(steps), 0
    average, average_start = None, None if average_from is None else int(average_from * steps)
    model.train()
    with tqdm(range(steps), desc=desc, unit="step", mininterval=2) as bar:
        for step in bar:
            if stop_below is not None and smooth is not None and step >= max(min_steps, 50) and smooth < stop_below:
                break
            taken = step + 1
            loss, taught = loss_of(model, *pad(next_rows(step), pad_id))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            taught = float(taught)
            smooth = taught if smooth is None else 0.95 * smooth + 0.05 * taught
            if step % 20 == 0:
                bar.set_postfix(taught_loss=f"{smooth:.3f}")
            if average_start is not None and step >= average_start and (step - average_start) % average_every == 0:
                average = average or WeightAverage(model)
                average.update()
    if average is not None:
        average.apply()
    model.eval()
    return {"steps": taken, "final_loss": round(smooth or float("nan"), 4), "seconds": round(time.perf_counter() - started, 1),
            **({"averaged_checkpoints": average.n} if average is not None else {})}
