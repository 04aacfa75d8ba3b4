"""Against the seeds' serving path (`python -m loadtests serving --parts seed`): loadtests/seed_app.py (FastAPI +
uvicorn, eager torch, one request at a time) vs TorchServe, same payloads, same Locust load, alternating, for cnn,
gan, diffusion and gpt2_qa (tokens/s from each response's completion_tokens). Writes the `seed-path` section."""
from __future__ import annotations

import json
import os
import statistics
import time

from genai_ops.registry import load_registry
from loadtests.harness.locust_run import SEED_LOCUSTFILE, LoadResult, run_locust
from loadtests.harness.servers import defaults, load, private_server, seed_app

SEED_USERS = {"cnn": 16, "gan": 16, "diffusion": 4, "gpt2_qa": 8}


def measure(duration: int, rounds: int, models: list[str]) -> dict[str, dict[str, list[LoadResult]]]:
    """{model: {"ours": [LoadResult per round], "seed": [...]}}, the two sides alternating."""
    results: dict[str, dict[str, list[LoadResult]]] = {m: {"ours": [], "seed": []} for m in models}
    # Both sides get the machine's cores: torch in the seed app uses them all by default; our workers would
    # otherwise split them with the whole registry's workers (genai_serve/runtime.py thread_budget).
    with private_server(defaults(models), threads=os.cpu_count()) as server, seed_app(models) as (seed_url, _):
        for model in models:
            users = SEED_USERS[model]
            warm = max(3, duration // 2)  # long enough for a few of the slowest requests (diffusion: ~1 s each)
            load(server, model, users, warm)  # warm-up both
            run_locust(seed_url, model, users, f"{warm}s", locustfile=SEED_LOCUSTFILE)
            for _ in range(rounds):  # alternate so drift on the machine hits both sides alike
                results[model]["ours"].append(load(server, model, users, duration))
                results[model]["seed"].append(run_locust(seed_url, model, users, f"{duration}s",
                                                         locustfile=SEED_LOCUSTFILE))
    return results


def seed_path(duration: int, rounds: int, models: list[str]) -> str:
    results = measure(duration, rounds, models)
    out = [f"Command: `python -m loadtests serving --parts seed --duration {duration} --rounds {rounds}` "
           f"({time.strftime('%Y-%m-%d')}). Seed path: loadtests/seed_app.py (FastAPI + uvicorn, eager torch, no "
           "batching, the sps-genai app's request shapes) on the same checkpoints; ours: TorchServe with the registry's settings; "
           f"both sides use {os.cpu_count()} threads per model. "
           f"Closed-loop Locust users, {duration} s per side per round, {rounds} rounds alternating; medians.", "",
           "| model | payload | users | ours req/s | seed req/s | ours / seed | ours p50 / p99 ms | seed p50 / p99 ms | failures (ours, seed) |",
           "|---|---|---|---|---|---|---|---|---|"]
    tokens = []
    for model in models:
        out.append(row(model, results[model]))
        o, s = (median_result(results[model][side]) for side in ("ours", "seed"))
        if o.tok_s is not None and s.tok_s:
            tokens.append(f"{model}: generated tokens/s, ours {o.tok_s:.1f} vs seed {s.tok_s:.1f} = {o.tok_s / s.tok_s:.1f}x "
                          "(sampled at the sample's settings; each side's answers end at EOS or max_new_tokens).")
    return "\n".join(out + ([""] + tokens if tokens else []))


def row(model: str, runs: dict[str, list[LoadResult]]) -> str:
    spec = load_registry()[model]
    o, s = (median_result(runs[side]) for side in ("ours", "seed"))
    payload = json.dumps(spec.sample.get("json") or spec.sample["file"])
    return (f"| {model} | `{payload}` | {SEED_USERS[model]} | {o.rps:.1f} | {s.rps:.1f} | "
            f"{o.rps / s.rps if s.rps else float('inf'):.1f}x | {o.p50:.0f} / {o.p99:.0f} | {s.p50:.0f} / {s.p99:.0f} | "
            f"{o.failures}, {s.failures} |")


def median_result(runs: list[LoadResult]) -> LoadResult:
    """Medians of the rates and percentiles, sums of the counts."""
    return LoadResult(rps=statistics.median(r.rps for r in runs), p50=statistics.median(r.p50 for r in runs),
                      p99=statistics.median(r.p99 for r in runs), requests=sum(r.requests for r in runs),
                      failures=sum(r.failures for r in runs),
                      tok_s=statistics.median(r.tok_s for r in runs) if all(r.tok_s for r in runs) else None)


def part(args) -> str:
    return seed_path(args.duration, args.rounds, args.seed_models.split(","))
