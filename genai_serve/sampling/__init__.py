"""Samplers as single steps around a per-step network: `reverse_step` (numpy, so ONNX Runtime or torch can supply
the noise prediction) and `langevin_step` (torch: it needs the energy's gradient). Serving's engines
(genai_serve/engines/images.py) schedule them per request; everything else calls them in a plain loop.
"""
from genai_serve.sampling.diffusion import denormalize, offset_cosine_schedule, reverse_step
from genai_serve.sampling.langevin import langevin_step

__all__ = ["denormalize", "langevin_step", "offset_cosine_schedule", "reverse_step"]
