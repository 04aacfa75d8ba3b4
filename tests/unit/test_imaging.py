import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from genai_serve.errors import InputError
from genai_serve.imaging import CIFAR10_MEAN, CIFAR10_STD, cnn_input, decode_image, make_grid, png_bytes


def png(w=40, h=30, mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (w, h), 128).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("n, size, expected", [(16, 28, 122), (16, 32, 138), (4, 28, 62), (4, 32, 70)])
def test_grid_sizes_match_seed_one(n, size, expected):
    grid = make_grid(np.zeros((n, 1, size, size), np.float32))
    assert grid.shape == (expected, expected, 3)


def test_grid_layout_border_is_white_and_pixels_are_rounded():
    grid = make_grid(np.full((2, 3, 4, 4), 0.5, np.float32))  # nrow = 2, one row
    assert grid.shape == (8, 14, 3)
    assert (grid[0] == 255).all() and (grid[:, 0] == 255).all()
    assert grid[2, 2, 0] == 128  # 0.5 * 255 = 127.5 rounds to 128; the seed's .byte() gave 127


def test_decode_any_mode_to_rgb():
    for mode in ("L", "RGBA", "P", "RGB"):
        assert decode_image(png(mode=mode)).mode == "RGB"


@pytest.mark.parametrize("blob", [b"", b"not an image", png()[:40]])
def test_undecodable_input_is_a_client_error(blob):
    with pytest.raises(InputError) as err:
        decode_image(blob, "file")
    assert err.value.status == 400 and err.value.field == "file"


def _png_header_only(w: int, h: int) -> bytes:
    """A PNG that claims w x h pixels: a decompression bomb needs no more than its header to be refused."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused_before_decoding():
    with pytest.raises(InputError) as err:
        decode_image(_png_header_only(50_000, 50_000))
    assert err.value.status == 413


def test_cnn_input_resizes_and_normalises():
    x = cnn_input(Image.new("RGB", (10, 7), (255, 0, 0)))
    assert x.shape == (3, 64, 64) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 5, 5], [(1 - CIFAR10_MEAN[0]) / CIFAR10_STD[0],
                                            -CIFAR10_MEAN[1] / CIFAR10_STD[1], -CIFAR10_MEAN[2] / CIFAR10_STD[2]], rtol=1e-5)


def _photo(w: int, h: int, fmt: str) -> bytes:
    """A smooth w x h colour image (upsampled noise) in `fmt`: what a phone photo looks like to a decoder."""
    small = (np.random.default_rng(0).random((6, 8, 3)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(small).resize((w, h), Image.BICUBIC).save(buf, format=fmt)
    return buf.getvalue()


def test_a_large_jpeg_is_decoded_at_a_reduced_scale_no_smaller_than_asked():
    blob = _photo(1024, 768, "JPEG")
    assert decode_image(blob).size == (1024, 768)
    reduced = decode_image(blob, draft_size=64)
    assert reduced.mode == "RGB" and reduced.size == (128, 96)  # 1/8 scale: the smallest that keeps >= 64 per side
    full, fast = (cnn_input(img) * np.asarray(CIFAR10_STD)[:, None, None] * 255 for img in (decode_image(blob), reduced))
    assert np.abs(full - fast).mean() < 3  # a couple of grey levels at most after the resize to 64x64


def test_draft_leaves_small_jpegs_and_other_formats_decoded_in_full():
    assert decode_image(_photo(32, 32, "JPEG"), draft_size=64).size == (32, 32)
    assert decode_image(_photo(1024, 768, "PNG"), draft_size=64).size == (1024, 768)


def test_png_encoding_is_lossless():
    rgb = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png_bytes(rgb)))), rgb)
