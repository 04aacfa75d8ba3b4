"""gpt2_qa served through TorchServe at the real 124M shape vs the same decoding loop in-process
(python -m loadtests gpt2-served; `make bench-gpt2-served`).

The 124M-shape gpt2_qa with random weights (harness/gpt2_archive.py: the project's own exporter and archiver, as a
version "bench" in a private project dir) served by a private TorchServe on free loopback ports with the
registry's model-config. Greedy, 64 new tokens:
  1. raw: our loop (genai_serve/gpt2/decode.py) over the exported graph in-process, batch 1 and 8;
  2. served: 1 and 8 concurrent clients through HTTP (TorchServe batches the 8), tokens/s from the
     responses' completion_tokens;
  3. streaming: time from sending a request to its first NDJSON token line, 1 client.
Writes the `bench:gpt2-served` section of docs/BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from genai_ops.registry import Paths
from loadtests.harness.gpt2_archive import QUESTION, VERSION, build
from loadtests.harness.report import BENCHMARKS, replace_section
from loadtests.harness.servers import private_server
from loadtests.harness.timing import alternate

NEW = 64
PATH = f"/predictions/gpt2_qa/{VERSION}"


def raw_tok_s(paths: Paths, prompt_len: int, threads: int, rounds: int) -> dict:
    import numpy as np

    from genai_serve.gpt2.decode import Row, generate
    from genai_serve.gpt2.onnx_step import OnnxDecoder
    from genai_serve.runtime import make_session

    decoder = OnnxDecoder(make_session(paths.artifact_dir("gpt2_qa", VERSION) / "model.onnx", threads))
    prompt = list(np.random.default_rng(0).integers(0, 2000, prompt_len))
    runs = {bs: (lambda bs=bs: generate(decoder, [Row(list(prompt), NEW) for _ in range(bs)], eos=-1)) for bs in (1, 8)}
    out = {bs: bs * NEW / t for bs, t in alternate(rounds, runs).items()}
    # first token in-process: the prompt block plus the first pick, the floor for the served first token line
    first = lambda: generate(decoder, [Row(list(prompt), 1)], eos=-1)  # noqa: E731
    out["ttft_ms_p50"] = alternate(max(5, rounds * 3), {"first": first}, warmup=False)["first"] * 1000
    return out


def served(server, rounds: int) -> dict:
    body = json.dumps({"question": QUESTION, "max_new_tokens": NEW, "temperature": 0}).encode()

    def one():
        r = server.call("POST", "inference", PATH, data=body,
                        headers={"Content-Type": "application/json"}, timeout=300)
        r.raise_for_status()
        return r.json()

    first = one()
    out = {"prompt_tokens": first["prompt_tokens"]}
    for clients in (1, 8):
        walls, tokens = [], []
        for _ in range(rounds):
            t = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                answers = list(pool.map(lambda _: one(), range(clients)))
            walls.append(time.perf_counter() - t)
            tokens.append(sum(a["completion_tokens"] for a in answers))
        out[clients] = statistics.median(n / w for n, w in zip(tokens, walls))
    stream_body = json.dumps({"question": QUESTION, "max_new_tokens": NEW, "temperature": 0, "stream": True}).encode()
    firsts = []
    for _ in range(max(5, rounds * 3)):
        t = time.perf_counter()
        with server.call("POST", "inference", PATH, data=stream_body, stream=True,
                         headers={"Content-Type": "application/json"}, timeout=300) as r:
            # One loop reads the whole stream, noting when the first line arrived (iter_lines buffers 512
            # bytes). Breaking out and starting a second iter_content left the rest unread: the connection
            # closed while the worker was still generating, and the next request queued behind that one.
            arrivals = [time.perf_counter() - t for chunk in r.iter_content(chunk_size=None) if chunk.strip()]
            firsts.append(arrivals[0])
    out["ttft_ms_p50"] = statistics.median(firsts) * 1000
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads, in-process and per worker")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-gpt2-served-") as tmp:
        spec, paths = build(Path(tmp))
        # the worker gets the threads the raw loop gets
        with private_server([(spec, VERSION)], store=paths.model_store, threads=args.threads) as server:
            s = served(server, args.rounds)
        raw = raw_tok_s(paths, s["prompt_tokens"], args.threads, args.rounds)
    cfg = spec.model_config
    text = "\n".join([
        f"Command: `python -m loadtests gpt2-served --rounds {args.rounds} --threads {args.threads}` "
        f"({time.strftime('%Y-%m-%d')}). GPT-2 124M shape, random weights, through the gpt2_qa exporter and "
        f"archiver; {s['prompt_tokens']}-token QA prompt, {NEW} new tokens, greedy; {args.threads} ONNX Runtime "
        f"threads in-process and in the one worker (batchSize {cfg['batchSize']}, maxBatchDelay "
        f"{cfg['maxBatchDelay']} ms). Medians of {args.rounds} rounds; 1-minute load average at start {load:.1f}.",
        "",
        "| | 1 client / bs 1 | 8 clients / bs 8 |",
        "|---|---|---|",
        f"| raw loop in-process, tok/s | {raw[1]:.1f} | {raw[8]:.1f} |",
        f"| served through TorchServe, tok/s (aggregate) | {s[1]:.1f} | {s[8]:.1f} |",
        f"| served / raw | {s[1] / raw[1]:.2f} | {s[8] / raw[8]:.2f} |",
        "",
        "| | raw loop in-process | served, streaming |",
        "|---|---|---|",
        f"| first token, 1 client, p50 ms (served: first NDJSON token line) | {raw['ttft_ms_p50']:.0f} | "
        f"{s['ttft_ms_p50']:.0f} |",
        "Targets: served >= 200 tok/s at 8 clients, overhead <= 20% (served / raw >= 0.8), first "
        "token p50 <= 60 ms.",
    ])
    print(text)
    replace_section(BENCHMARKS, "gpt2-served", "gpt2_qa: served through TorchServe", text)

