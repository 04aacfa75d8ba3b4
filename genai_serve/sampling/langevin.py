"""Langevin dynamics on an energy model, the seed's procedure (SEEDS.md 1.4 "Langevin step").

Batching several requests into one call gives each request the same result as running it alone
(DESIGN.md principle 9), up to the ~1e-7 batch-variance of eager torch convolutions:
  * noise: pass `generators=[(gen_a, rows_a), (gen_b, rows_b), ...]` in row order; each step, each request
    draws `randn((rows, C, H, W), generator=its_gen)`, exactly what it draws alone with `generator=its_gen`;
  * steps: pass a (B,) tensor; a row whose count is reached stops changing (and stops being evaluated).
"""
from __future__ import annotations  # annotations stay unevaluated: importing this module reads nothing of torch

from typing import Callable, Optional, Sequence, Tuple, Union

import torch

# A string, so that the diffusion worker, which imports this package but never runs Langevin, does not load torch
# by defining the alias (genai_serve/worker_site/sitecustomize.py defers torch until first use).
Number = Union[float, int, "torch.Tensor"]


def _per_row(value: Number, batch: int, like: torch.Tensor) -> torch.Tensor:
    """A scalar or a (B,) tensor -> a tensor broadcastable against (B, C, H, W)."""
    t = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    if t.ndim == 0:
        return t
    if t.shape != (batch,):
        raise ValueError(f"per-row value must be a scalar or have shape ({batch},), got {tuple(t.shape)}")
    return t.view(batch, *([1] * (like.ndim - 1)))


def _draw_noise(step: int, x: torch.Tensor, generator, generators, noise_fn) -> torch.Tensor:
    if noise_fn is not None:
        eps = noise_fn(step)
        if eps.shape != x.shape:
            raise ValueError(f"noise_fn({step}) returned shape {tuple(eps.shape)}, expected {tuple(x.shape)}")
        return eps.to(dtype=x.dtype, device=x.device)
    if generators is not None:
        return torch.cat([torch.randn((rows, *x.shape[1:]), generator=g, dtype=x.dtype, device=x.device)
                          for g, rows in generators], dim=0)
    return torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)


def descend(energy_fn, noisy: torch.Tensor, step_size: Number, grad_clamp: float) -> torch.Tensor:
    """Steps 2-4 of one Langevin step on already-noised images (N, C, H, W); returns the moved images."""
    with torch.enable_grad():
        xa = noisy.detach().requires_grad_(True)
        # 2. g = d(sum E(x)) / dx (grad_outputs = ones, as the seed)
        (g,) = torch.autograd.grad(energy_fn(xa).sum(), xa)
    # 3. g <- clamp(g, -grad_clamp, grad_clamp)
    g = torch.clamp(g, -grad_clamp, grad_clamp)
    # 4. x <- clamp(x - step_size * g, -1, 1)
    return torch.clamp(xa.detach() - step_size * g, -1.0, 1.0)


def langevin_step(energy_fn, x: torch.Tensor, eps: torch.Tensor, step_size: Number, noise: Number,
                  grad_clamp: float = 0.03) -> torch.Tensor:
    """One whole Langevin step for rows that all run it: x (N, C, H, W), eps its N(0, 1) draw; step_size and
    noise are scalars or tensors broadcastable against x (per row: (N, 1, 1, 1))."""
    # 1. x <- clamp(x + noise * N(0, 1), -1, 1)
    return descend(energy_fn, torch.clamp(x + noise * eps, -1.0, 1.0), step_size, grad_clamp)


def langevin(
    energy_fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    steps: Union[int, torch.Tensor],
    step_size: Number,
    noise: Number,
    generator: Optional[torch.Generator] = None,
    grad_clamp: float = 0.03,
    *,
    generators: Optional[Sequence[Tuple[torch.Generator, int]]] = None,
    noise_fn: Optional[Callable[[int], torch.Tensor]] = None,
) -> torch.Tensor:
    """Run Langevin steps on x (B, C, H, W) in [-1, 1]; returns the detached result.

    energy_fn: (N, C, H, W) -> (N,) energies (lower = more real); it is only called on rows still running.
    steps: an int, or a (B,) int tensor of per-row step counts.
    step_size, noise: scalars or (B,) tensors (per-row values, e.g. from different requests).
    Noise source, first given wins: `noise_fn(step) -> (B, C, H, W)` standard normal draws; `generators`, a list
    of (torch.Generator, row_count) covering the batch in order; `generator`; else the global RNG.
    Do not call under torch.inference_mode() (it needs autograd); torch.no_grad() is fine.
    """
    if torch.is_inference_mode_enabled():
        raise RuntimeError("langevin needs autograd: call it under torch.no_grad(), not torch.inference_mode()")
    batch = x.shape[0]
    if generators is not None and sum(rows for _, rows in generators) != batch:
        raise ValueError(f"generators cover {sum(r for _, r in generators)} rows, batch has {batch}")
    x = x.detach().clone()
    step_size = _per_row(step_size, batch, x)
    noise = _per_row(noise, batch, x)
    if isinstance(steps, torch.Tensor) and steps.ndim > 0:
        if steps.shape != (batch,):
            raise ValueError(f"steps must be an int or have shape ({batch},), got {tuple(steps.shape)}")
        row_steps = steps.to(device=x.device, dtype=torch.long)
    else:
        row_steps = torch.full((batch,), int(steps), dtype=torch.long, device=x.device)
    total = int(row_steps.max()) if batch else 0

    with torch.enable_grad():
        for step in range(total):
            active = row_steps > step  # (B,) rows still running
            all_active = bool(active.all())
            # 1. x <- clamp(x + noise * N(0, 1), -1, 1); every request draws its full-size noise every step it
            #    runs, as it would alone (drawing after a row stopped changes nothing: that row is frozen).
            eps = _draw_noise(step, x, generator, generators, noise_fn)
            noisy = torch.clamp(x + noise * eps, -1.0, 1.0)
            if not all_active:
                noisy = torch.where(active.view(-1, *([1] * (x.ndim - 1))), noisy, x)
            idx = None if all_active else active.nonzero().squeeze(1)
            ss = step_size if (step_size.ndim == 0 or idx is None) else step_size[idx]
            moved = descend(energy_fn, noisy if idx is None else noisy[idx], ss, grad_clamp)
            if idx is None:
                x = moved
            else:
                x = noisy.detach().clone()
                x[idx] = moved
    return x.detach()
