"""make gpu-check: on this machine's GPU, does every model run there, answer validly, stay reproducible, and
how fast is it next to the CPU?

python -m loadtests gpu-check [model ...] [--base DIR] [--repeats N] [--write]

For each registry model (its default version) from `make all`'s output (model_store/*.mar, else artifacts/):
build its handler in this process with gpu_id 0, as TorchServe hands a worker GPU 0, and again without a
gpu_id (the CPU baseline); send the registry's sample request (seed 0 added where the model takes a seed):
  device  where the gpu_id-0 handler's networks run and why (runtime.worker_device; a fallback is a WARNING)
  valid   HTTP 200, no error, every number finite, every PNG decodes
  seed    the sample's body alone == the same body in the middle of a batch of 3, on that device
  ms      median of --repeats sample calls on that device, then on the CPU baseline
On a machine without CUDA it runs all the same and every row shows the CPU fallback and its reason.
--write replaces the "GPU check" section of docs/BENCHMARKS.md, and only when some model ran on a GPU.
Exit status 1 when a model fails to load or answers invalidly.
"""
from __future__ import annotations

import argparse
import base64
import io
import math
import os
import sys
import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from genai_ops.registry import REPO_ROOT, ModelSpec, Paths, load_registry, select
from loadtests.inprocess import build_handler, call_handler, layout
from loadtests.harness.report import replace_section
from loadtests.harness.timing import median_ms

DOCS = REPO_ROOT / "docs"  # where --write writes BENCHMARKS.md
GPU_ID = 0


@dataclass
class Row:
    model: str
    version: str
    source: str = ""
    device: str = "-"
    why: str = ""
    valid: str = "-"
    same_seed: str = "-"
    ms_device: float | None = None
    ms_cpu: float | None = None
    threads: int | None = None
    failed: bool = False


# -- requests and checks --------------------------------------------------------------------------------------------
def sample_body(spec: ModelSpec) -> dict:
    """The registry sample as a JSON body; an image travels base64 in the JSON form every image handler takes."""
    if "file" in spec.sample:
        body = {"image": base64.b64encode((REPO_ROOT / spec.sample["file"]).read_bytes()).decode()}
    else:
        body = dict(spec.sample.get("json", {}))
    if "seed" in spec.request:
        body.setdefault("seed", 0)  # without a seed a sampling model answers differently every time
    return body


def problems(value, key: str = "") -> list[str]:
    """What makes a response body unusable: non-finite numbers (json.dumps writes NaN), undecodable PNGs."""
    from PIL import Image

    if isinstance(value, dict):
        return [p for k, v in value.items() for p in problems(v, k)]
    if isinstance(value, list):
        return [p for v in value for p in problems(v, key)]
    if isinstance(value, float) and not math.isfinite(value):
        return [f"{key} is {value}"]
    if isinstance(value, str) and key.endswith("_png"):
        try:
            Image.open(io.BytesIO(base64.b64decode(value))).load()
        except Exception as exc:  # any decoding failure is the finding
            return [f"{key} does not decode as an image: {exc}"]
    return []


def validity(status: int, body: dict) -> tuple[bool, str]:
    if status != 200 or "error" in body:
        return False, f"status {status}: {body.get('error')}"
    found = problems(body)
    return (not found), ("yes" if not found else "; ".join(found))


def same_alone_and_batched(handler, body: dict) -> bool:
    """The body alone vs between two neighbours (a different seed where the model takes one)."""
    neighbour = {**body, "seed": body["seed"] + 1} if "seed" in body else body
    alone = call_handler(handler, [body])[0]
    batched = call_handler(handler, [neighbour, body, neighbour])[1]
    return alone == batched


def check_model(spec: ModelSpec, paths: Paths, workdir: Path, repeats: int) -> Row:
    version = spec.default_version
    row = Row(spec.name, version)
    try:
        where = layout(spec, version, paths, workdir / spec.name)
        row.source = os.path.relpath(where.source, paths.base)
        on_gpu = build_handler(spec, version, where, gpu_id=GPU_ID)
        report = on_gpu.device_report
        row.device, row.threads = report.device, on_gpu.threads
        row.why = f"WARNING: {report.warning}" if report.warning else report.reason
        body = sample_body(spec)
        ok, row.valid = validity(*call_handler(on_gpu, [body])[0])
        row.failed = not ok
        row.same_seed = "yes" if same_alone_and_batched(on_gpu, body) else "NO"
        row.ms_device = median_ms(partial(call_handler, on_gpu, [body]), repeats)
        del on_gpu
        # The CPU baseline: the same files, no gpu_id and deviceType cpu, as a CPU worker would be started.
        where.config = {**where.config, "deviceType": "cpu"}
        row.ms_cpu = median_ms(partial(call_handler, build_handler(spec, version, where, gpu_id=None), [body]), repeats)
    except (Exception, SystemExit) as exc:  # one model's failure is a row, the others still run
        row.failed, row.valid = True, f"failed: {exc}"
    return row


# -- report ---------------------------------------------------------------------------------------------------------
def host_summary() -> str:
    import onnxruntime as ort
    import torch

    gpu = torch.cuda.get_device_name(GPU_ID) if torch.cuda.is_available() else "none usable by torch"
    return (f"torch {torch.__version__} (CUDA build {torch.version.cuda}), GPU: {gpu}; onnxruntime {ort.__version__} "
            f"with providers {', '.join(ort.get_available_providers())}; {os.cpu_count()} CPU cores")


def table(rows: list[Row], repeats: int) -> str:
    ms = lambda v: "-" if v is None else f"{v:.1f}"  # noqa: E731
    lines = [f"| model | version | from | device with gpu_id {GPU_ID} | why | output valid | same seed alone = batched "
             f"| ms there (median of {repeats}) | ms CPU | threads |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = [r.model, r.version, f"`{r.source}`" if r.source else "-", f"`{r.device}`", r.why, r.valid,
                 r.same_seed, ms(r.ms_device), ms(r.ms_cpu), "-" if r.threads is None else str(r.threads)]
        lines.append("| " + " | ".join(c.replace("|", "/").replace("\n", " ") for c in cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", help="models to check (default: every model in models.yaml)")
    parser.add_argument("--base", type=Path, default=Paths().base, help="where `make all` wrote artifacts/ and model_store/")
    parser.add_argument("--repeats", type=int, default=5, help="timed sample calls per device")
    parser.add_argument("--write", action="store_true", help="replace the GPU check section of docs/BENCHMARKS.md "
                        "(refused unless some model ran on a GPU)")
    args = parser.parse_args(argv)
    import torch  # noqa: F401  every TorchServe worker imports torch before its handler: see what a worker sees

    specs = select(load_registry(), args.models)
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        rows = [check_model(spec, Paths(args.base), Path(tmp), args.repeats) for spec in specs]
    text = f"{table(rows, args.repeats)}\n\n{host_summary()}"
    print(text, flush=True)
    if args.write:
        if not any(r.device.startswith("cuda") for r in rows):
            print("not written to docs/BENCHMARKS.md: no model ran on a GPU here", file=sys.stderr)
            return 1
        replace_section(DOCS / "BENCHMARKS.md", "gpu-check", "GPU check", text)
    return 1 if any(r.failed for r in rows) else 0

