"""The minibatch loop every trainer shares: shuffled drop-last batches for `epochs` passes, stopping after
`max_steps`, one tqdm bar, and per-epoch stats (the last epoch's means are what checkpoints report)."""
from __future__ import annotations

import torch
from tqdm import tqdm


class Minibatches:
    def __init__(self, n: int, batch_size: int, epochs: int, max_steps: int | None = None,
                 generator: torch.Generator | None = None, desc: str = "train"):
        self.n, self.epochs, self.generator, self.desc = n, epochs, generator, desc
        self.batch_size = min(batch_size, n)
        # drop_last: a ragged final batch of a few images gives noisy BatchNorm statistics and loss spikes
        self.steps_per_epoch = n // self.batch_size
        total = epochs * self.steps_per_epoch
        self.total = total if max_steps is None else min(max_steps, total)
        self.steps = 0
        self.history: dict[int, list] = {}

    def __iter__(self):
        """Yields (epoch, indices of one batch)."""
        with tqdm(total=self.total, desc=self.desc, unit="step") as self.bar:
            for epoch in range(self.epochs):
                order = torch.randperm(self.n, generator=self.generator)[: self.steps_per_epoch * self.batch_size]
                for idx in order.view(self.steps_per_epoch, self.batch_size):
                    if self.steps >= self.total:
                        return
                    yield epoch, idx
                    self.steps += 1
                    self.bar.update(1)

    def record(self, epoch: int, stats: tuple, **shown) -> None:
        """Keep this step's stats for its epoch and show `shown` on the progress bar."""
        self.history.setdefault(epoch, []).append(stats)
        self.bar.set_postfix(epoch=epoch + 1, **shown)

    def last_epoch(self) -> list:
        return self.history[max(self.history)]
