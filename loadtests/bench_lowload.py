"""The iterative models at one client: what serving adds to a lone request (python -m loadtests lowload;
`make bench-lowload`).

For gpt2_qa, diffusion and ebm, on `make all`'s archives, one client sends one small request at a time:
  engine      the model's scheduler and engine alone, stepping the parsed job to its end (no handler, no server)
  in-process  the handler called as TorchServe calls it (loadtests/inprocess.py Frontend: one call per slice)
  served      a private TorchServe with the registry's model-config, one HTTP client (keep-alive)
Rounds alternate the three paths; each figure is the median over all requests. Total latency for every model;
for gpt2_qa also the time to the first token (a streaming request: the first NDJSON token line). Where the rest
goes: `slices` is how many handler calls one request took (each is one JVM -> worker -> JVM round trip when
served), so (served - in-process) / slices is the cost of one round trip. Writes the `iterative-lowload`
section of docs/BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import http.client
import json
import statistics
import tempfile
import time
from pathlib import Path

from genai_ops.registry import Paths, load_registry
from loadtests.harness.report import add_docs_option, platform_line, publish
from loadtests.harness.servers import private_server
from loadtests.harness.timing import rotated
from loadtests.inprocess import Frontend, build_handler, layout

REQUESTS = {  # a small request of each loop (the registry's samples, gpt2_qa's as its README example)
    "gpt2_qa": None,  # the registry's sample
    "diffusion": {"num_samples": 1, "diffusion_steps": 20, "seed": 0},
    "ebm": {"num_samples": 1, "steps": 20, "seed": 0},
}


def _engine_s(handler, body: dict) -> float:
    """The parsed job stepped to its end by the worker's own scheduler, nothing else."""
    sched = handler.scheduler
    job = handler.parse_request(dict(body), "")
    began = time.perf_counter()
    sched.admit("bench", job, sched.cost(job))
    while sched.busy():
        sched.run_slice()
    sched.take("bench")
    return time.perf_counter() - began


def _inprocess(handler, body: dict, stream: bool) -> tuple[float, float | None, int]:
    """(total s, first token s or None, handler calls) for one request through the in-process frontend."""
    front = Frontend(handler, handler.context, batch_size=256)
    rid = front.submit({**body, "stream": True} if stream else dict(body))
    began, first = time.perf_counter(), None
    while front.running or front.waiting:
        front.step()
        if stream and first is None and any('"token"' in c or '"text"' in c for c in front.responses[rid].chunks):
            first = time.perf_counter() - began
    return time.perf_counter() - began, first, front.calls


def _served(conn: http.client.HTTPConnection, token: str, path: str, body: dict, stream: bool) -> tuple[float, float | None]:
    payload = json.dumps({**body, "stream": True} if stream else body).encode()
    began, first = time.perf_counter(), None
    conn.request("POST", path, body=payload, headers={"Authorization": f"Bearer {token}",
                                                      "Content-Type": "application/json"})
    r = conn.getresponse()
    if r.status != 200:
        raise RuntimeError(f"{path}: HTTP {r.status} {r.read()[:200]!r}")
    if stream:
        while True:
            line = r.readline()
            if not line:
                break
            if first is None and line.strip():
                first = time.perf_counter() - began
    else:
        r.read()
    return time.perf_counter() - began, first


def measure(model: str, requests: int, rounds: int, base: Path | None = None) -> dict:
    spec = load_registry()[model]
    paths = Paths(base) if base else Paths()
    body = REQUESTS[model] or dict(spec.sample["json"])
    is_text = model == "gpt2_qa"
    with tempfile.TemporaryDirectory() as tmp:
        handler = build_handler(spec, spec.default_version,
                                layout(spec, spec.default_version, paths, Path(tmp) / "model"))
        times = {"engine": [], "in-process": [], "served": [], "in-process first": [], "served first": []}
        calls = []
        with private_server([(spec, spec.default_version)], store=paths.model_store) as server:
            conn = http.client.HTTPConnection(server.host, server.ports["inference"], timeout=120)
            token, path = server.token("inference"), f"/predictions/{model}"
            for _ in range(2):  # warm-up of every path
                _engine_s(handler, body), _inprocess(handler, body, False), _served(conn, token, path, body, False)
            for r in range(rounds):
                for name in rotated(["engine", "in-process", "served"], r):
                    for _ in range(requests):
                        if name == "engine":
                            times[name].append(_engine_s(handler, body))
                        elif name == "in-process":
                            total, _, n = _inprocess(handler, body, False)
                            times[name].append(total)
                            calls.append(n)
                            if is_text:
                                times["in-process first"].append(_inprocess(handler, body, True)[1])
                        else:
                            times[name].append(_served(conn, token, path, body, False)[0])
                            if is_text:
                                times["served first"].append(_served(conn, token, path, body, True)[1])
            conn.close()
    out = {k: statistics.median(v) * 1000 for k, v in times.items() if v}
    out["slices"] = statistics.median(calls)
    out["request"] = body
    return out


def section(results: dict[str, dict], args) -> str:
    rows = ["| model | request | engine ms | in-process ms | served ms | slices per request | served - in-process "
            "per slice ms | first token in-process / served ms |", "|---|---|---|---|---|---|---|---|"]
    for model, r in results.items():
        req = ", ".join(f"{k} {v}" for k, v in r["request"].items() if k not in ("seed", "context"))
        per_slice = (r["served"] - r["in-process"]) / max(1, r["slices"])
        first = f"{r['in-process first']:.1f} / {r['served first']:.1f}" if "served first" in r else "-"
        rows.append(f"| {model} | {req} | {r['engine']:.1f} | {r['in-process']:.1f} | {r['served']:.1f} | "
                    f"{r['slices']:.0f} | {per_slice:.2f} | {first} |")
    head = (f"Command: `python -m loadtests lowload --requests {args.requests} --rounds {args.rounds}` "
            f"({time.strftime('%Y-%m-%d')}); {platform_line()}. One client, one request at a time, on `make all`'s "
            "archives; medians over all requests, the three paths alternated and rotated each round.")
    return "\n".join([head, "", *rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests lowload", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="gpt2_qa,diffusion,ebm")
    parser.add_argument("--requests", type=int, default=10, help="requests per path per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--base", type=Path, default=None, help="project dir holding artifacts/ and model_store/")
    add_docs_option(parser)
    args = parser.parse_args(argv)
    results = {m: measure(m, args.requests, args.rounds, args.base) for m in args.models.split(",")}
    publish(args.docs, "iterative-lowload", "The iterative models at one client", section(results, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
