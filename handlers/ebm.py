"""ebm: CIFAR-10-style images from seed 1's energy model by Langevin dynamics (torch: each step needs dE/dx).

{"num_samples": 1..64, "steps": 1..1000, "step_size": (0, 100], "noise": [0, 1], "seed"?, "return"?}
-> {"num_samples", "seed", "image_base64_png"} (or "images_base64_png" with "return": "images").

All requests of a batch share one Langevin loop: starting points are drawn per request from that request's
own generator and concatenated; steps, step size and noise are per row; each request keeps drawing its own
noise every step (genai_serve/sampling/langevin.py), so a seed gives the same image alone or batched.
"""
import torch

from genai_serve.imaging import samples_body
from genai_serve.jobs import SamplingJob
from genai_serve.nets import build
from genai_serve.runtime import torch_device
from genai_serve.sampling.langevin import langevin
from handlers.base import BaseHandler, seed_or_fresh


class EbmHandler(BaseHandler):
    def load(self):
        torch.set_num_threads(self.threads)
        # cuda:<gpu_id> when TorchServe assigned a GPU and CUDA works, else the CPU (runtime.torch_device).
        self.device = torch_device(self.gpu_id)
        blob = torch.load(self.model_dir / "model.pt", map_location="cpu", weights_only=True)
        self.net = build(blob["config"]["net"], **blob["config"]["kwargs"])
        self.net.load_state_dict(blob["state_dict"], strict=True)
        self.net.to(self.device).eval().requires_grad_(False)  # gradients flow to the image only, never to the weights
        self.image_size = int(self.config.get("image_size", 32))
        self.grad_clamp = float(self.config.get("grad_clamp", 0.03))

    def parse(self, decoded, params):
        return SamplingJob(seed_or_fresh(params.seed), params.num_samples, params.steps, params.return_,
                           step_size=params.step_size, noise=params.noise)

    def infer(self, jobs):
        shape = (3, self.image_size, self.image_size)
        # Generators live on the sampling device (torch draws CUDA noise only from a CUDA generator): a seed
        # reproduces its images on the same kind of device; CPU and GPU streams differ.
        gens = [(torch.Generator(device=self.device).manual_seed(job.seed), job.num_samples) for job in jobs]
        # 1. each request's uniform [-1, 1] starting images, from its own generator (as the seed app started)
        x0 = torch.cat([torch.rand((n, *shape), generator=g, device=self.device) * 2 - 1 for g, n in gens])
        per_row = lambda attr: torch.tensor([getattr(j, attr) for j in jobs for _ in range(j.num_samples)])
        # 2. one loop for the batch; per-row steps / step size / noise; each request keeps its own noise stream
        with torch.no_grad():
            x = langevin(self.net, x0, per_row("steps"), per_row("step_size").float(), per_row("noise").float(),
                         grad_clamp=self.grad_clamp, generators=gens)
        # 3. split back per request; [-1, 1] -> [0, 1]
        out = []
        for job, images in zip(jobs, torch.split(x, [j.num_samples for j in jobs])):
            out.append(samples_body(((images + 1) / 2).cpu().numpy(), job.seed, job.layout))
        return out
