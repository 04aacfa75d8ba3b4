"""diffusion: CIFAR-10-style images from the sps-genai app's UNet by the offset-cosine reverse loop (UNet step in ONNX
Runtime, loop in genai_serve/sampling/diffusion.py), scheduled per step (handlers/iterative.py).

{"num_samples": 1..64, "diffusion_steps": 1..1000, "image_size": 32, "seed"?, "return"?, "stream"?,
"preview_every"?, "timeout_s"?} -> {"num_samples", "seed", "image_base64_png"} (or "images_base64_png").

Every running request shares each UNet call: a new request joins at the next step, whatever iteration the others
are at (the UNet takes each row's noise level), and leaves the moment its own steps are done. Its starting noise
comes from its own generator and ONNX Runtime on CPU is batch-invariant for this graph, so a seed gives the same
bytes alone, joined mid-loop or shared (genai_serve/engines/images.py).

"stream": true answers NDJSON: a {"type": "preview", "step", ...} line every `preview_every` steps (default
about five per request) while sampling, then {"type": "final", ...the usual body}.
"""
import json
import math

from genai_serve.engines.images import DiffusionEngine
from genai_serve.jobs import SamplingJob
from genai_serve.runtime import OnnxModel
from handlers.base import seed_or_fresh
from handlers.iterative import IterativeHandler

DEFAULT_PREVIEWS = 5


class DiffusionHandler(IterativeHandler):
    def load(self):
        unet = OnnxModel(self.model_dir / "model.onnx", self.threads, self.gpu_id)
        normalizer = json.loads((self.model_dir / "sampler.json").read_text())["normalizer"]
        self.engine = DiffusionEngine(unet, int(self.config.get("image_size", 32)), normalizer["mean"],
                                      normalizer["std"])

    def parse(self, decoded, params):
        every = None
        if params.stream:
            every = params.preview_every or max(1, math.ceil(params.diffusion_steps / DEFAULT_PREVIEWS))
        return SamplingJob(seed_or_fresh(params.seed), params.num_samples, params.diffusion_steps, params.return_,
                           preview_every=every, stream=params.stream, timeout_s=params.timeout_s)
