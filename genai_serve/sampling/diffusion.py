"""Reverse diffusion, the sps-genai app's deterministic DDIM-like loop, in numpy,
written as one step (`reverse_step`, like a diffusers scheduler's `step()`): serving's engine
(genai_serve/engines/images.py) calls it for rows of many requests at once, and training, benchmarks and the
seed-app reproduction call it in a plain loop:

    x = noise
    for step in range(steps):
        x, images = reverse_step(predict_noise, x, step, steps)   # images: the predicted clean images

`predict_noise(x, noise_variance) -> noise` may be an ONNX Runtime session or a torch net wrapped in numpy.
Per-row step counts: every row follows its own t grid (1, 1 - 1/S, ..., 1/S). Nothing here mixes rows, and each
row's schedule values are computed from its own step count alone, so a row's result equals running it alone
whenever predict_noise is batch-invariant (ONNX Runtime CPU is, for this UNet).
"""
from typing import Callable

import numpy as np


def offset_cosine_schedule(t, min_signal_rate: float = 0.02, max_signal_rate: float = 0.95):
    """t in [0, 1] (array) -> (noise_rates, signal_rates); t = 0 -> signal max_signal_rate, t = 1 -> min.

    Computed in t's floating dtype (float32 arrays stay float32); signal^2 + noise^2 = 1.
    """
    t = np.asarray(t)
    dtype = t.dtype if np.issubdtype(t.dtype, np.floating) else np.float64
    t = t.astype(dtype, copy=False)
    start_angle = np.arccos(np.asarray(max_signal_rate, dtype=dtype))
    end_angle = np.arccos(np.asarray(min_signal_rate, dtype=dtype))
    angles = start_angle + t * (end_angle - start_angle)
    return np.sin(angles), np.cos(angles)


def _rates_for(step, steps, schedule):
    """Per-row (noise, signal, next_noise, next_signal) at each row's own iteration, each (N, 1, 1, 1) float32.

    `step` and `steps` are per-row ints (or `step` one int for all rows). Values are computed once per distinct
    (step, step count) pair on a 1-element array, then gathered, so a row's values never depend on which other
    rows share the batch, nor on the iteration the others are at.
    """
    steps = np.asarray(steps, dtype=np.int64)
    step = np.broadcast_to(np.asarray(step, dtype=np.int64), steps.shape)
    out = [np.empty((len(steps), 1, 1, 1), np.float32) for _ in range(4)]
    for k, s in {(int(a), int(b)) for a, b in zip(step, steps)}:
        rows = (step == k) & (steps == s)
        step_size = 1.0 / float(s)
        t = np.full((1, 1, 1, 1), 1.0 - k * step_size, np.float32)
        t_next = t - np.float32(step_size)
        noise, signal = schedule(t)
        next_noise, next_signal = schedule(t_next)
        for buf, val in zip(out, (noise, signal, next_noise, next_signal)):
            buf[rows] = val
    return out


def reverse_step(predict_noise, x: np.ndarray, step, steps, schedule: Callable = offset_cosine_schedule):
    """One reverse iteration for rows that may be at different iterations of different step counts.

    x (B, C, H, W) float32; step: each row's iteration index (0-based) or one int; steps: each row's count or one
    int.
    Returns (x_next, pred_images), both (B, C, H, W). One network call for every row: the UNet takes the
    noise variance per sample, so rows at different noise levels share it (the step scheduler relies on this).
    """
    # 1. rates at t = 1 - step / S and at the next time t - 1 / S, per row (an int applies to every row)
    steps = np.broadcast_to(np.asarray(steps, dtype=np.int64), (len(x),))
    noise_rates, signal_rates, next_noise, next_signal = _rates_for(step, steps, schedule)
    # 2. the network sees the noise variance
    pred_noise = np.asarray(predict_noise(x, noise_rates ** 2), dtype=np.float32)
    # 3. pred_images = (x - noise * pred_noise) / signal
    pred = (x - noise_rates * pred_noise) / signal_rates
    # 4. re-noise towards the next time: x = next_signal * pred_images + next_noise * pred_noise
    return next_signal * pred + next_noise * pred_noise, pred


def denormalize(x: np.ndarray, mean, std) -> np.ndarray:
    """clip(x * std + mean, 0, 1); mean/std are scalars or per-channel sequences (channel axis 1)."""
    x = np.asarray(x, dtype=np.float32)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean = np.asarray(mean, dtype=np.float32)
    std = np.asarray(std, dtype=np.float32)
    if mean.ndim == 1:
        mean = mean.reshape(shape)
    if std.ndim == 1:
        std = std.reshape(shape)
    return np.clip(x * std + mean, 0.0, 1.0)
