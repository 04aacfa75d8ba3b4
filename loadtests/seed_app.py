"""The serving path users would otherwise take: a minimal, faithful reproduction of the sps-genai app's FastAPI app
for the benchmarks in loadtests/bench_seed.py and
loadtests/bench_peers.py.

Same as the seed: FastAPI + uvicorn, one process, eager torch, no batching; `/predict_cifar10` is `async` (so
requests run one at a time on the event loop), the generators are plain `def` (FastAPI's thread pool; torch
runs one forward at a time per call); images come back as one base64 PNG grid made by torchvision's
`make_grid(nrow=ceil(sqrt(n)), pad_value=1.0)` and `mul(255).byte()`. Different from the seed only where the
seed could not run at all: the networks are this project's trained checkpoints (checkpoints/<model>/model.pt,
built by `make train`) instead of the seed's missing weight files, and the reverse loop is the project's own
(genai_serve/sampling/diffusion.py) driven by the eager torch UNet, as the seed drove its own; GPT-2 answers
with transformers' eager `generate` on the fine-tuned directory (checkpoints/gpt2_qa/<default version>/).

  GENAI_SEED_MODELS=cnn,gan python -m uvicorn loadtests.seed_app:app --host 127.0.0.1 --port 8000
"""
from __future__ import annotations

import base64
import io
import math
import os
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
import torch
from fastapi import FastAPI, File, HTTPException, UploadFile
from PIL import Image
from pydantic import BaseModel
from torchvision import transforms
from torchvision.utils import make_grid

from genai_ops.checkpoint import build_from_checkpoint
from genai_serve.gpt2 import template
from genai_serve.imaging import CIFAR10_CLASSES
from genai_ops.registry import Paths
from genai_serve.sampling.diffusion import denormalize, reverse_step

CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)  # the sps-genai app's Normalize
PREPROCESS = transforms.Compose([transforms.Resize((64, 64)), transforms.ToTensor(),
                                 transforms.Normalize(CIFAR_MEAN, CIFAR_STD)])
MODELS = [m for m in os.environ.get("GENAI_SEED_MODELS", "cnn,gan,diffusion").split(",") if m]
PATHS = Paths(Path(os.environ["GENAI_SEED_PROJECT"])) if "GENAI_SEED_PROJECT" in os.environ else Paths()
nets: dict[str, tuple] = {}


@asynccontextmanager
async def lifespan(_app):
    """Load every network at start-up, as the sps-genai app did for the CNN (its generators loaded lazily on first use)."""
    for name in MODELS:
        nets[name] = load_gpt2() if name == "gpt2_qa" else build_from_checkpoint(PATHS.checkpoint(name))
    yield


app = FastAPI(title="the sps-genai app's serving path (benchmark reproduction)", lifespan=lifespan)


def load_gpt2():
    """The fine-tuned HF directory of gpt2_qa's default version, as the sps-genai app loaded its own (eager, eval mode)."""
    from transformers import AutoTokenizer, GPT2LMHeadModel

    from genai_ops.registry import load_registry

    directory = PATHS.checkpoints / "gpt2_qa" / load_registry()["gpt2_qa"].default_version
    return GPT2LMHeadModel.from_pretrained(directory).eval(), AutoTokenizer.from_pretrained(directory)


class AnswerRequest(BaseModel):
    """The sps-genai app's /gpt2/answer body, plus `context` and `max_new_tokens` so both sides do the same work (the
    prompt is this project's template: the checkpoints were fine-tuned on it, not on the sps-genai app's)."""
    question: str
    context: str | None = None
    max_new_tokens: int = 64
    temperature: float = 0.7
    top_p: float = 0.9


@app.post("/gpt2/answer")
def gpt2_answer(request: AnswerRequest):
    model, tokenizer = nets["gpt2_qa"]
    ids = tokenizer(template.prompt(request.question, request.context), return_tensors="pt").input_ids
    with torch.no_grad():  # the sps-genai app: do_sample with the request's temperature and top_p, transformers' top_k 50
        out = model.generate(ids, max_new_tokens=request.max_new_tokens, do_sample=True,
                             temperature=request.temperature, top_p=request.top_p,
                             pad_token_id=tokenizer.eos_token_id)
    new = out[0, ids.shape[1]:]
    # completion_tokens is not in the sps-genai app's response: the benchmark needs it for tokens/s on both sides
    return {"question": request.question, "answer": tokenizer.decode(new, skip_special_tokens=True),
            "model": "gpt2-squad-finetuned", "completion_tokens": int(new.shape[0])}


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

    x = np.random.default_rng().standard_normal((num_samples, 3, image_size, image_size), dtype=np.float32)
    for step in range(diffusion_steps):  # the seed's loop: one UNet call per step for the whole batch
        x, images = reverse_step(predict_noise, x, step, diffusion_steps)
    images = denormalize(images, normalizer["mean"], normalizer["std"])
    return {"num_samples": num_samples, "image_base64_png": grid_png_base64(torch.from_numpy(images))}
