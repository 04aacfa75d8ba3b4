"""Sampler speed, side by side in one run (python -m loadtests samplers; `make bench-samplers`).

1. The 50-step reverse diffusion loop for 16 images with the UNet in ONNX Runtime vs eager torch (the same
   step, genai_serve/sampling/diffusion.py reverse_step, in a plain loop driving either network).
2. Langevin for 4 concurrent requests through serving's own engine (genai_serve/engines/images.py): all four
   stepped together (what the ebm worker does) vs the four run one at a time (what an unbatched server does).
3. The largest request each model admits (64 samples x 1000 steps), extrapolated from a timed 64-sample run
   of fewer steps (every step costs the same), to size responseTimeout.

Needs `make train export` (artifacts/ and checkpoints/). Rounds alternate so machine drift hits both sides;
the table reports medians. Writes the section between the `bench:samplers` markers in docs/BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

from genai_ops.checkpoint import build_from_checkpoint
from genai_ops.registry import Paths
from genai_serve.runtime import OnnxModel
from genai_serve.engines.images import LangevinEngine
from genai_serve.jobs import SamplingJob
from genai_serve.sampling.diffusion import reverse_step
from loadtests.harness.report import BENCHMARKS, replace_section
from loadtests.harness.timing import alternate, seconds


def diffusion_loops(paths: Paths, threads: int):
    unet_ort = OnnxModel(paths.artifact_dir("diffusion") / "model.onnx", threads)
    net, _ = build_from_checkpoint(paths.checkpoint("diffusion"))

    def unet_torch(x, v):
        with torch.inference_mode():
            return net(torch.from_numpy(x), torch.from_numpy(v)).numpy()

    def loop(unet, n: int, steps: int):
        x0 = np.random.default_rng(0).standard_normal((n, 3, 32, 32), dtype=np.float32)

        def run():
            x = x0
            for step in range(steps):
                x, images = reverse_step(unet, x, step, steps)
            return images

        return run

    return unet_ort, unet_torch, loop


def ebm_loop(paths: Paths):
    blob = torch.load(paths.artifact_dir("ebm") / "model.pt", weights_only=True)
    from genai_serve.nets import build

    net = build(blob["config"]["net"], **blob["config"]["kwargs"])
    net.load_state_dict(blob["state_dict"])
    net.eval().requires_grad_(False)

    engine = LangevinEngine(net, torch.device("cpu"), 32, 0.03)

    def run(requests: list[tuple[int, int]], steps: int):
        """requests: (seed, num_samples) stepped together by serving's engine, as the worker steps them."""
        states = [engine.start(SamplingJob(seed, n, steps, step_size=10.0, noise=0.01)) for seed, n in requests]
        for _ in range(steps):
            engine.step(states)
        return states

    return run


def measure(threads: int, rounds: int, probe: int = 20) -> dict:
    """{"diffusion": {ort, torch} s, "ebm": {batched, serial} s, "largest_s": {diffusion, ebm}} (the largest
    request extrapolated from `probe` steps to 1000)."""
    paths = Paths()
    unet_ort, unet_torch, loop = diffusion_loops(paths, threads)
    d = alternate(rounds, {"ort": loop(unet_ort, 16, 50), "torch": loop(unet_torch, 16, 50)})
    ebm = ebm_loop(paths)
    reqs = [(seed, 16) for seed in range(4)]
    e = alternate(rounds, {"batched": lambda: ebm(reqs, 256), "serial": lambda: [ebm([r], 256) for r in reqs]})
    largest = {"diffusion": seconds(loop(unet_ort, 64, probe)) / probe * 1000,
               "ebm": seconds(lambda: ebm([(0, 64)], probe)) / probe * 1000}
    return {"diffusion": d, "ebm": e, "largest_s": largest, "probe": probe}


def render(r: dict, threads: int, rounds: int, note: str) -> str:
    d, e, big = r["diffusion"], r["ebm"], r["largest_s"]
    rows = [("diffusion: 50-step reverse loop, 16 images", f"ONNX Runtime {d['ort']:.2f} s",
             f"eager torch {d['torch']:.2f} s", f"{d['torch'] / d['ort']:.2f}x"),
            ("ebm: 4 concurrent requests x 16 images x 256 Langevin steps", f"one batched loop {e['batched']:.2f} s",
             f"one at a time {e['serial']:.2f} s", f"{e['serial'] / e['batched']:.2f}x")]
    largest = (f"largest request (64 samples x 1000 steps), extrapolated from {r['probe']} steps: "
               f"diffusion {big['diffusion']:.0f} s, ebm {big['ebm']:.0f} s")
    return "\n".join([
        f"Command: `make bench-samplers` (`python -m loadtests samplers --threads {threads} "
        f"--rounds {rounds}`), {time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
        f"torch {torch.__version__}, {threads} thread(s) per network (what each worker gets when the whole "
        "registry shares 2 cores). Medians of alternating rounds after a warm-up; offline-trained weights.",
        "",
        "| what | A | B | B / A |",
        "|---|---|---|---|",
        *[f"| {what} | {a} | {b} | {ratio} |" for what, a, b, ratio in rows],
        "",
        largest + ". responseTimeout for ebm and diffusion (models.yaml) must cover a batch of such requests.",
    ] + ([f"Note: {note}"] if note else []))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (1: eight workers on 2 cores)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    parser.add_argument("--note", default="", help="conditions of this run worth recording (e.g. other load)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    r = measure(args.threads, args.rounds)
    text = render(r, args.threads, args.rounds, args.note)
    print(text)
    print(json.dumps({k: r[k] for k in ("diffusion", "ebm", "largest_s")}))
    if not args.no_write:
        replace_section(BENCHMARKS, "samplers", "Iterative samplers (ebm, diffusion)", text)
