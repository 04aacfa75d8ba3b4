"""Image decoding, the CNN's input preprocessing and PNG grids: numpy + Pillow only (no torch).

Training evaluates through the same `cnn_input` the handler serves with, so the held-out accuracy in the
model card measures the preprocessing users actually get.
"""
from __future__ import annotations

import base64
import io
import math
import warnings

import numpy as np
from PIL import Image

from genai_serve.errors import InputError

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)  # the sps-genai app's normalisation
CIFAR10_STD = (0.2470, 0.2435, 0.2616)

# A decompression bomb is a small file that decodes to a huge bitmap. 4096x4096 is far above any
# image a 64x64 classifier needs; anything larger is refused before Pillow allocates the pixels.
MAX_IMAGE_PIXELS = 4096 * 4096


def decode_image(data: bytes, field: str = "data", max_pixels: int = MAX_IMAGE_PIXELS,
                 draft_size: int | None = None) -> Image.Image:
    """Decode any Pillow-readable image into RGB; every failure is the client's, so it is an InputError.

    `draft_size`: the smallest side the caller needs. A JPEG larger than that is decoded by libjpeg at 1/2, 1/4
    or 1/8 scale (still at least draft_size on each side) instead of in full: a 1024x768 photo for the 64x64 CNN
    decodes and resizes ~4-6x faster (docs/BENCHMARKS.md, serving-cuts) at a mean difference of ~1 grey level
    after the resize. Other formats have no such decoder mode and are decoded in full."""
    if not data:
        raise InputError("empty body: send image bytes (PNG/JPEG/...)", field)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if w * h > max_pixels:
                raise InputError(f"image is {w}x{h}: at most {max_pixels} pixels allowed", field, 413)
            if draft_size and img.format == "JPEG":
                img.draft("RGB", (draft_size, draft_size))
            img.load()  # forces the decode, so truncated files fail here rather than later
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError(f"image too large to decode: {exc}", field, 413) from exc
    except Exception as exc:  # Pillow raises many types for corrupt data
        raise InputError(f"not a decodable image ({type(exc).__name__}: {exc})", field) from exc
    return img if img.mode == "RGB" else img.convert("RGB")


def cnn_input(img: Image.Image, size: int = 64) -> np.ndarray:
    """RGB image of any size -> float32 (3, size, size), resized bilinearly and CIFAR-normalised."""
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    arr = np.asarray(rgb.resize((size, size), Image.BILINEAR), dtype=np.float32) / 255.0
    arr = (arr - np.asarray(CIFAR10_MEAN, np.float32)) / np.asarray(CIFAR10_STD, np.float32)
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def make_grid(images: np.ndarray, padding: int = 2, pad_value: float = 1.0) -> np.ndarray:
    """(N, C, H, W) floats in [0, 1] -> (H', W', 3) uint8 grid laid out as torchvision.make_grid.

    nrow = ceil(sqrt(N)) as the sps-genai app did; 1-channel images become grey RGB; pixels are rounded (that
    app truncated with .byte(), which darkens every image by half a level on average).
    """
    n, c, h, w = images.shape
    if c == 1:
        images = np.repeat(images, 3, axis=1)
    nrow = math.ceil(math.sqrt(n))
    ncol = math.ceil(n / nrow)
    cell_h, cell_w = h + padding, w + padding
    grid = np.full((3, ncol * cell_h + padding, nrow * cell_w + padding), pad_value, np.float32)
    for i in range(n):
        r, col = divmod(i, nrow)
        y, x = r * cell_h + padding, col * cell_w + padding
        grid[:, y : y + h, x : x + w] = images[i]
    return to_rgb8(grid)


# zlib level 1 instead of Pillow's 6: on the GAN's grids it encodes ~2x faster *and* smaller (3,032 vs 3,519 bytes
# for 4 digits); on colour samples it costs a few percent in bytes (docs/BENCHMARKS.md, serving-cuts).
PNG_COMPRESS_LEVEL = 1


def png_bytes(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buf.getvalue()


def png_base64(rgb: np.ndarray) -> str:
    return base64.b64encode(png_bytes(rgb)).decode("ascii")


def to_rgb8(image: np.ndarray) -> np.ndarray:
    """One (C, H, W) float image in [0, 1] -> (H, W, 3) uint8, rounded (grey replicated to RGB as in grids)."""
    if image.shape[0] == 1:
        image = np.repeat(image, 3, axis=0)
    return np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8).transpose(1, 2, 0)


def samples_body(images: np.ndarray, seed: int, layout: str = "grid") -> dict:
    """The image generators' response: (N, C, H, W) floats in [0, 1] -> the sps-genai app's {"num_samples",
    "image_base64_png"} (one grid) plus the seed used; layout "images" gives one PNG per sample instead."""
    body = {"num_samples": int(len(images)), "seed": int(seed)}
    if layout == "images":
        body["images_base64_png"] = [png_base64(to_rgb8(img)) for img in images]
    else:
        body["image_base64_png"] = png_base64(make_grid(images))
    return body
