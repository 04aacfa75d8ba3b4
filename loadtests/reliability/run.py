"""`make reliability` / `make soak`: the whole reliability suite against the running server (`make serve`),
written to docs/RELIABILITY.md (+ docs/reliability-rss.svg).

    python -m loadtests reliability [--soak-seconds 600]      (make reliability)
    python -m loadtests soak [--soak-seconds 600]             (make soak: only 5.)

1. every registry model gets its whole generated hostile-input corpus (500+ requests, hostile.py), then a body
   one byte over max_request_size; worker PIDs must not change;
2. every model's worker is killed with SIGKILL under load: recovery time, requests failed, requests after;
3. overload: a load above capacity on one model of each class (overload.py): refusals, their bodies and
   Retry-After, queue depth;
4. the JVM itself killed under load while `python -m genai_ops.container` supervises a private server, and
   damaged archives at its start (jvm_faults.py);
5. a bounded mixed-load soak records RSS/PSS per process; growth after warm-up must stay under 10% and the
   PSS total within the budget.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time

from genai_ops.registry import REPO_ROOT, load_registry
from loadtests.reliability.faults import kill_worker_under_load
from loadtests.reliability.hostile import oversized_case
from loadtests.reliability.jvm_faults import jvm_fault_section
from loadtests.reliability.heavy import SECTION as HEAVY_SECTION, heavy_section
from loadtests.reliability.overload import overload_section
from loadtests.reliability.send_corpus import check, probe
from loadtests.reliability.soak import soak, svg_plot
from genai_ops.server import CONFIG_TEMPLATE, Server, read_properties

GROWTH_LIMIT = 10.0  # percent, after warm-up
PSS_BUDGET_MB = 3 * 1024  # all eight models, JVM included


def input_section(server: Server, registry) -> tuple[list[str], bool]:
    # The whole generated corpus (500+ per model, hostile.py); a worker that died and was replaced during it shows
    # as changed PIDs (probe.worker_pids, from the management API).
    rows = ["| model | hostile requests | 5xx | wrong answers | worker PIDs unchanged |", "|---|---|---|---|---|"]
    ok = True
    for spec in registry.values():
        result = probe(server, spec)
        ok &= result.ok
        rows.append(f"| {spec.name} | {result.tried} | {len(result.server_errors)} | {len(result.wrong)} | "
                    f"{'yes' if result.workers_kept else 'NO'} |")
        rows += [f"|  | {' '.join(p.split())[:150]} | | | |" for p in (result.server_errors + result.wrong)[:5]]
    limit = int(read_properties(CONFIG_TEMPLATE)["max_request_size"])
    over = check(server, next(iter(registry.values())), oversized_case(limit))
    ok &= over is None
    rows.append("")
    rows.append(f"A body of max_request_size + 1 = {limit + 1:,} bytes: "
                + ("TorchServe's 413, as documented." if over is None else f"UNEXPECTED: {over}"))
    return rows, ok


def fault_section(server: Server, registry) -> tuple[list[str], bool]:
    rows = ["| model | recovery (kill -9 -> new worker READY) | ok / failed during | ok / failed after recovery |",
            "|---|---|---|---|"]
    ok = True
    for spec in registry.values():
        r = kill_worker_under_load(server, spec)
        ok &= r["new_pid"] is not None and r["after_recovery"]["failed"] == 0
        rows.append(f"| {spec.name} | {r['recovery_seconds']} s | {r['during']['ok']} / {r['during']['failed']} | "
                    f"{r['after_recovery']['ok']} / {r['after_recovery']['failed']} |")
    return rows, ok


def soak_section(server: Server, registry, seconds: float) -> tuple[list[str], bool]:
    result = soak(server, list(registry.values()), seconds=seconds)
    (REPO_ROOT / "docs" / "reliability-rss.svg").write_text(svg_plot(result["samples"], result["warmup"]))
    growth, last = result["growth_percent_after_warmup"], result["samples"][-1]
    ok = (growth["rss_total"] < GROWTH_LIMIT and growth["pss_total"] < GROWTH_LIMIT
          and set(result["by_status"]) == {200} and result["worker_restarts"] == 0)
    rows = [f"{result['seconds']:.0f} s, {result['clients']} closed-loop clients, every model's sample request "
            f"chosen at random; {result['requests']:,} requests, statuses {result['by_status']}, worker restarts "
            f"{result['worker_restarts']}.", "",
            f"Growth after the {result['warmup']:.0f} s warm-up (limit {GROWTH_LIMIT:.0f}%): RSS total "
            f"{growth['rss_total']}%, PSS total {growth['pss_total']}% (JVM {growth['pss_jvm']}%, workers "
            f"{growth['pss_workers']}%).", "",
            f"Memory at the end: PSS **{last['pss_total']:,.0f} MB** in all (budget {PSS_BUDGET_MB:,} MB: "
            f"{'within' if last['pss_total'] <= PSS_BUDGET_MB else 'OVER'}), RSS {last['rss_total']:,.0f} MB "
            "(RSS counts the libraries the workers share once per worker; PSS divides them).", "",
            "![memory over the soak](reliability-rss.svg)", "",
            "| process | pid | RSS MB | PSS MB | USS MB (its own) | PSS growth after warm-up | native libraries mapped |",
            "|---|---|---|---|---|---|---|"]
    rows += [f"| {p['role']} | {p['pid']} | {p['rss_mb']:.0f} | {p['pss_mb']:.0f} | {p['uss_mb']:.0f} | "
             f"{p['pss_growth_percent']}% | {', '.join(p['libraries']) or '-'} |" for p in result["processes"]]
    rows += ["", *memory_cuts(result["processes"])]
    rows += ["", "Samples (s, PSS total MB, RSS total MB): " + ", ".join(
        f"{s['t']:.0f}/{s['pss_total']:.0f}/{s['rss_total']:.0f}" for s in result["samples"])]
    ok &= last["pss_total"] <= PSS_BUDGET_MB
    return rows, ok


def memory_cuts(processes: list[dict]) -> list[str]:
    """What each worker costs and what would cut it, from the soak's last per-process figures."""
    workers = [p for p in processes if p["role"] != "jvm"]
    jvm = sum(p["pss_mb"] for p in processes if p["role"] == "jvm")
    own = sum(p["uss_mb"] for p in workers)
    shared = sum(p["pss_mb"] - p["uss_mb"] for p in workers)
    with_torch = [p for p in workers if "torch" in p["libraries"]]
    torch_pss = sum(p["pss_mb"] for p in with_torch)
    return [
        f"What it costs: the JVM {jvm:,.0f} MB PSS; {len(workers)} workers {own:,.0f} MB of their own pages (USS: "
        f"the model, its session, Python's heap) plus {shared:,.0f} MB, their shares of the pages they map together "
        f"(Python, numpy, onnxruntime code). Workers that map libtorch: {len(with_torch)} "
        f"({', '.join(p['role'] for p in with_torch) or 'none'}; {torch_pss:,.0f} MB PSS together). TorchServe's "
        "worker protocol imports torch at module level, which cost every worker ~280 MB of its own; "
        "genai_ops/worker_site/sitecustomize.py defers that import until a handler uses torch, so only these "
        "load it (README, \"Workers load torch only when they use it\"). What would cut it further: (1) **no torch "
        "where it is only probed**: spaCy's thinc imports torch if it is installed, so the embeddings worker loads it "
        "for nothing; (2) **ebm on ONNX Runtime**: Langevin needs the energy's gradient, which an exported graph "
        "would have to provide (a gradient graph), then no worker would need torch; (3) **fewer workers**: a "
        "served version needs at least one worker of its own (TorchServe runs one model per worker process); "
        "versions nobody calls can be unregistered (`make ctl`); (4) **the JVM heap**: with no `vmargs` in "
        "config.properties the JDK's default cap applies (a quarter of RAM); `vmargs=-Xmx256m` would bound it "
        "(not set here: the JVM's PSS above is what it actually used)."]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--soak-seconds", type=float, default=600)
    parser.add_argument("--soak-only", action="store_true")
    args = parser.parse_args(argv)
    server, registry = Server(), load_registry()
    if not server.healthy():
        print("TorchServe is not running (or not healthy): `make serve` first", file=sys.stderr)
        return 1
    served = {m["modelName"] for m in server.call("GET", "management", "/models").json()["models"]}
    registry = {name: spec for name, spec in registry.items() if name in served}
    sections, ok = [], True
    if not args.soak_only:
        for title, fn in (("Hostile and malformed input", input_section), ("Worker faults", fault_section),
                          ("Overload", overload_section), (HEAVY_SECTION[1], heavy_section),
                          ("JVM faults, under the container entrypoint", lambda *_: jvm_fault_section())):
            print(f"== {title}", flush=True)
            rows, passed = fn(server, registry)
            sections += [f"## {title}", "", *rows, ""]
            ok &= passed
    print("== Soak", flush=True)
    rows, passed = soak_section(server, registry, args.soak_seconds)
    sections += ["## Soak", "", *rows, ""]
    ok &= passed
    head = ["# Reliability", "", f"Measured {time.strftime('%Y-%m-%d %H:%M')} UTC on {platform.node() or 'this machine'} "
            f"({platform.machine()}, 2 cores) with `python -m loadtests {'soak' if args.soak_only else 'reliability'} "
            f"--soak-seconds {args.soak_seconds:.0f}` against `make serve` "
            f"(models: {', '.join(registry)}). Result: **{'PASS' if ok else 'FAIL'}**.", ""]
    (REPO_ROOT / "docs" / "RELIABILITY.md").write_text("\n".join(head + sections))
    print(json.dumps({"ok": ok}))
    return 0 if ok else 1

