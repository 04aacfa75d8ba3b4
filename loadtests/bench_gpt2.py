"""GPT-2 decoding speed at the real 124M shape (python -m loadtests.bench_gpt2; `make bench-gpt2`).

Random weights (GPT2Config() defaults: 12 layers, 768 wide, 50257 tokens; no download) cost the same per
token as trained ones. A 32-token prompt, 64 new tokens, greedy, every row runs its full 64 tokens
(end-of-text ignored), batch 1 and 8:
  1. transformers' eager `generate` in torch, in-process;
  2. our loop (genai_serve/gpt2/decode.py) over the optimum-onnx export in ONNX Runtime, in-process:
     what the gpt2_qa handler runs;
  3. time to the first token of our loop at batch 1 (the floor under streaming's first-token latency).
Rounds alternate so machine drift hits both sides; medians. Writes the `bench:gpt2` section of
docs/BENCHMARKS.md. Served figures (through TorchServe) need a 124M archive: see the README.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from genai_serve.gpt2.decode import Row, generate
from genai_serve.gpt2.onnx_step import OnnxDecoder
from genai_serve.registry import REPO_ROOT
from genai_serve.runtime import make_session
from loadtests.report import replace_section

PROMPT, NEW = 32, 64


def build(tmp: Path):
    from optimum.exporters.onnx import main_export
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config()).eval()
    model.save_pretrained(tmp / "hf")
    main_export(str(tmp / "hf"), output=str(tmp / "onnx"), task="text-generation-with-past", device="cpu")
    return model, tmp / "onnx" / "model.onnx"


def bench(rounds: int, threads: int) -> dict:
    torch.set_num_threads(threads)
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-gpt2-") as tmp:
        model, onnx = build(Path(tmp))
        decoder = OnnxDecoder(make_session(onnx, threads))
        prompts = np.random.default_rng(0).integers(0, 50000, (8, PROMPT))
        for bs in (1, 8):
            ids = torch.from_numpy(prompts[:bs])

            @torch.no_grad()
            def hf():
                out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=NEW,
                                     min_new_tokens=NEW, pad_token_id=50256)
                assert out.shape[1] == PROMPT + NEW

            def ours():
                rows = generate(decoder, [Row(list(p), NEW) for p in prompts[:bs]], eos=-1)
                assert all(len(r.tokens) == NEW for r in rows)

            times = {"hf": [], "ours": []}
            hf(), ours()  # warm-up
            for _ in range(rounds):
                for name, fn in (("hf", hf), ("ours", ours)):
                    t = time.perf_counter()
                    fn()
                    times[name].append(time.perf_counter() - t)
            results[bs] = {k: bs * NEW / statistics.median(v) for k, v in times.items()}
        firsts = []
        for _ in range(rounds):
            t, first = time.perf_counter(), []
            generate(decoder, [Row(list(prompts[0]), NEW)], eos=-1,
                     on_token=lambda *_: first or first.append(time.perf_counter() - t))
            firsts.append(first[0])
        results["ttft_ms"] = statistics.median(firsts) * 1000
    return results


def render(r: dict, rounds: int, threads: int, load: float) -> str:
    lines = [
        f"GPT-2 124M shape (random weights), {PROMPT}-token prompt, {NEW} new tokens, greedy; {platform.processor() or platform.machine()}, "
        f"{threads} thread(s), median of {rounds} alternating rounds (`make bench-gpt2`). Tokens/s = batch x {NEW} / time.",
        "",
        "| | bs 1 tok/s | bs 8 tok/s |",
        "|---|---|---|",
        f"| transformers eager `generate` (torch) | {r[1]['hf']:.1f} | {r[8]['hf']:.1f} |",
        f"| our loop over ONNX Runtime (KV cache; the handler's loop) | {r[1]['ours']:.1f} | {r[8]['ours']:.1f} |",
        f"| ratio ours / eager | {r[1]['ours'] / r[1]['hf']:.2f}x | {r[8]['ours'] / r[8]['hf']:.2f}x |",
        "",
        f"Time to the first token of our loop at bs 1 (prompt block + first pick, in-process): {r['ttft_ms']:.0f} ms.",
        "",
        f"1-minute load average when the run started: {load:.1f} on {os.cpu_count()} cores. Other jobs on the same "
        "cores slow eager torch far more than ONNX Runtime (DESIGN.md's unshared probe: eager 35.7 / 120, plain "
        "ORT loop 43.8 / 192 tok/s), so compare the two rows of one run, not runs on a busy and an idle machine.",
    ]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    r = bench(args.rounds, args.threads)
    text = render(r, args.rounds, args.threads, load)
    print(text)
    replace_section(args.out, "gpt2", "gpt2_qa: decoding speed at the 124M shape", text)


if __name__ == "__main__":
    main()
