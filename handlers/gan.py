"""gan: MNIST-style digits. {"num_samples": 1..64, "seed"?, "return"?} -> {"num_samples", "seed", "image_base64_png"}
(or "images_base64_png", one PNG per sample, with "return": "images").

The latent noise of every request in a batch is drawn from that request's own generator (seeded by
`seed`, or by a fresh random seed that is returned), concatenated, run through the generator in one
ONNX Runtime call, and split back: the same seed gives the same grid whatever batch it landed in.
"""
import numpy as np

from genai_serve.imaging import samples_body
from genai_serve.runtime import OnnxModel
from handlers.base import BaseHandler, seed_or_fresh


class GanHandler(BaseHandler):
    def load(self):
        self.model = OnnxModel(self.model_dir / "model.onnx", self.threads, self.gpu_id)
        self.latent_dim = int(self.config.get("latent_dim", 100))

    def parse(self, decoded, params):
        seed = seed_or_fresh(params.seed)
        z = np.random.default_rng(seed).standard_normal((params.num_samples, self.latent_dim), dtype=np.float32)
        return seed, z, params.return_

    def infer(self, items):
        images = self.model(np.concatenate([z for _, z, _ in items]))  # (sum n, 1, 28, 28) in [-1, 1]
        out, start = [], 0
        for seed, z, layout in items:
            mine = images[start : start + len(z)]
            start += len(z)
            out.append(samples_body((mine + 1.0) / 2.0, seed, layout))
        return out
