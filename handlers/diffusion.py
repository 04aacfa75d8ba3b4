"""diffusion: CIFAR-10-style images from seed 1's UNet by the offset-cosine reverse loop (UNet step in ONNX
Runtime, loop in genai_serve/sampling/diffusion.py).

{"num_samples": 1..64, "diffusion_steps": 1..1000, "image_size": 32, "seed"?, "return"?, "stream"?,
"preview_every"?} -> {"num_samples", "seed", "image_base64_png"} (or "images_base64_png").

All requests of a batch share one reverse loop: each request's starting noise comes from its own generator,
rows keep their own step counts, and the UNet is called on the rows still running. ONNX Runtime on CPU is
batch-invariant for this graph, so a seed gives the same bytes alone or batched.

"stream": true answers NDJSON: a {"type": "preview", "step", ...} line every `preview_every` steps (default
about five per request) while sampling, then {"type": "final", ...the usual body}.
"""
import json
import math

import numpy as np

from genai_serve.imaging import make_grid, png_base64, samples_body
from genai_serve.jobs import SamplingJob
from genai_serve.runtime import OnnxModel
from genai_serve.sampling.diffusion import denormalize, reverse_diffusion
from handlers.base import BaseHandler, StreamFinal, seed_or_fresh

DEFAULT_PREVIEWS = 5


class DiffusionHandler(BaseHandler):
    def load(self):
        self.unet = OnnxModel(self.model_dir / "model.onnx", self.threads, self.gpu_id)
        normalizer = json.loads((self.model_dir / "sampler.json").read_text())["normalizer"]
        self.mean, self.std = normalizer["mean"], normalizer["std"]
        self.image_size = int(self.config.get("image_size", 32))

    def parse(self, decoded, params):
        every = None
        if params.stream:
            every = params.preview_every or max(1, math.ceil(params.diffusion_steps / DEFAULT_PREVIEWS))
        return SamplingJob(seed_or_fresh(params.seed), params.num_samples, params.diffusion_steps, params.return_,
                           preview_every=every)

    def infer(self, jobs):
        shape = (3, self.image_size, self.image_size)
        # 1. each request's N(0, 1) starting noise from its own generator
        x0 = np.concatenate([np.random.default_rng(j.seed).standard_normal((j.num_samples, *shape), dtype=np.float32)
                             for j in jobs])
        row_steps = np.repeat([j.steps for j in jobs], [j.num_samples for j in jobs])
        bounds = np.cumsum([0] + [j.num_samples for j in jobs])
        # 2. one reverse loop for the batch; streaming requests get previews of their own rows as it runs
        on_step = self._previews(jobs, bounds) if any(j.preview_every for j in jobs) else None
        images = denormalize(reverse_diffusion(self.unet, x0, row_steps, on_step=on_step), self.mean, self.std)
        # 3. split back per request
        out = []
        for i, job in enumerate(jobs):
            body = samples_body(images[bounds[i]:bounds[i + 1]], job.seed, job.layout)
            out.append(StreamFinal(type="final", **body) if job.preview_every else body)
        return out

    def _previews(self, jobs, bounds):
        def on_step(step: int, pred_images: np.ndarray) -> None:
            done = step + 1
            for i, job in enumerate(jobs):
                if job.preview_every and done % job.preview_every == 0 and done < job.steps:
                    rows = denormalize(pred_images[bounds[i]:bounds[i + 1]], self.mean, self.std)
                    self.send_partial(i, {"type": "preview", "step": done, "diffusion_steps": job.steps,
                                          "num_samples": job.num_samples, "image_base64_png": png_base64(make_grid(rows))})
        return on_step
