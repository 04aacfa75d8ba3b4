"""ebm: CIFAR-10-style images from the sps-genai app's energy model by Langevin dynamics (torch: each step needs dE/dx),
scheduled per step (handlers/iterative.py).

{"num_samples": 1..64, "steps": 1..1000, "step_size": (0, 100], "noise": [0, 1], "seed"?, "return"?,
"timeout_s"?} -> {"num_samples", "seed", "image_base64_png"} (or "images_base64_png" with "return": "images").

Every running request shares each energy-gradient call: a new request joins at the next step and leaves when its
own steps are done. Starting points and every step's noise come from the request's own generator
(genai_serve/engines/images.py), so a seed gives the same image alone, joined mid-loop or shared.
"""
import torch

from genai_serve.engines.images import LangevinEngine
from genai_serve.jobs import SamplingJob
from genai_serve.nets import build
from genai_serve.runtime import torch_device
from handlers.base import seed_or_fresh
from handlers.iterative import IterativeHandler


class EbmHandler(IterativeHandler):
    def load(self):
        torch.set_num_threads(self.threads)
        # cuda:<gpu_id> when TorchServe assigned a GPU and CUDA works, else the CPU (runtime.torch_device).
        device = torch_device(self.gpu_id)
        blob = torch.load(self.model_dir / "model.pt", map_location="cpu", weights_only=True)
        net = build(blob["config"]["net"], **blob["config"]["kwargs"])
        net.load_state_dict(blob["state_dict"], strict=True)
        net.to(device).eval().requires_grad_(False)  # gradients flow to the image only, never to the weights
        self.engine = LangevinEngine(net, device, int(self.config.get("image_size", 32)),
                                     float(self.config.get("grad_clamp", 0.03)))

    def parse(self, decoded, params):
        return SamplingJob(seed_or_fresh(params.seed), params.num_samples, params.steps, params.return_,
                           step_size=params.step_size, noise=params.noise, timeout_s=params.timeout_s)
