"""Batching policy sweep (`python -m loadtests serving --parts sweep`; `make bench-batching`): requests/s and
p50/p99 for batchSize / maxBatchDelay / workers settings at 1, 4 and 16 users, for cnn and gan (the same archive
registered under another name with management-API overrides); a PNG plot per model in docs/bench/. Writes the
`batching-sweep` section."""
from __future__ import annotations

import time

from genai_ops.registry import REPO_ROOT, load_registry
from genai_ops.server import Server
from loadtests.harness.locust_run import LoadResult, batch_cell
from loadtests.harness.servers import load, private_server

MODELS = ("cnn", "gan")
SWEEP = [  # (batchSize, maxBatchDelay ms, workers): the registry's (16, 1, 2) and what could replace it. 0 ms is
    # "no wait for company", which TorchServe 0.12 turns into batches of at most 2 (wlm/Model.java pollBatch);
    # 5 ms and 25 ms were measured before and cost a lone request their whole delay (docs/BENCHMARKS.md)
    (16, 1, 2), (16, 0, 2), (1, 0, 2), (16, 1, 1), (16, 0, 1)]
SWEEP_USERS = (1, 4, 16)
PLOTS = REPO_ROOT / "docs" / "bench"


def setting_loads(server: Server, spec, setting: tuple, duration: int) -> dict[int, LoadResult]:
    """{users: LoadResult} for `spec`'s default archive registered as `<model>_sweep` with `setting`."""
    bs, delay, workers = setting
    name = f"{spec.name}_sweep"
    server.manage("POST", "/models", f"register {name}", ok=(200, 201), timeout=300, params={
        "url": spec.mar_file(spec.default_version), "model_name": name, "batch_size": bs,
        "max_batch_delay": delay, "initial_workers": workers, "synchronous": "true"})
    try:
        load(server, spec.name, 4, 2, path=f"/predictions/{name}")  # warm-up
        return {users: load(server, spec.name, users, duration, path=f"/predictions/{name}") for users in SWEEP_USERS}
    finally:
        server.manage("DELETE", f"/models/{name}", f"unregister {name}", timeout=120)


def sweep(duration: int) -> str:
    registry = load_registry()
    table = {}
    with private_server([]) as server:
        for model in MODELS:
            table[model] = {setting: setting_loads(server, registry[model], setting, duration) for setting in SWEEP}
    out = [f"Command: `python -m loadtests serving --parts sweep --duration {duration}` "
           f"({time.strftime('%Y-%m-%d')}). Each setting registers the model's default archive as `<model>_sweep` "
           f"with management-API overrides, then runs closed-loop Locust users for {duration} s at each concurrency. "
           "Payloads: the registry samples.", ""]
    for model in MODELS:
        cfg = registry[model].model_config
        out += [f"**{model}** (registry now: batchSize {cfg['batchSize']}, maxBatchDelay {cfg['maxBatchDelay']} ms, "
                f"{cfg.get('minWorkers', 1)} worker): ![{model} batching](bench/{model}-batching.png)", "",
                "| batchSize | maxBatchDelay ms | workers | " + " | ".join(
                    f"{u} users: req/s, p50/p99 ms, batch" for u in SWEEP_USERS) + " |",
                "|---|---|---|" + "---|" * len(SWEEP_USERS)]
        for (bs, delay, workers), by_users in table[model].items():
            cells = [f"{r.rps:.0f}, {r.p50:.0f}/{r.p99:.0f}, {batch_cell(r)}" for r in by_users.values()]
            out.append(f"| {bs} | {delay} | {workers} | " + " | ".join(cells) + " |")
        out.append("")
        plot(model, table[model])
    return "\n".join(out)


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
    PLOTS.mkdir(exist_ok=True)
    fig.savefig(PLOTS / f"{model}-batching.png", dpi=100)
    plt.close(fig)


def part(args) -> str:
    return sweep(args.duration)
