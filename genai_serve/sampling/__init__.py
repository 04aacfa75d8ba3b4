"""Samplers: small, numbered loops around a per-step network (DESIGN.md principle 5).

`langevin` drives a torch energy model (it needs autograd); `reverse_diffusion` is numpy so ONNX Runtime or
torch can supply the per-step noise prediction.
"""
from genai_serve.sampling.diffusion import denormalize, offset_cosine_schedule, reverse_diffusion, reverse_step
from genai_serve.sampling.langevin import langevin, langevin_step

__all__ = ["denormalize", "langevin", "langevin_step", "offset_cosine_schedule", "reverse_diffusion", "reverse_step"]
