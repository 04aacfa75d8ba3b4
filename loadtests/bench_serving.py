"""Serving benchmarks (issue 6), each side by side in one run against a private TorchServe on free loopback ports
serving the archives `make all` built (model_store/):

  python -m loadtests.bench_serving [--parts overhead,seed,sweep,cuts,settings,peers] [--duration 10] [--smoke]

  overhead  per model (cnn, gan): served requests/s under Locust vs the same work in-process, at the batch size
            TorchServe formed: (a) the ONNX Runtime session alone, (b) the whole handler (decode, preprocess,
            session, postprocess, JSON) called as TorchServe calls it. Where the time goes: CPU seconds of the
            JVM, the worker and Locust during the served run, and a py-spy profile of the worker.
  seed      the seeds' serving path (loadtests/seed_app.py: FastAPI + uvicorn, eager torch, one request at a
            time) vs TorchServe, same payloads, same Locust load, alternating, for cnn, gan, diffusion and
            gpt2_qa (tokens/s from each response's completion_tokens).
  sweep     batching policy: requests/s and p50/p99 for batchSize / maxBatchDelay / workers settings at 1, 4
            and 16 users (the same archive registered under another name with management-API overrides);
            a PNG plot per model in docs/bench/.
  peers     issue 16: TorchServe REST and gRPC vs a FastAPI micro-batcher and LitServe on the same model.onnx, and
            the whole handler in-process and the seed app, at 1, 4 and 16 users (loadtests/bench_peers.py;
            `make bench-peers`).
  cuts      issue 16: each cost cut on the one-shot path, before beside after, in-process (loadtests/bench_cuts.py;
  settings  `make bench-cuts`) and TorchServe settings served: workers per model, netty threads.

Writes the `serving-overhead`, `seed-path`, `batching-sweep`, `serving-cuts`, `serving-settings` and `serving-peers`
sections of docs/BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import psutil
import requests

from genai_ops.registry import REPO_ROOT, Paths, load_registry
from genai_ops.server import Server
from loadtests.locust_run import SEED_LOCUSTFILE, LoadResult, run_locust
from loadtests.report import replace_section

DOCS = REPO_ROOT / "docs"
PORT_NAMES = ("inference", "management", "metrics", "grpc_inference", "grpc_management")
SWEEP = [  # (batchSize, maxBatchDelay ms, workers)
    (1, 0, 1), (8, 0, 1), (8, 1, 1), (8, 5, 1), (16, 1, 1), (16, 5, 1), (16, 25, 1), (8, 1, 2)]
SWEEP_USERS = (1, 4, 16)
SEED_USERS = {"cnn": 16, "gan": 16, "diffusion": 4, "gpt2_qa": 8}


@contextmanager
def private_server(registered: list[tuple], store: Path | None = None, threads: int | None = None,
                   overrides: dict[str, str] | None = None):
    """TorchServe in a temp dir on free loopback ports serving `registered` ((spec, version) pairs) from `store`
    (default model_store/). `threads` sets every worker's thread count for this server only; `overrides` replaces
    config.properties keys (Server.overrides)."""
    from tests.e2e.conftest import free_ports

    saved = os.environ.get("GENAI_THREADS_PER_WORKER")
    if threads:
        os.environ["GENAI_THREADS_PER_WORKER"] = str(threads)  # read by the workers TorchServe starts
    try:
        with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
            server = Server(workdir=Path(tmp), store=store or Paths().model_store,
                            ports=dict(zip(PORT_NAMES, free_ports(5))), overrides=dict(overrides or {}))
            server.start()
            try:
                for spec, version in registered:
                    server.register(spec, version, timeout_s=300)
                yield server
            finally:
                server.stop()
    finally:
        if threads:
            os.environ.pop("GENAI_THREADS_PER_WORKER", None)
            if saved is not None:
                os.environ["GENAI_THREADS_PER_WORKER"] = saved


def defaults(models: list[str]) -> list[tuple]:
    registry = load_registry()
    return [(registry[m], registry[m].default_version) for m in models]


def load(server: Server, model: str, users: int, duration: int, path: str | None = None) -> LoadResult:
    env = {"GENAI_KEY_FILE": str(server.key_file)}
    if path:
        env[f"GENAI_PATH_{model.upper()}"] = path
    return run_locust(server.url("inference"), model, users, f"{duration}s", env=env, server_pid=server.pid(),
                      logs=server.workdir / "logs")


# -- 1. overhead ------------------------------------------------------------------------------------------------
def sample_request(spec) -> dict:
    """The registry sample as TorchServe hands it to a handler (JSON bodies arrive decoded)."""
    body, content_type = spec.sample_body()
    return {"body": json.loads(body) if content_type == "application/json" else body}


def raw_rates(model: str, batch: int, seconds: float = 4.0, base: Path | None = None) -> dict:
    """In-process requests/s at `batch` requests per call: the session alone and the whole handler, on `base`'s
    artifacts (default: the repo's)."""
    from loadtests.inprocess import build_handler, layout

    spec = load_registry()[model]
    with tempfile.TemporaryDirectory() as tmp:
        version = spec.default_version
        handler = build_handler(spec, version, layout(spec, version, Paths(base or REPO_ROOT), Path(tmp),
                                                      prefer_mar=False))
        ctx = handler.context
        requests_ = [sample_request(spec) for _ in range(batch)]
        whole = lambda: handler.handle(requests_, ctx)  # noqa: E731
        # The session input of one real batch, captured on its way in, is what the session alone is timed on.
        engine, seen = handler.model, []
        handler.model = lambda x: (seen.append(x), engine(x))[1]
        whole()
        handler.model = engine
        session = lambda: engine(seen[0])  # noqa: E731
        return {"session": batch * _calls_per_s(session, seconds), "handler": batch * _calls_per_s(whole, seconds),
                "threads": handler.threads}


def _calls_per_s(fn, seconds: float) -> float:
    fn()  # warm-up
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - start)


def py_spy_profile(pid: int, seconds: int) -> subprocess.Popen:
    out = Path(tempfile.mkstemp(suffix=".txt")[1])
    proc = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid), "--duration",
                             str(seconds), "--rate", "200", "--format", "raw", "--idle", "--nonblocking", "--output",
                             str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    proc.out_file = out
    return proc


PROFILE_BUCKETS = [  # first match wins, checked from the innermost frame outwards
    ("idle: waiting for the frontend's next batch", ("_retrieve_buffer", "retrieve_msg")),
    ("ONNX Runtime session", ("onnxruntime",)),
    ("image decode / preprocess / PNG encode", ("PIL", "imaging.py", "decode_image", "png")),
    ("JSON and request envelope", ("json", "envelope.py", "schema.py", "pydantic")),
    ("metrics and logging", ("ts/metrics", "logging/")),
    ("TorchServe Python protocol", ("ts/protocol", "model_service_worker", "ts/service")),
]


def summarise_profile(proc: subprocess.Popen) -> dict[str, float]:
    proc.wait(timeout=120)
    counts: dict[str, int] = {}
    for line in proc.out_file.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        frames = stack.split(";")[::-1]
        bucket = next((label for frame in frames for label, keys in PROFILE_BUCKETS if any(k in frame for k in keys)),
                      "other Python (handler, numpy)")
        counts[bucket] = counts.get(bucket, 0) + int(n)
    total = sum(counts.values()) or 1
    return {k: v / total for k, v in sorted(counts.items(), key=lambda kv: -kv[1])}


def overhead(duration: int, users: int) -> str:
    models = ["cnn", "gan"]
    rows, profiles = [], {}
    for model in models:  # one server per model, so its one worker is the process to profile
        with private_server(defaults([model])) as server:
            load(server, model, users, 3)  # warm-up
            (worker,) = psutil.Process(server.pid()).children(recursive=True)
            profiler = py_spy_profile(worker.pid, max(2, duration - 2))
            served = load(server, model, users, duration)
            profiles[model] = summarise_profile(profiler)
        batch = max(1, round(served.batch_mean or 1))
        rows.append((model, served, batch, raw_rates(model, batch)))
    spec_lines = ", ".join(f"`{m}` {json.dumps(load_registry()[m].sample.get('json') or load_registry()[m].sample['file'])}"
                           for m in models)
    out = [f"Command: `python -m loadtests.bench_serving --parts overhead --duration {duration} --users {users}` "
           f"({time.strftime('%Y-%m-%d')}). Served: {users} closed-loop Locust users (FastHttpUser) for {duration} s "
           f"on one worker with the registry's batching; payloads {spec_lines}. Raw: the same archive's session and "
           "handler in this process at the mean batch size TorchServe formed, same thread count as the worker.", "",
           "| model | served req/s | p50 / p99 ms | mean batch | raw session req/s | raw handler req/s | served / raw session | served / raw handler |",
           "|---|---|---|---|---|---|---|---|"]
    for model, s, batch, raw in rows:
        out.append(f"| {model} | {s.rps:.0f} | {s.p50:.0f} / {s.p99:.0f} | {_batch(s)} | {raw['session']:.0f} | "
                   f"{raw['handler']:.0f} | {s.rps / raw['session']:.2f} | {s.rps / raw['handler']:.2f} |")
    out += ["", "Where the served time goes: CPU seconds per process group during the served run (2 cores x "
            f"{duration} s = {2 * duration} CPU s available) and the worker's py-spy profile (share of samples, idle "
            "included).", "", "| model | JVM | worker | Locust | worker profile |", "|---|---|---|---|---|"]
    for model, s, _, _ in rows:
        prof = "; ".join(f"{k} {v:.0%}" for k, v in profiles[model].items() if v >= 0.02)
        out.append(f"| {model} | {s.cpu_s.get('jvm', 0):.1f} | {s.cpu_s.get('workers', 0):.1f} | "
                   f"{s.cpu_s['locust']:.1f} | {prof} |")
    return "\n".join(out)


# -- 2. the seeds' serving path -----------------------------------------------------------------------------------
@contextmanager
def seed_app(models: list[str], project: Path | None = None):
    """loadtests/seed_app.py under uvicorn on a free loopback port, on `project`'s checkpoints (default: the repo).
    Yields (its URL, its process)."""
    from tests.e2e.conftest import free_ports

    port = free_ports(1)[0]
    env = {**os.environ, "GENAI_SEED_MODELS": ",".join(models), "GENAI_SEED_PROJECT": str(project or Paths().base)}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "loadtests.seed_app:app", "--host", "127.0.0.1",
                             "--port", str(port), "--log-level", "warning"], cwd=REPO_ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(url + "/openapi.json", timeout=2).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        else:
            raise RuntimeError("the seed app did not start in 120 s")
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def seed_path(duration: int, rounds: int, models: list[str]) -> str:
    registry = load_registry()
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
    out = [f"Command: `python -m loadtests.bench_serving --parts seed --duration {duration} --rounds {rounds}` "
           f"({time.strftime('%Y-%m-%d')}). Seed path: loadtests/seed_app.py (FastAPI + uvicorn, eager torch, no "
           "batching, seed 1's request shapes) on the same checkpoints; ours: TorchServe with the registry's settings; "
           f"both sides use {os.cpu_count()} threads per model. "
           f"Closed-loop Locust users, {duration} s per side per round, {rounds} rounds alternating; medians.", "",
           "| model | payload | users | ours req/s | seed req/s | ours / seed | ours p50 / p99 ms | seed p50 / p99 ms | failures (ours, seed) |",
           "|---|---|---|---|---|---|---|---|---|"]
    tokens = []
    for model in models:
        o, s = (_median(results[model][side]) for side in ("ours", "seed"))
        payload = json.dumps(registry[model].sample.get("json") or registry[model].sample["file"])
        fails = (sum(r.failures for r in results[model]["ours"]), sum(r.failures for r in results[model]["seed"]))
        out.append(f"| {model} | `{payload}` | {SEED_USERS[model]} | {o.rps:.1f} | {s.rps:.1f} | "
                   f"{o.rps / s.rps if s.rps else float('inf'):.1f}x | {o.p50:.0f} / {o.p99:.0f} | {s.p50:.0f} / {s.p99:.0f} | {fails[0]}, {fails[1]} |")
        if o.tok_s is not None and s.tok_s:
            tokens.append(f"{model}: generated tokens/s, ours {o.tok_s:.1f} vs seed {s.tok_s:.1f} = {o.tok_s / s.tok_s:.1f}x "
                          "(sampled at the sample's settings; each side's answers end at EOS or max_new_tokens).")
    return "\n".join(out + ([""] + tokens if tokens else []))


def _median(runs: list[LoadResult]) -> LoadResult:
    return LoadResult(rps=statistics.median(r.rps for r in runs), p50=statistics.median(r.p50 for r in runs),
                      p99=statistics.median(r.p99 for r in runs), requests=sum(r.requests for r in runs),
                      failures=sum(r.failures for r in runs),
                      tok_s=statistics.median(r.tok_s for r in runs) if all(r.tok_s for r in runs) else None)


# -- 3. batching policy -----------------------------------------------------------------------------------------
def sweep(duration: int) -> str:
    registry = load_registry()
    models = ["cnn", "gan"]
    table: dict[str, dict[tuple, dict[int, LoadResult]]] = {m: {} for m in models}
    with private_server([]) as server:
        for model in models:
            spec = registry[model]
            name = f"{model}_sweep"
            for bs, delay, workers in SWEEP:
                server.manage("POST", "/models", f"register {name}", ok=(200, 201), timeout=300, params={
                    "url": spec.mar_file(spec.default_version), "model_name": name, "batch_size": bs,
                    "max_batch_delay": delay, "initial_workers": workers, "synchronous": "true"})
                try:
                    load(server, model, 4, 2, path=f"/predictions/{name}")  # warm-up
                    table[model][(bs, delay, workers)] = {
                        users: load(server, model, users, duration, path=f"/predictions/{name}")
                        for users in SWEEP_USERS}
                finally:
                    server.manage("DELETE", f"/models/{name}", f"unregister {name}", timeout=120)
    out = [f"Command: `python -m loadtests.bench_serving --parts sweep --duration {duration}` "
           f"({time.strftime('%Y-%m-%d')}). Each setting registers the model's default archive as `<model>_sweep` "
           f"with management-API overrides, then runs closed-loop Locust users for {duration} s at each concurrency. "
           "Payloads: the registry samples.", ""]
    for model in models:
        cfg = registry[model].model_config
        out += [f"**{model}** (registry now: batchSize {cfg['batchSize']}, maxBatchDelay {cfg['maxBatchDelay']} ms, "
                f"{cfg.get('minWorkers', 1)} worker): ![{model} batching](bench/{model}-batching.png)", "",
                "| batchSize | maxBatchDelay ms | workers | " + " | ".join(
                    f"{u} users: req/s, p50/p99 ms, batch" for u in SWEEP_USERS) + " |",
                "|---|---|---|" + "---|" * len(SWEEP_USERS)]
        for (bs, delay, workers), by_users in table[model].items():
            cells = [f"{r.rps:.0f}, {r.p50:.0f}/{r.p99:.0f}, {_batch(r)}" for r in by_users.values()]
            out.append(f"| {bs} | {delay} | {workers} | " + " | ".join(cells) + " |")
        out.append("")
        plot(model, table[model])
    return "\n".join(out)


def _batch(result: LoadResult) -> str:
    return "n/a" if result.batch_mean is None else f"{result.batch_mean:.1f}"


def plot(model: str, results: dict[tuple, dict[int, LoadResult]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_rps, ax_lat) = plt.subplots(1, 2, figsize=(11, 4))
    for (bs, delay, workers), by_users in results.items():
        label = f"batch {bs}, delay {delay} ms, {workers} worker{'s' if workers > 1 else ''}"
        users = list(by_users)
        line, = ax_rps.plot(users, [r.rps for r in by_users.values()], marker="o", label=label)
        ax_lat.plot(users, [r.p99 for r in by_users.values()], marker="o", color=line.get_color(), label=label)
        ax_lat.plot(users, [r.p50 for r in by_users.values()], linestyle="--", color=line.get_color())
    ax_rps.set(title=f"{model}: throughput", xlabel="concurrent users", ylabel="requests/s", xscale="log")
    ax_lat.set(title=f"{model}: latency (solid p99, dashed p50)", xlabel="concurrent users", ylabel="ms",
               xscale="log", yscale="log")
    for ax in (ax_rps, ax_lat):
        ax.set_xticks(SWEEP_USERS, [str(u) for u in SWEEP_USERS])
        ax.grid(alpha=0.3)
    ax_rps.legend(fontsize=8)
    fig.tight_layout()
    (DOCS / "bench").mkdir(exist_ok=True)
    fig.savefig(DOCS / "bench" / f"{model}-batching.png", dpi=100)
    plt.close(fig)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default=None, help="default: overhead,seed,sweep,cuts,settings,peers "
                        "(with --smoke: peers)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured load")
    parser.add_argument("--users", type=int, default=16, help="users for the overhead part")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds for the seed part")
    parser.add_argument("--seed-models", default=",".join(SEED_USERS), help="models for the seed part")
    parser.add_argument("--peer-rounds", type=int, default=3, help="alternating rounds for the peers part")
    parser.add_argument("--peer-users", default="1,4,16", help="users for the peers part")
    parser.add_argument("--peer-models", default="cnn,gan", help="models for the peers part")
    parser.add_argument("--settings-users", default="1,16", help="users for the settings part")
    parser.add_argument("--warmup", type=int, default=8, help="peers part: warm-up seconds per side at each start")
    parser.add_argument("--base", type=Path, default=REPO_ROOT,
                        help="peers part: project dir holding artifacts/ and model_store/ (default: the repo)")
    parser.add_argument("--docs", type=Path, default=None, help="file to write (default docs/BENCHMARKS.md)")
    parser.add_argument("--smoke", action="store_true",
                        help="the named parts (default peers) at the least (1 s loads, 1 round, 1 user, no warm-up): "
                             "every side answers; "
                             "writes only to --docs when given")
    args = parser.parse_args(argv)
    if args.smoke:
        args.parts = args.parts or "peers"
        args.duration, args.peer_rounds, args.peer_users, args.settings_users, args.warmup = 1, 1, "1", "1", 0
    args.parts = args.parts or "overhead,seed,sweep,cuts,settings,peers"
    docs = args.docs or (None if args.smoke else DOCS / "BENCHMARKS.md")
    machine = f"1-minute load average at start {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores."
    parts = {"overhead": ("serving-overhead", "Serving overhead: TorchServe vs in-process",
                          lambda: overhead(args.duration, args.users)),
             "seed": ("seed-path", "Against the seeds' serving path (FastAPI, eager torch, one at a time)",
                      lambda: seed_path(args.duration, args.rounds, args.seed_models.split(","))),
             "sweep": ("batching-sweep", "Batching policy sweep", lambda: sweep(args.duration)),
             "peers": ("serving-peers", "Against what a user would run instead: FastAPI and LitServe peers",
                       lambda: peers_part(args)),
             "cuts": ("serving-cuts", "Cost cuts on the one-shot path, each measured alone",
                      lambda: cuts_part(args)),
             "settings": ("serving-settings", "TorchServe settings for the one-shot models",
                          lambda: settings_part(args))}
    for part in args.parts.split(","):
        key, title, run = parts[part]
        text = run() + ("" if part == "peers" else "\n\n" + machine)  # the peers part names its machine itself
        print(text, flush=True)
        if docs is not None:
            replace_section(docs, key, title, text)


def cuts_part(args) -> str:
    from loadtests.bench_cuts import cuts

    return cuts(args.base, rounds=1 if args.smoke else 5, seconds=0.1 if args.smoke else 1.0)


def settings_part(args) -> str:
    from loadtests.bench_cuts import settings

    return settings(args.base, [int(n) for n in args.settings_users.split(",")], 1 if args.smoke else args.peer_rounds,
                    args.duration, args.peer_models.split(","))


def peers_part(args) -> str:
    from loadtests.bench_peers import peers

    return peers(args.duration, args.peer_rounds, [int(n) for n in args.peer_users.split(",")],
                 args.peer_models.split(","), warmup=args.warmup, base=args.base)


if __name__ == "__main__":
    main()
