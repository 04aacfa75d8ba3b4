"""Langevin dynamics on an energy model, the sps-genai app's procedure, as one step:
serving's engine (genai_serve/engines/images.py) calls it for rows of many requests at once (each drawing its own
noise), and training and benchmarks call it in a plain loop:

    for _ in range(steps):
        x = langevin_step(energy_fn, x, torch.randn(x.shape, generator=g), step_size, noise)

Call it under torch.no_grad() (it turns autograd on for the images alone), not under torch.inference_mode().
"""
from __future__ import annotations  # annotations stay unevaluated: importing this module reads nothing of torch

from typing import Union

import torch

# A string, so that the diffusion worker, which imports this package but never runs Langevin, does not load torch
# by defining the alias (genai_ops/worker_site/sitecustomize.py defers torch until first use).
Number = Union[float, int, "torch.Tensor"]


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
    if torch.is_inference_mode_enabled():
        raise RuntimeError("langevin_step needs autograd: call it under torch.no_grad(), not torch.inference_mode()")
    # 1. x <- clamp(x + noise * N(0, 1), -1, 1)
    return descend(energy_fn, torch.clamp(x + noise * eps, -1.0, 1.0), step_size, grad_clamp)
