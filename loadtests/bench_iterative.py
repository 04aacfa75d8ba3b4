"""The iterative models scheduled per step, measured side by side in one run against private TorchServes
on free loopback ports:

  python -m loadtests iterative [--parts joining,gpt2,slice] [--rounds 3]   (make bench-iterative)

  joining  diffusion and ebm: a small request alone, behind a big running one, and behind a big one whose client
           left after 1 s; continuous batching (the registry's config) and static batching (the same archive
           with continuousBatching off). Criterion: behind <= 3 x alone + 0.5 s.
  gpt2     gpt2_qa at the 124M shape (random weights, harness/gpt2_archive.py): 1 and 8 streaming clients, each
           sending requests after exponential (Poisson) think times; aggregate tok/s, time to first token p50/p99,
           inter-token time p50, for the raw loop in-process (the same handler and scheduler driven without a
           server: loadtests/inprocess.py), served with continuous batching, and served with static batching.
  slice    the scheduler slice (steps per handle() call) for cheap steps: 1-image 5-step diffusion and ebm
           requests at 4 clients, requests/s and p50 for slice_ms 0 (one step per call), 10, 25, 50.

Images use archives exported from random weights through the real pipeline (speed does not depend on the
weights). Writes the `iterative` section of docs/BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from genai_ops.registry import Paths, load_registry
from loadtests.harness.gpt2_archive import QUESTION, VERSION, build
from loadtests.harness.report import BENCHMARKS, replace_section
from loadtests.harness.servers import environment, private_server
from loadtests.harness.streams import raw_clients, served_clients, summarise
from loadtests.harness.timing import seconds
from loadtests.inprocess import build_handler, layout

IMAGES = {  # model: (big request, small request)
    "diffusion": ({"num_samples": 16, "diffusion_steps": 150, "seed": 1}, {"num_samples": 1, "diffusion_steps": 5}),
    "ebm": ({"num_samples": 64, "steps": 1000, "seed": 1}, {"num_samples": 1, "steps": 5}),
}
STATIC = {"continuousBatching": False, "batchSize": 4, "maxBatchDelay": 50}  # static batching for diffusion, ebm
GPT2_STATIC = {"continuousBatching": False, "batchSize": 8, "maxBatchDelay": 10}
NEW_TOKENS = 64
PATH = f"/predictions/gpt2_qa/{VERSION}"


# -- archives -----------------------------------------------------------------------------------------------
def variant_stores(spec, version: str, paths: Paths, root: Path) -> dict[str, Path]:
    """The same export archived twice: continuous batching (the registry) and static; one store each."""
    from export.archive import archive

    registry = load_registry()
    stores = {}
    for name, override in (("continuous", {}), ("static", GPT2_STATIC if spec.name == "gpt2_qa" else STATIC)):
        variant = dataclasses.replace(spec, model_config={**spec.model_config, **override})
        mar = archive(variant, version, {**registry, spec.name: variant}, paths)
        stores[name] = root / name
        stores[name].mkdir(parents=True, exist_ok=True)
        shutil.move(str(mar), stores[name] / mar.name)
    return stores


def image_archives(root: Path) -> dict[str, dict[str, Path]]:
    """diffusion and ebm from random weights -> {model: {"continuous": store, "static": store}}."""
    import torch

    from export.run import main as export_main
    from genai_ops.checkpoint import save_checkpoint
    from genai_serve.nets import build

    nets = {"diffusion": ("diffusion_unet", {"image_size": 32, "num_channels": 3, "embedding_dim": 32}),
            "ebm": ("ebm_energy", {})}
    paths = Paths(root / "project")
    torch.manual_seed(0)
    for model, (net, kwargs) in nets.items():
        extra = {"normalizer": {"mean": [0.5] * 3, "std": [0.25] * 3}} if model == "diffusion" else None
        save_checkpoint(paths.checkpoint(model), net=net, kwargs=kwargs, state_dict=build(net, **kwargs).state_dict(),
                        metrics={"note": "random weights (benchmark)"}, data={"source": "none"}, extra=extra)
    export_main(["--base", str(paths.base), *nets])
    registry = load_registry()
    return {m: variant_stores(registry[m], registry[m].default_version, paths, root / m) for m in nets}


# -- joining ----------------------------------------------------------------------------------------------
def latency(server, model: str, body: dict) -> float:
    """Seconds until `body` is answered (raising for an error status)."""
    return seconds(lambda: server.call("POST", "inference", f"/predictions/{model}", json=body,
                                       timeout=600).raise_for_status())


def behind(server, model: str, big: dict, small: dict, leave_after: float | None) -> float:
    """The small request's latency, sent while `big` runs (0.5 s after it started), or right after the big one's
    client gave up: a read timeout of `leave_after` s closes its connection, whether or not the status line came
    (static batching sends nothing before the end). Otherwise the big request's connection is closed once the
    small one is answered (its client leaving then is not part of the measurement)."""
    leave = threading.Event()

    def run_big():
        try:
            with server.call("POST", "inference", f"/predictions/{model}", json=big, stream=True,
                             timeout=(10, leave_after or 600)) as r:
                if leave_after is not None:
                    r.content  # noqa: B018 (raises at the read timeout; leaving the block closes the connection)
                leave.wait()
        except requests.RequestException:
            pass

    thread = threading.Thread(target=run_big)
    thread.start()
    if leave_after is not None:
        thread.join()  # the client gave up and closed its connection
        time.sleep(0.05)
    else:
        time.sleep(0.5)
    took = latency(server, model, small)
    leave.set()
    thread.join()
    return took


def joining(rounds: int, threads: int) -> str:
    registry = load_registry()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-iterative-") as tmp:
        stores = image_archives(Path(tmp))
        for model, (big, small) in IMAGES.items():
            spec, version = registry[model], registry[model].default_version
            result = {}
            for variant in ("continuous", "static"):
                with private_server([(spec, version)], store=stores[model][variant], threads=threads) as server:
                    latency(server, model, small)  # warm-up
                    alone = statistics.median(latency(server, model, {**small, "seed": i}) for i in range(rounds * 3))
                    runs = rounds if variant == "continuous" else 1  # static: the whole big loop each time
                    result[variant] = {
                        "alone": alone,
                        "behind": statistics.median(behind(server, model, big, {**small, "seed": i}, None)
                                                    for i in range(runs)),
                        "left": statistics.median(behind(server, model, big, {**small, "seed": i}, 1.0)
                                                  for i in range(runs))}
            rows.append((model, big, small, result))
    lines = ["| model | big request | small request | batching | alone s | behind big s (x alone) | "
             "behind big, its client left after 1 s | target 3 x alone + 0.5 s | met |", "|---|---|---|---|---|---|---|---|---|"]
    for model, big, small, result in rows:
        for variant, r in result.items():
            target = 3 * r["alone"] + 0.5
            met = "yes" if max(r["behind"], r["left"]) <= target else "no"
            lines.append(f"| {model} | {_req(big)} | {_req(small)} | {variant} | {r['alone']:.3f} | "
                         f"{r['behind']:.3f} ({r['behind'] / r['alone']:.0f}x) | {r['left']:.3f} | {target:.2f} | "
                         f"{met if variant == 'continuous' else '-'} |")
    return "\n".join(lines)


def _req(body: dict) -> str:
    steps = body.get("diffusion_steps", body.get("steps"))
    return f"{body['num_samples']} x {steps} steps"


# -- gpt2 -------------------------------------------------------------------------------------------------
def gpt2_body(i: int) -> dict:
    return {"question": QUESTION, "max_new_tokens": NEW_TOKENS, "temperature": 0, "stream": True, "seed": i}


def gpt2(rounds: int, threads: int, think_s: float) -> str:
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-iterative-gpt2-") as tmp:
        spec, paths = build(Path(tmp))
        stores = variant_stores(spec, VERSION, paths, Path(tmp) / "stores")
        with environment(GENAI_THREADS_PER_WORKER=threads):
            handler = build_handler(spec, VERSION, layout(spec, VERSION, paths, Path(tmp) / "handler", prefer_mar=False))
            context = handler.context
        for clients in (1, 8):
            per_client = rounds if clients == 8 else rounds * 2
            results[("raw", clients)] = summarise(*raw_clients(handler, context, gpt2_body, clients, per_client, think_s, 7))
        del handler
        for variant in ("continuous", "static"):
            with private_server([(spec, VERSION)], store=stores[variant], threads=threads) as server:
                served_clients(server, PATH, gpt2_body, 1, 1, 0.01, 0)  # warm-up
                for clients in (1, 8):
                    per_client = rounds if clients == 8 else rounds * 2
                    traces = served_clients(server, PATH, gpt2_body, clients, per_client, think_s, 7)
                    results[(variant, clients)] = summarise(*traces)
    lines = [f"GPT-2 124M shape (random weights), greedy, {NEW_TOKENS} new tokens per request, streaming; each client "
             f"waits an exponential think time (mean {think_s:.1f} s) before each request; {threads} ONNX Runtime "
             "threads in-process and in the worker.", "",
             "| clients | path | tok/s (aggregate) | served / raw | first token p50 ms | p99 ms | inter-token p50 ms |",
             "|---|---|---|---|---|---|---|"]
    for clients in (1, 8):
        raw = results[("raw", clients)]["tok_s"]
        for variant, label in (("raw", "raw loop in-process (same handler, no server)"),
                               ("continuous", "served, continuous batching"), ("static", "served, static batching")):
            r = results[(variant, clients)]
            lines.append(f"| {clients} | {label} | {r['tok_s']:.1f} | {r['tok_s'] / raw:.2f} | {r['ttft_p50'] * 1000:.0f} "
                         f"| {r['ttft_p99'] * 1000:.0f} | {r['itl_p50'] * 1000:.1f} |")
    return "\n".join(lines)


# -- slice ------------------------------------------------------------------------------------------------
def slice_sweep(threads: int, window_s: float, values=(0, 10, 25, 50)) -> str:
    registry = load_registry()
    lines = ["| model | request | slice_ms | requests/s (4 clients) | p50 ms |", "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory(prefix="bench-iterative-slice-") as tmp:
        stores = image_archives(Path(tmp))
        for model, (_, small) in IMAGES.items():
            spec = registry[model]
            for slice_ms in values:
                with private_server([(spec, spec.default_version)], store=stores[model]["continuous"], threads=threads,
                                    slice_ms=slice_ms) as server:
                    latency(server, model, small)
                    latencies, stop = [], time.perf_counter() + window_s

                    def client(c):
                        out = []
                        while time.perf_counter() < stop:
                            out.append(latency(server, model, {**small, "seed": c}))
                        return out

                    start = time.perf_counter()
                    with ThreadPoolExecutor(4) as pool:
                        for part in pool.map(client, range(4)):
                            latencies += part
                    wall = time.perf_counter() - start
                lines.append(f"| {model} | {_req(small)} | {slice_ms} | {len(latencies) / wall:.1f} | "
                             f"{statistics.median(latencies) * 1000:.1f} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="joining,gpt2,slice")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (make serve gives each 1 here)")
    parser.add_argument("--gpt2-threads", type=int, default=2)
    parser.add_argument("--think", type=float, default=0.5, help="mean think time between a client's requests, s")
    parser.add_argument("--seconds", type=float, default=8.0, help="duration of each slice-sweep run")
    args = parser.parse_args(argv)
    parts = args.parts.split(",")
    runs = {"joining": ("A small request behind a big one (diffusion, ebm)",
                        lambda: f"Private TorchServe, one worker, {args.threads} thread. The static rows run the "
                                f"big loop to its end, so they are taken once.\n\n" + joining(args.rounds, args.threads)),
            "gpt2": ("gpt2_qa at the 124M shape, clients arriving at random times",
                     lambda: gpt2(args.rounds, args.gpt2_threads, args.think)),
            "slice": ("Scheduler slice (steps per handle() call) for cheap steps",
                      lambda: slice_sweep(args.threads, args.seconds))}
    for part in parts:  # each part is its own side-by-side run, in its own section
        title, run = runs[part]
        load = os.getloadavg()[0]
        text = (f"Command: `python -m loadtests iterative --parts {part} --rounds {args.rounds}` "
                f"({time.strftime('%Y-%m-%d')}, 2-core reference machine, no GPU; 1-minute load average at start "
                f"{load:.1f}). Medians of {args.rounds} rounds unless said.\n\n" + run())
        print(text)
        replace_section(BENCHMARKS, f"iterative-{part}", title, text)

