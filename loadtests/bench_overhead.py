"""Serving overhead (`python -m loadtests serving --parts overhead`): per model (cnn, gan), served requests/s
under Locust vs the same work in-process at the batch size TorchServe formed: (a) the ONNX Runtime session alone,
(b) the whole handler (decode, preprocess, session, postprocess, JSON) called as TorchServe calls it. Where the
time goes: CPU seconds of the JVM, the workers and Locust during the served run, and a py-spy profile of every
worker of the model (the registry's minWorkers), their samples pooled. Writes the `serving-overhead` section."""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from genai_ops.registry import REPO_ROOT, Paths, load_registry
from loadtests.harness.handlers import raw_rates
from loadtests.harness.locust_run import batch_cell, first_answer
from loadtests.harness.procs import below
from loadtests.harness.servers import defaults, load, private_server

MODELS = ("cnn", "gan")
PROFILE_BUCKETS = [  # first match wins, checked from the innermost frame outwards
    ("idle: waiting for the frontend's next batch", ("_retrieve_buffer", "retrieve_msg")),
    ("ONNX Runtime session", ("onnxruntime",)),
    ("image decode / preprocess / PNG encode", ("PIL", "imaging.py", "decode_image", "png")),
    ("JSON and request envelope", ("json", "envelope.py", "schema.py", "pydantic")),
    ("metrics and logging", ("ts/metrics", "logging/")),
    ("TorchServe Python protocol", ("ts/protocol", "model_service_worker", "ts/service")),
]
OTHER = "other Python (handler, numpy)"


def py_spy_profile(pid: int, seconds: int) -> subprocess.Popen:
    """py-spy recording `pid` for `seconds` in the background; its raw output goes to the Popen's `out_file`."""
    out = Path(tempfile.mkstemp(suffix=".txt")[1])
    proc = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid), "--duration",
                             str(seconds), "--rate", "200", "--format", "raw", "--idle", "--nonblocking", "--output",
                             str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    proc.out_file = out
    return proc


def summarise_profile(procs: list[subprocess.Popen]) -> dict[str, float]:
    """Share of samples per bucket, pooled over the profiles of all of a model's workers, largest first."""
    counts: dict[str, int] = {}
    for proc in procs:
        proc.wait(timeout=120)
        for line in proc.out_file.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            bucket = next((label for frame in stack.split(";")[::-1] for label, keys in PROFILE_BUCKETS
                           if any(k in frame for k in keys)), OTHER)
            counts[bucket] = counts.get(bucket, 0) + int(n)
    total = sum(counts.values()) or 1
    return {k: v / total for k, v in sorted(counts.items(), key=lambda kv: -kv[1])}


def served_run(model: str, users: int, duration: int, base: Path) -> tuple:
    """One private server for `model`: its first answer (bounded wait), a warm-up, then the measured load with
    every worker profiled. (LoadResult, profile shares, workers profiled)."""
    with private_server(defaults([model]), store=Paths(base).model_store) as server:
        first_answer(server.url("inference"), model, env={"GENAI_KEY_FILE": str(server.key_file)})
        load(server, model, users, min(3, duration))  # warm-up
        workers = below(server.pid())
        profilers = [py_spy_profile(pid, max(2, duration - 2)) for pid in workers]
        served = load(server, model, users, duration)
        return served, summarise_profile(profilers), len(workers)


def overhead(duration: int, users: int, base: Path = REPO_ROOT, raw_seconds: float = 4.0) -> str:
    rows = []  # (model, served, workers, profile, batch, raw)
    for model in MODELS:
        served, profile, workers = served_run(model, users, duration, base)
        batch = max(1, round(served.batch_mean or 1))
        rows.append((model, served, workers, profile, batch, raw_rates(model, batch, raw_seconds, base)))
    return "\n".join(render(rows, duration, users))


def render(rows: list[tuple], duration: int, users: int) -> list[str]:
    registry = load_registry()
    payloads = ", ".join(f"`{m}` {json.dumps(registry[m].sample.get('json') or registry[m].sample['file'])}"
                         for m in MODELS)
    workers = ", ".join(f"{model} {n}" for model, _, n, *_ in rows)
    out = [f"Command: `python -m loadtests serving --parts overhead --duration {duration} --users {users}` "
           f"({time.strftime('%Y-%m-%d')}). Served: {users} closed-loop Locust users (FastHttpUser) for {duration} s "
           f"with the registry's workers (workers: {workers}) and batching; payloads {payloads}. Raw: the same "
           "archive's session and handler in this process at the mean batch size TorchServe formed, same thread "
           "count as a worker.", "",
           "| model | served req/s | p50 / p99 ms | mean batch | raw session req/s | raw handler req/s | served / raw session | served / raw handler |",
           "|---|---|---|---|---|---|---|---|"]
    for model, s, _, _, _, raw in rows:
        out.append(f"| {model} | {s.rps:.0f} | {s.p50:.0f} / {s.p99:.0f} | {batch_cell(s)} | {raw['session']:.0f} | "
                   f"{raw['handler']:.0f} | {s.rps / raw['session']:.2f} | {s.rps / raw['handler']:.2f} |")
    out += ["", "Where the served time goes: CPU seconds per process group during the served run (2 cores x "
            f"{duration} s = {2 * duration} CPU s available) and the py-spy profile of all the model's workers "
            "(share of samples, idle included).", "", "| model | JVM | workers | Locust | worker profile |",
            "|---|---|---|---|---|"]
    for model, s, _, profile, _, _ in rows:
        prof = "; ".join(f"{k} {v:.0%}" for k, v in profile.items() if v >= 0.02)
        out.append(f"| {model} | {s.cpu_s.get('jvm', 0):.1f} | {s.cpu_s.get('workers', 0):.1f} | "
                   f"{s.cpu_s['locust']:.1f} | {prof} |")
    return out


def part(args) -> str:
    return overhead(args.duration, args.users, args.base, raw_seconds=0.2 if args.smoke else 4.0)
