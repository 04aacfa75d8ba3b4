"""Batching on vs off for one model, side by side on the running server (make serve first).

  python -m loadtests.batching [--model cnn] [--users 16] [--duration 20s] [--rounds 2]

Registers the model's default archive a second time as <model>_unbatched with batch_size=1 and
max_batch_delay=0 (management API query parameters override the archive's model-config), then runs
the same Locust load against both, alternating, and prints requests/s and latency percentiles.
The extra registration is removed at the end.
"""
from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from genai_serve.registry import REPO_ROOT, load_registry
from genai_serve.server import Server


def run_locust(server: Server, model: str, path: str, users: int, duration: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp) / "stats"
        env = {**os.environ, "GENAI_MODELS": model, f"GENAI_PATH_{model.upper()}": path,
               "GENAI_KEY_FILE": str(server.key_file)}
        subprocess.run([sys.executable, "-m", "locust", "-f", str(REPO_ROOT / "loadtests/locustfile.py"), "--headless",
                        "-u", str(users), "-r", str(users), "-t", duration, "--host", server.url("inference"),
                        "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING"],
                       env=env, check=True, stdout=subprocess.DEVNULL, timeout=600)
        with open(f"{prefix}_stats.csv") as fh:
            row = next(r for r in csv.DictReader(fh) if r["Name"] == "Aggregated")
    return {"rps": float(row["Requests/s"]), "p50": float(row["50%"]), "p99": float(row["99%"]),
            "requests": int(row["Request Count"]), "failures": int(row["Failure Count"])}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--duration", default="20s")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    server, spec = Server(), load_registry()[args.model]
    unbatched = f"{args.model}_unbatched"
    r = server.call("POST", "management", "/models", params={
        "url": spec.mar_file(spec.default_version), "model_name": unbatched, "batch_size": 1,
        "max_batch_delay": 0, "initial_workers": spec.model_config.get("minWorkers", 1), "synchronous": "true"})
    r.raise_for_status()
    try:
        results = {"batched": [], "unbatched": []}
        for _ in range(args.rounds):  # alternate so drift on the machine hits both sides alike
            results["batched"].append(run_locust(server, args.model, f"/predictions/{args.model}", args.users, args.duration))
            results["unbatched"].append(run_locust(server, args.model, f"/predictions/{unbatched}", args.users, args.duration))
    finally:
        server.call("DELETE", "management", f"/models/{unbatched}")
    cfg = spec.model_config
    print(f"\n{args.model}: {args.users} users, closed loop, {args.duration} x {args.rounds} rounds, "
          f"payload {spec.sample.get('file') or spec.sample.get('json')}")
    print("| setting | requests/s | p50 ms | p99 ms | requests | failures |\n|---|---|---|---|---|---|")
    for label, setting in (("batched", f"batchSize {cfg['batchSize']}, maxBatchDelay {cfg['maxBatchDelay']} ms"),
                           ("unbatched", "batchSize 1, maxBatchDelay 0")):
        for res in results[label]:
            print(f"| {setting} | {res['rps']:.1f} | {res['p50']:.0f} | {res['p99']:.0f} | {res['requests']} | {res['failures']} |")


if __name__ == "__main__":
    main()
