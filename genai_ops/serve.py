"""Command line for the running server: python -m genai_ops.serve start|stop|status|smoke|curl.

start  renders the config, starts TorchServe from the repo root (key_file.json lands there), registers
       every archived model version from models.yaml, sets the registry's default versions, and waits
       until each model answers its sample request.
       Versions and defaults that `genai_ops.ctl` promoted come back from run/state.json.
stop   returns only when the JVM and workers have exited and the ports are free.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from genai_ops.registry import load_registry
from genai_ops.server import Server, ServerError
from genai_ops.state import State, StateError

TOKEN_LINE = """TOKEN=$(python3 -c 'import json; print(json.load(open("key_file.json"))["inference"]["key"])')
MTOKEN=$(python3 -c 'import json; print(json.load(open("key_file.json"))["management"]["key"])')"""


def smoke(server: Server, names: list[str], timeout: float = 120.0) -> bool:
    registry = load_registry()
    ok = True
    for name in names:
        spec = registry[name]
        deadline = time.monotonic() + timeout
        while True:
            r = server.predict(spec)
            if r.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(1)
        body = r.json() if r.headers.get("content-type", "").startswith("application/json") else r.text
        summary = {k: (v if len(str(v)) < 60 else f"<{len(str(v))} chars>") for k, v in body.items()} \
            if isinstance(body, dict) else str(body)[:120]
        print(f"  {name:<10} HTTP {r.status_code}  {summary}")
        ok &= r.status_code == 200
    return ok


def curl_line(server: Server, spec) -> str:
    """The curl line that sends a model its registry sample (after TOKEN_LINE)."""
    if "file" in spec.sample:
        data = f"-H 'Content-Type: {spec.sample['content_type']}' --data-binary @{spec.sample['file']}"
    else:
        data = f"-H 'Content-Type: application/json' -d '{json.dumps(spec.sample.get('json', {}))}'"
    return f"curl -s -H \"Authorization: Bearer $TOKEN\" {data} {server.url('inference')}/predictions/{spec.name}"


def curl_examples(server: Server, names: list[str]) -> str:
    registry = load_registry()
    lines = ["# run from the repo root; the token is read from key_file.json (it changes on every start)", TOKEN_LINE]
    lines += [curl_line(server, registry[name]) for name in names]
    lines.append(f"curl -s -H \"Authorization: Bearer $MTOKEN\" {server.url('management')}/models")
    lines.append(f"curl -s {server.url('metrics')}/metrics | grep ts_inference_requests_total")
    return "\n".join(lines)


def served_models(server: Server) -> list[str]:
    r = server.call("GET", "management", "/models")
    r.raise_for_status()
    return [m["modelName"] for m in r.json()["models"]]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["start", "stop", "status", "smoke", "curl"])
    args = parser.parse_args(argv)
    server = Server()
    try:
        if args.command == "start":
            server.start()
            names = server.register_all(load_registry())
            if not names:
                print("TorchServe is up, but model_store/ holds no archives: run `make archive`", file=sys.stderr)
                return 1
            restored = State.load(server.state_file).models
            if restored:
                print(f"restored from {server.state_file} (genai_ops.ctl): " + ", ".join(
                    f"{n} {m.default} (of {', '.join(m.versions)})" for n, m in sorted(restored.items())))
            print(f"TorchServe up on {server.url('inference')} (management {server.url('management')}); models:")
            ok = smoke(server, names)
            print("\n" + curl_examples(server, names))
            return 0 if ok else 1
        if args.command == "stop":
            server.stop()
            print("TorchServe stopped; ports free")
            return 0
        if not server.is_up():
            print(f"TorchServe is not running on {server.url('inference')} (`make serve`)", file=sys.stderr)
            return 1
        names = served_models(server)
        if args.command == "status":
            for name in names:
                for v in server.call("GET", "management", f"/models/{name}/all").json():
                    workers = ", ".join(f"{w['id']}:{w['status']}" for w in v.get("workers", []))
                    default = " (default)" if v.get("modelVersion") and _is_default(server, name, v) else ""
                    print(f"{name:<10} {v['modelVersion']:<6}{default:<10} batch {v['batchSize']:>3} "
                          f"delay {v['maxBatchDelay']:>4}ms  workers [{workers}]")
        elif args.command == "smoke":
            return 0 if smoke(server, names) else 1
        elif args.command == "curl":
            print(curl_examples(server, names))
        return 0
    except (ServerError, StateError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _is_default(server: Server, name: str, version_desc: dict) -> bool:
    default = server.call("GET", "management", f"/models/{name}").json()[0]
    return default.get("modelVersion") == version_desc.get("modelVersion")


if __name__ == "__main__":
    sys.exit(main())
