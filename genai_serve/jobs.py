"""One validated generation request, as the iterative image handlers pass it to their sampling loop.

It lives here, not in the handler files, because TorchServe loads a handler module by its one class: a second
class defined in handlers/<model>.py (even a dataclass) makes the model fail to load.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SamplingJob:
    seed: int
    num_samples: int
    steps: int
    layout: str = "grid"  # "grid" (one PNG) or "images" (one PNG per sample)
    step_size: float = 0.0  # Langevin only
    noise: float = 0.0  # Langevin only
    preview_every: int | None = None  # diffusion streaming: steps between previews; None = not streaming
    stream: bool = False  # NDJSON lines while sampling (diffusion)
    timeout_s: float | None = None  # the scheduler stops the request after this long (a 408 naming timeout_s)
