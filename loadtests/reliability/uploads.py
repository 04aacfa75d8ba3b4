"""Hostile input for the image-input models: bytes that are not an image (random, truncated, corrupted, bombs),
images the decoder must take whatever their format, base64 in JSON, and multipart edge cases.

How TorchServe 0.12 hands a multipart body to the worker (InferenceRequestHandler.parseRequest, ts/service.py):
every part becomes one request entry under its name (a later part of the same name replaces an earlier one);
a part typed application/json is parsed and a text/* part decoded when they can be, else it stays bytes. A
Content-Type of multipart/form-data without a boundary is not multipart to Netty: the body arrives whole.
"""
from __future__ import annotations

import base64
import io
import random
import struct
import zlib

from genai_ops.registry import ModelSpec
from loadtests.reliability.case import JSON, Case, dumps, tiny_png

BOUNDARY = "hostile-7f3a9c"
GARBAGE_BODIES = 12  # random byte strings
CUTS = 10  # truncation points of one PNG
FLIPS = 6  # single corrupted bytes in one PNG


def noise_png(side: int = 48, seed: int = 0) -> bytes:
    """An incompressible PNG: its pixel data fills most of the file, so a cut in its first half is mid-image."""
    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def bomb_png(width: int = 60000, height: int | None = None) -> bytes:
    """A valid PNG header claiming width x height pixels with one compressed row of data: a decoder that trusted
    the header would allocate width x height x 3 bytes (10 GB for the default)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height or width, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + \
        chunk(b"IEND", b"")


def _case(label, body, ctype, field, layer, status=(400,), kind="image") -> Case:
    return Case(label, body, ctype, field, status, kind=kind, refused_by=layer)


def image_cases(spec: ModelSpec) -> list[Case]:
    rng, png, noisy = random.Random(f"{spec.name}/image"), tiny_png(), noise_png()
    out = [_case("empty image body", b"", "image/png", "image", "model"),
           _case("decompression bomb 60000 x 60000", bomb_png(), "image/png", "body", "model", (413,)),
           _case("header claiming 4097 x 4097", bomb_png(4097), "image/png", "body", "model", (413,)),
           _case("header claiming 1 x 16,777,217", bomb_png(1, 4096 * 4096 + 1), "image/png", "body", "model", (413,)),
           _case("header claiming 4096 x 4096, one row of data", bomb_png(4096), "image/png", "body", "model")]
    for i in range(GARBAGE_BODIES):  # a leading NUL: never mistaken for JSON, so the image decoder gets it
        blob = b"\x00" + rng.randbytes(rng.randint(0, 4096))
        out.append(_case(f"random bytes #{i} ({len(blob)} bytes)", blob, "application/octet-stream", "body", "model"))
    for cut in sorted(rng.sample(range(1, len(noisy) // 2), CUTS)):
        out.append(_case(f"PNG cut at byte {cut} of {len(noisy)}", noisy[:cut], "image/png", "body", "model"))
    for _ in range(FLIPS):  # a flipped pixel byte may still decode (PNG decoders skip IDAT checksums): 200 or 400
        at = rng.randrange(40, len(noisy) - 20)
        bad = noisy[:at] + bytes([noisy[at] ^ 0x5A]) + noisy[at + 1:]
        out.append(_case(f"PNG with byte {at} corrupted", bad, "image/png", "body", ""))
    for fmt in ("GIF", "BMP", "JPEG", "TIFF", "WEBP", "PPM", "ICO"):  # any format Pillow reads, whatever the type says
        out.append(_case(f"a {fmt} sent as image/png", tiny_png(fmt=fmt), "image/png", "body", ""))
    for ctype in (JSON, "text/plain", "application/octet-stream", "image/jpeg"):
        out.append(_case(f"PNG bytes sent as {ctype}", png, ctype, "body", ""))
    out += _base64_cases(png)
    return out


def _base64_cases(png: bytes) -> list[Case]:
    b64 = base64.b64encode(png).decode()
    mime = "\n".join(b64[i:i + 76] for i in range(0, len(b64), 76))  # RFC 2045 line breaks: not plain base64
    return [
        _case("base64 that is not", dumps({"image": "%%%not-base64%%%"}), JSON, "image", "envelope"),
        _case("base64 with line breaks", dumps({"image": mime}), JSON, "image", "envelope"),
        _case("base64 of garbage", dumps({"image": base64.b64encode(b"\x00garbage").decode()}), JSON, "image", "model"),
        _case("empty base64", dumps({"image": ""}), JSON, "image", "model"),
        _case("image as a number", dumps({"image": 12345}), JSON, "image", "model"),
        _case("a data: URL", dumps({"image": "data:image/png;base64," + b64}), JSON, "image", ""),
        _case("two images in JSON, the last garbage", dumps({"image": b64, "file": base64.b64encode(b"\x00").decode()}),
              JSON, "file", "model"),
    ]


def multipart(parts: list[tuple], boundary: str = BOUNDARY) -> bytes:
    """parts: (name, filename or None, content type or None, bytes) -> a multipart/form-data body."""
    out = b""
    for name, filename, ctype, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        out += (f"Content-Type: {ctype}\r\n" if ctype else "").encode() + b"\r\n" + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def multipart_cases(spec: ModelSpec) -> list[Case]:
    png, ctype = tiny_png(), f"multipart/form-data; boundary={BOUNDARY}"

    def upload(label, parts, field, layer, content_type=ctype):
        return _case(label, multipart(parts), content_type, field, layer, kind="multipart")

    file = ("file", "x.png", "image/png", png)
    return [
        upload("file part with a PNG", [file], "file", ""),
        upload("image part with a PNG and topk 1", [("image", "x.png", "image/png", png), ("topk", None, None, b"1")],
               "image", ""),
        upload("empty file part", [("file", "x.png", "image/png", b"")], "file", "model"),
        upload("empty form field 'file'", [("file", None, None, b"")], "file", "model"),
        upload("wrong field name, PNG bytes", [("picture", "x.png", "image/png", png)], "picture", "envelope"),
        upload("wrong field name, text", [("picture", None, None, b"hello")], "image", "model"),
        upload("two files, both PNG", [file, ("image", "y.png", "image/png", png)], "image", ""),
        upload("two files, garbage then a PNG", [("file", "x.bin", "image/png", b"\x00junk"),
                                                 ("image", "y.png", "image/png", png)], "file", ""),
        upload("two parts named file, the last garbage", [file, ("file", "y.bin", "image/png", b"\x00junk")], "file",
               "model"),
        upload("file part typed text/plain", [("file", "x.png", "text/plain", png)], "file", ""),
        upload("file part typed application/json holding JSON", [("file", "x.json", JSON, b'{"a": 1}')], "file",
               "envelope"),
        upload("topk part 'abc'", [file, ("topk", None, None, b"abc")], "topk", "schema"),
        upload("topk part '0'", [file, ("topk", None, None, b"0")], "topk", "schema"),
        upload("topk part '11'", [file, ("topk", None, None, b"11")], "topk", "schema"),
        upload("topk part not UTF-8", [file, ("topk", None, None, b"\xff\xfe")], "topk", "envelope"),
        upload("no parts at all", [], "image", "model"),
        upload("missing boundary in the Content-Type", [file], "body", "model", content_type="multipart/form-data"),
        upload("boundary in the header, absent from the body", [], None, "torchserve",
               content_type="multipart/form-data; boundary=not-in-the-body"),
        # Not here: a part without a name. TorchServe 0.12's frontend answers it 500 before any handler runs
        # (Netty's decoder fails with a NullPointerException wrapped in ErrorDataDecoderException, which
        # InferenceRequestHandler does not catch; measured): a TorchServe bug no handler can reach.
    ]
