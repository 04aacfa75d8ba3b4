"""Step engines for the image samplers: the diffusion reverse loop (ONNX Runtime UNet) and Langevin dynamics
(torch energy net). Each running request keeps its own images, iteration and random stream, so a seed gives the
same images whether the request ran alone, joined a running loop, or shared every step with others:
  * diffusion: starting noise from the request's own generator; the UNet takes each row's noise level, so rows
    at different iterations share one call (ONNX Runtime on CPU is batch-invariant for this graph);
  * Langevin: the request draws its own full-size noise every step, as it does alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from genai_serve.imaging import make_grid, png_base64, samples_body
from genai_serve.jobs import SamplingJob
from genai_serve.sampling.diffusion import denormalize, reverse_step
from genai_serve.scheduler import Update


@dataclass
class ImageState:
    job: SamplingJob
    x: Any  # (n, C, H, W): numpy for diffusion, a torch tensor for Langevin
    step: int = 0  # iterations done
    latest: Any = None  # diffusion: the latest predicted clean images (what previews and the final show)
    generator: Any = None  # Langevin: the request's torch generator


def _split(array, states):
    bounds = np.cumsum([s.job.num_samples for s in states])[:-1]
    return np.split(array, bounds) if isinstance(array, np.ndarray) else array.split([s.job.num_samples for s in states])


class DiffusionEngine:
    """Rows per UNet call are bounded by the scheduler's `step_rows` (models.yaml), the one cap: a step takes at
    most that many images, or one request alone."""

    def __init__(self, predict_noise, image_size: int, mean, std):
        self.predict_noise = predict_noise
        self.shape = (3, image_size, image_size)
        self.mean, self.std = mean, std

    def total_steps(self, job: SamplingJob) -> int:
        return job.steps

    def rows(self, job: SamplingJob) -> int:
        return job.num_samples

    def start(self, job: SamplingJob) -> ImageState:
        # N(0, 1) starting noise from the request's own generator
        return ImageState(job, np.random.default_rng(job.seed).standard_normal((job.num_samples, *self.shape),
                                                                                 dtype=np.float32))

    def step(self, states: list[ImageState]) -> list[Update]:
        rows = lambda values: np.repeat(values, [s.job.num_samples for s in states])
        x = np.concatenate([s.x for s in states])
        x_next, pred = reverse_step(self.predict_noise, x, rows([s.step for s in states]),
                                    rows([s.job.steps for s in states]))
        updates = []
        for state, xs, ps in zip(states, _split(x_next, states), _split(pred, states)):
            state.x, state.latest, state.step = xs, ps, state.step + 1
            updates.append(self._update(state))
        return updates

    def _update(self, state: ImageState) -> Update:
        job, done = state.job, state.step
        images = lambda: denormalize(state.latest, self.mean, self.std)
        if done >= job.steps:
            return Update(final=samples_body(images(), job.seed, job.layout))
        if job.preview_every and done % job.preview_every == 0:
            return Update(events=[{"type": "preview", "step": done, "diffusion_steps": job.steps,
                                   "num_samples": job.num_samples, "image_base64_png": png_base64(make_grid(images()))}])
        return Update()


class LangevinEngine:
    """Rows per energy call are bounded by the scheduler's `step_rows` (models.yaml), as for diffusion."""

    def __init__(self, energy_net, device, image_size: int, grad_clamp: float):
        self.net, self.device = energy_net, device
        self.shape = (3, image_size, image_size)
        self.grad_clamp = grad_clamp

    def total_steps(self, job: SamplingJob) -> int:
        return job.steps

    def rows(self, job: SamplingJob) -> int:
        return job.num_samples

    def start(self, job: SamplingJob) -> ImageState:
        import torch

        # The generator lives on the sampling device (torch draws CUDA noise only from a CUDA generator): a seed
        # reproduces its images on the same kind of device; CPU and GPU streams differ.
        gen = torch.Generator(device=self.device).manual_seed(job.seed)
        # uniform [-1, 1] starting images, as the sps-genai app started
        x0 = torch.rand((job.num_samples, *self.shape), generator=gen, device=self.device) * 2 - 1
        return ImageState(job, x0, generator=gen)

    def step(self, states: list[ImageState]) -> list[Update]:
        import torch

        from genai_serve.sampling.langevin import langevin_step

        per_row = lambda attr: torch.tensor([getattr(s.job, attr) for s in states for _ in range(s.job.num_samples)],
                                            dtype=torch.float32, device=self.device).view(-1, 1, 1, 1)
        # each request draws its own full-size noise, exactly what it draws alone
        eps = torch.cat([torch.randn(s.x.shape, generator=s.generator, device=self.device) for s in states])
        x, step_size, noise = torch.cat([s.x for s in states]), per_row("step_size"), per_row("noise")
        with torch.no_grad():
            x = langevin_step(self.net, x, eps, step_size, noise, self.grad_clamp)
        updates = []
        for state, xs in zip(states, _split(x, states)):
            state.x, state.step = xs, state.step + 1
            final = None
            if state.step >= state.job.steps:  # [-1, 1] -> [0, 1]
                final = samples_body(((xs + 1) / 2).cpu().numpy(), state.job.seed, state.job.layout)
            updates.append(Update(final=final))
        return updates
