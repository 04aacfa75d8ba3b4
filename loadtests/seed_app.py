"""The serving path users would otherwise take: a minimal, faithful reproduction of seed 1's FastAPI app
(../shared/reference/SEEDS.md section 1.7) for the benchmark in loadtests/bench_serving.py.

Same as the seed: FastAPI + uvicorn, one process, eager torch, no batching; `/predict_cifar10` is `async` (so
requests run one at a time on the event loop), the generators are plain `def` (FastAPI's thread pool; torch
runs one forward at a time per call); images come back as one base64 PNG grid made by torchvision's
`make_grid(nrow=ceil(sqrt(n)), pad_value=1.0)` and `mul(255).byte()`. Different from the seed only where the
seed could not run at all: the networks are this project's trained checkpoints (checkpoints/<model>/model.pt,
built by `make train`) instead of the seed's missing weight files, and the reverse loop is the project's own
(genai_serve/sampling/diffusion.py) driven by the eager torch UNet, as the seed drove its own.

  GENAI_SEED_MODELS=cnn,gan python -m uvicorn loadtests.seed_app:app --host 127.0.0.1 --port 8000
"""
from __future__ import annotations

import base64
import io
import math
import os

import numpy as np
import torch
from fastapi import FastAPI, File, HTTPException, UploadFile
from PIL import Image
from torchvision import transforms
from torchvision.utils import make_grid

from genai_serve.checkpoint import build_from_checkpoint
from genai_serve.imaging import CIFAR10_CLASSES
from genai_serve.registry import Paths
from genai_serve.sampling.diffusion import denormalize, reverse_diffusion

CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)  # seed 1's Normalize
PREPROCESS = transforms.Compose([transforms.Resize((64, 64)), transforms.ToTensor(),
                                 transforms.Normalize(CIFAR_MEAN, CIFAR_STD)])
MODELS = [m for m in os.environ.get("GENAI_SEED_MODELS", "cnn,gan,diffusion").split(",") if m]
PATHS = Paths(os.environ.get("GENAI_SEED_PROJECT", Paths().base))

app = FastAPI(title="seed 1 serving path (benchmark reproduction)")
nets: dict[str, tuple[torch.nn.Module, dict]] = {}


@app.on_event("startup")
def load() -> None:
    for name in MODELS:
        nets[name] = build_from_checkpoint(PATHS.checkpoint(name))


def grid_png_base64(samples: torch.Tensor) -> str:
    """The seed's grid: (n, C, H, W) in [0, 1] -> one PNG, base64."""
    grid = make_grid(samples, nrow=math.ceil(math.sqrt(samples.shape[0])), pad_value=1.0)
    array = grid.mul(255).byte().permute(1, 2, 0).numpy()
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


@app.post("/predict_cifar10")
async def predict_cifar10(file: UploadFile = File(...)):
    try:
        image = Image.open(io.BytesIO(await file.read())).convert("RGB")
    except Exception as exc:  # the seed's behaviour: an unreadable image is a 400
        raise HTTPException(status_code=400, detail=f"invalid image: {exc}") from exc
    net, _ = nets["cnn"]
    with torch.no_grad():
        probs = torch.softmax(net(PREPROCESS(image).unsqueeze(0)), dim=1)[0]
    pred = int(probs.argmax())
    return {"pred_id": pred, "pred_label": CIFAR10_CLASSES[pred], "probs": probs.tolist()}


@app.get("/gan/generate")
def gan_generate(num_samples: int = 16):
    if num_samples <= 0:
        raise HTTPException(status_code=400, detail="num_samples must be positive")
    net, ckpt = nets["gan"]
    with torch.no_grad():
        images = net(torch.randn(num_samples, ckpt["config"]["kwargs"].get("latent_dim", 100)))
    return {"num_samples": num_samples, "image_base64_png": grid_png_base64((images + 1) / 2)}


@app.get("/diffusion/generate")
def diffusion_generate(num_samples: int = 16, diffusion_steps: int = 50, image_size: int = 32):
    if num_samples <= 0 or diffusion_steps <= 0:
        raise HTTPException(status_code=400, detail="num_samples and diffusion_steps must be positive")
    net, ckpt = nets["diffusion"]
    normalizer = ckpt["extra"]["normalizer"]

    def predict_noise(x: np.ndarray, noise_variance: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return net(torch.from_numpy(x), torch.from_numpy(np.asarray(noise_variance, dtype=np.float32))).numpy()

    noise = np.random.default_rng().standard_normal((num_samples, 3, image_size, image_size), dtype=np.float32)
    images = denormalize(reverse_diffusion(predict_noise, noise, diffusion_steps), normalizer["mean"],
                         normalizer["std"])
    return {"num_samples": num_samples, "image_base64_png": grid_png_base64(torch.from_numpy(images))}
