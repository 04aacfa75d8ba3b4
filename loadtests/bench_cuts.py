"""Parts `cuts` and `settings` of the serving benchmarks: each change to the one-shot path
measured alone, before beside after, in one run.

  python -m loadtests serving --parts cuts,settings      (make bench-cuts)

cuts      in this process, no server: every pair is timed alternately over `rounds` rounds (medians), on the
          registry's sample payloads and make all's artifacts:
            PNG encoding at zlib level 6 (Pillow's default) vs 1 (genai_serve/imaging.py PNG_COMPRESS_LEVEL)
            a 1024x768 JPEG photo decoded in full vs at libjpeg's reduced scale (decode_image draft_size)
            the whole cnn (on that JPEG) and gan (its sample) handlers at batch 9, the cut off vs on
            the cnn sample uploaded as PNG vs sent as an OIP tensor (UINT8 pixels, FP32 network input)
settings  served: a private TorchServe per variant (1, 2 or 3 workers; 2 workers with one netty thread per
          pool), cnn and gan, closed-loop Locust users, rounds alternating the variants; CPU per request of the
          JVM, the workers and Locust. Each server answers once (bounded wait) before its warm-up and loads.
"""
from __future__ import annotations

import io
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from genai_ops.registry import REPO_ROOT, Paths, load_registry
from genai_serve import imaging
from loadtests.harness.handlers import sample_request
from loadtests.harness.locust_run import first_answer, run_locust
from loadtests.harness.procs import torchserve_groups
from loadtests.harness.servers import private_server
from loadtests.harness.timing import ab, rotated
from loadtests.inprocess import build_handler, layout


SETTINGS = [  # (label, config.properties overrides, workers per model)
    ("1 worker", {}, 1),
    ("2 workers (kept)", {}, 2),
    ("3 workers", {}, 3),
    ("2 workers, 1 netty thread per pool", {"number_of_netty_threads": "1", "netty_client_threads": "1"}, 2),
]


@contextmanager
def png_level(level: int):
    saved, imaging.PNG_COMPRESS_LEVEL = imaging.PNG_COMPRESS_LEVEL, level
    try:
        yield
    finally:
        imaging.PNG_COMPRESS_LEVEL = saved


def with_png_level(level: int, fn: Callable) -> Callable:
    def call():
        with png_level(level):
            return fn()
    return call


def photo_jpeg(w: int = 1024, h: int = 768) -> bytes:
    """A smooth colour photo-sized JPEG (upsampled noise; fixed seed)."""
    small = (np.random.default_rng(0).random((24, 32, 3)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(small).resize((w, h), Image.BICUBIC).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def grids(base: Path) -> dict[str, np.ndarray]:
    """The PNGs the image models return: the GAN's 4-digit sample grid (its registry sample, from the trained
    generator) and a 16-image colour grid like diffusion's and ebm's (the CIFAR sample plus noise)."""
    import onnxruntime as ort

    spec = load_registry()["gan"]
    session = ort.InferenceSession(str(Paths(base).artifact_dir("gan") / "model.onnx"))
    z = np.random.default_rng(0).standard_normal((spec.sample["json"]["num_samples"], 100), dtype=np.float32)
    digits = (session.run(None, {session.get_inputs()[0].name: z})[0] + 1) / 2
    ship = np.asarray(Image.open(REPO_ROOT / load_registry()["cnn"].sample["file"]).convert("RGB"), np.float32)
    noise = np.random.default_rng(0).normal(0, 0.05, (16, 3, 32, 32)).astype(np.float32)
    colour = np.clip(ship.transpose(2, 0, 1)[None] / 255 + noise, 0, 1)
    return {"gan grid, 4 digits": imaging.make_grid(digits), "colour grid, 16 x 32x32": imaging.make_grid(colour)}


def png_rows(base: Path, pair: Callable) -> list[tuple]:
    """PNG encoding at zlib level 6 vs 1 on the grids the image models return."""
    rows = []
    for name, rgb in grids(base).items():
        sizes = {}
        for level in (6, 1):
            with png_level(level):
                sizes[level] = len(imaging.png_bytes(rgb))
        b, a = pair(with_png_level(6, lambda: imaging.png_bytes(rgb)), with_png_level(1, lambda: imaging.png_bytes(rgb)))
        rows.append((f"PNG encode, {name} ({rgb.shape[1]}x{rgb.shape[0]})", "zlib level 6", "level 1", b, a,
                     f"{sizes[6]:,} -> {sizes[1]:,} bytes"))
    return rows


def jpeg_row(jpeg: bytes, pair: Callable) -> tuple:
    """A photo-sized JPEG decoded in full vs at libjpeg's reduced scale, and how far the CNN's input moves."""
    full = lambda: imaging.cnn_input(imaging.decode_image(jpeg))  # noqa: E731
    draft = lambda: imaging.cnn_input(imaging.decode_image(jpeg, draft_size=64))  # noqa: E731
    pixels = [np.asarray(imaging.decode_image(jpeg, draft_size=d).resize((64, 64), Image.BILINEAR), np.int16)
              for d in (None, 64)]  # the 64x64 image the CNN sees, before normalisation
    diff = np.abs(pixels[0] - pixels[1]).mean()
    b, a = pair(full, draft)
    return ("decode + resize a 1024x768 JPEG to 64x64", "full decode", "draft (1/8 scale)", b, a,
            f"mean absolute difference {diff:.2f} grey levels")


def handler_rows(base: Path, jpeg: bytes, pair: Callable) -> list[tuple]:
    """The whole cnn and gan handlers at batch 9, each cut off vs on (per request)."""
    registry = load_registry()
    with tempfile.TemporaryDirectory() as tmp:
        cnn, gan = (build_handler(registry[m], registry[m].default_version,
                                  layout(registry[m], registry[m].default_version, Paths(base), Path(tmp) / m,
                                         prefer_mar=False)) for m in ("cnn", "gan"))
        batch = {"cnn": [{"body": jpeg}] * 9, "gan": [sample_request(registry["gan"]) for _ in range(9)],
                 "png": [sample_request(registry["cnn"]) for _ in range(9)]}
        b, a = pair(full_jpeg_decode(cnn, lambda: cnn.handle(batch["cnn"], cnn.context)),
                    lambda: cnn.handle(batch["cnn"], cnn.context))
        rows = [("whole cnn handler, batch of 9 of that JPEG", "full decode", "draft", b / 9, a / 9,
                 "per request; the 32x32 PNG sample is unchanged (no draft for PNG)")]
        for label, body in oip_bodies(registry["cnn"]).items():  # JSON bytes: the parse is part of the cost
            b, a = pair(lambda: cnn.handle(batch["png"], cnn.context), lambda: cnn.handle([{"body": body}] * 9, cnn.context))
            rows.append((f"whole cnn handler, batch of 9: the 32x32 sample as {label}", "PNG upload", label,
                         b / 9, a / 9, f"per request; {len(body):,} JSON bytes vs {len(batch['png'][0]['body']):,}"))
        b, a = pair(with_png_level(6, lambda: gan.handle(batch["gan"], gan.context)),
                    lambda: gan.handle(batch["gan"], gan.context))
        rows.append(("whole gan handler, batch of 9 (sample payload)", "PNG level 6", "level 1", b / 9, a / 9,
                     "per request"))
    return rows


def cuts(base: Path, rounds: int = 5, seconds: float = 1.0) -> str:
    pair = lambda before, after: ab(before, after, rounds, seconds)  # noqa: E731
    jpeg = photo_jpeg()
    rows = png_rows(base, pair) + [jpeg_row(jpeg, pair)] + handler_rows(base, jpeg, pair)
    out = [f"Command: `python -m loadtests serving --parts cuts` ({time.strftime('%Y-%m-%d')}). In this process, "
           f"no server; each pair timed alternately, {rounds} rounds of {seconds:g} s per side, medians; one thread.", "",
           "| what | before | after | before us | after us | after / before | note |", "|---|---|---|---|---|---|---|"]
    out += [f"| {what} | {bl} | {al} | {b * 1e6:.0f} | {a * 1e6:.0f} | {a / b:.2f} | {note} |"
            for what, bl, al, b, a, note in rows]
    return "\n".join(out)


def oip_bodies(spec) -> dict[str, bytes]:
    """The cnn sample as the two Open Inference Protocol tensors handlers/cnn.py takes, as JSON request bodies."""
    import json

    img = imaging.decode_image((REPO_ROOT / spec.sample["file"]).read_bytes())
    pixels, x = np.asarray(img), imaging.cnn_input(img)
    return {f"OIP {dtype} {list(a.shape)}": json.dumps({"inputs": [{"name": "image", "shape": list(a.shape),
                                                                     "datatype": dtype, "data": a.ravel().tolist()}]}).encode()
            for dtype, a in (("UINT8", pixels), ("FP32", x))}


def full_jpeg_decode(handler, fn: Callable) -> Callable:
    """fn with the handler's module decoding every image in full (draft_size ignored): the cnn path before the cut."""
    module = sys.modules[type(handler).__module__]

    def call():
        saved = module.decode_image
        module.decode_image = lambda data, field, draft_size=None: saved(data, field)
        try:
            return fn()
        finally:
            module.decode_image = saved
    return call


def settings_loads(base: Path, users: list[int], rounds: int, seconds: int, models: list[str]) -> dict[tuple, list]:
    """{(model, variant label, users): [LoadResult per round]}, the variants' order rotated each round; each server
    answers once (bounded wait) and is warmed up for 5 s before its loads."""
    registry = load_registry()
    results: dict[tuple, list] = {}
    for r in range(rounds):
        for label, overrides, workers in rotated(SETTINGS, r):
            for model in models:
                spec = registry[model]
                with private_server([(spec, spec.default_version)], store=Paths(base).model_store,
                                    overrides=overrides) as server:
                    server.scale(model, None, workers, workers)
                    url, env = server.url("inference"), {"GENAI_KEY_FILE": str(server.key_file)}
                    first_answer(url, model, env=env)
                    run_locust(url, model, max(users), "5s", env=env)  # JIT warm-up
                    for n in users:
                        results.setdefault((model, label, n), []).append(
                            run_locust(url, model, n, f"{seconds}s", env=env, groups=torchserve_groups(server.pid()),
                                       logs=server.workdir / "logs"))
    return results


def settings(base: Path, users: list[int], rounds: int, seconds: int, models: list[str]) -> str:
    results = settings_loads(base, users, rounds, seconds, models)
    out = [f"Command: `python -m loadtests serving --parts settings --duration {seconds}` "
           f"({time.strftime('%Y-%m-%d')}). One private TorchServe per variant and model on make all's archives, "
           f"registry batching (16 / 1 ms); {rounds} rounds rotating the variants, {seconds} s per load after a 5 s "
           "warm-up, medians. CPU: ms per answered request.", "",
           "| model | variant | users | req/s | p50 ms | p99 ms | mean batch | JVM | workers | Locust | failures / requests |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    out += [settings_row(model, label, n, results[(model, label, n)])
            for model in models for label, _, _ in SETTINGS for n in users]
    return "\n".join(out)


def settings_row(model: str, label: str, users: int, runs: list) -> str:
    med = statistics.median
    batch = [x.batch_mean for x in runs if x.batch_mean]
    return (f"| {model} | {label} | {users} | {med(x.rps for x in runs):.0f} | {med(x.p50 for x in runs):.0f} | "
            f"{med(x.p99 for x in runs):.0f} | {med(batch) if batch else float('nan'):.1f} | "
            + " | ".join(f"{med(x.cpu_ms(g) for x in runs):.2f}" for g in ("jvm", "workers", "locust"))
            + f" | {sum(x.failures for x in runs)} / {sum(x.requests for x in runs)} |")


def cuts_part(args) -> str:
    return cuts(args.base, rounds=1 if args.smoke else 5, seconds=0.1 if args.smoke else 1.0)


def settings_part(args) -> str:
    return settings(args.base, [int(n) for n in args.settings_users.split(",")], 1 if args.smoke else args.peer_rounds,
                    args.duration, args.peer_models.split(","))
