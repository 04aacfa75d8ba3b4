"""ebm and diffusion handlers driven as TorchServe drives them, on artifacts exported from random networks:
shared sampling loops, per-request seeds, validation, return layouts and streaming."""
import base64
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from genai_ops.checkpoint import build_from_checkpoint
from genai_serve.sampling.diffusion import denormalize, reverse_step
from tests.conftest import ask


def run(handler, context, bodies):
    """The response bodies of `bodies` sent together (an in-process TorchServe frontend drives the handler)."""
    return [r.body for r in ask(handler, context, bodies)]


def decode(text: str) -> dict:
    return json.loads(text)


def image(b64: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))))


@pytest.mark.parametrize("model, steps_key", [("ebm", "steps"), ("diffusion", "diffusion_steps")])
def test_a_seed_gives_the_same_bytes_alone_and_inside_a_batch_with_other_step_counts(handler_factory, model, steps_key):
    handler, ctx = handler_factory(model)
    mine = {"num_samples": 3, steps_key: 4, "seed": 11}
    alone = decode(run(handler, ctx, [mine])[0])
    responses = ask(handler, ctx, [{"num_samples": 2, steps_key: 7, "seed": 1}, mine,
                                   {"num_samples": 1, steps_key: 1, "seed": 2}])
    batch = [r.json() for r in responses]
    assert batch[1]["image_base64_png"] == alone["image_base64_png"]
    assert batch[0]["image_base64_png"] != alone["image_base64_png"]
    assert responses[1].headers["X-Batch-Size"] == "3"


@pytest.mark.parametrize("model, n, size", [("ebm", 4, 70), ("diffusion", 16, 138), ("ebm", 1, 36)])
def test_grids_have_the_seed_layout_and_a_seed_is_returned(handler_factory, model, n, size):
    handler, ctx = handler_factory(model)
    steps_key = "steps" if model == "ebm" else "diffusion_steps"
    [resp] = ask(handler, ctx, [{"num_samples": n, steps_key: 2}])
    body = resp.json()
    assert resp.status == 200
    assert image(body["image_base64_png"]).shape == (size, size, 3)
    assert body["num_samples"] == n and 0 <= body["seed"] < 2**32


@pytest.mark.parametrize("model, bad, field, words", [
    ("ebm", {"num_samples": 65}, "num_samples", "[1, 64]"),
    ("ebm", {"steps": 0}, "steps", "[1, 1000]"),
    ("ebm", {"steps": 1001}, "steps", "[1, 1000]"),
    ("ebm", {"step_size": 0}, "step_size", "(0, 100]"),
    ("ebm", {"noise": -0.1}, "noise", "[0, 1]"),
    ("ebm", {"return": "video"}, "return", "'grid', 'images'"),
    ("diffusion", {"image_size": 64}, "image_size", "trained on 32x32"),
    ("diffusion", {"diffusion_steps": 0}, "diffusion_steps", "[1, 1000]"),
    ("diffusion", {"num_samples": 0}, "num_samples", "[1, 64]"),
    ("diffusion", {"stream": "maybe"}, "stream", "true or false"),
])
def test_bad_parameters_fail_alone_and_name_the_field_and_range(handler_factory, model, bad, field, words):
    handler, ctx = handler_factory(model)
    steps_key = "steps" if model == "ebm" else "diffusion_steps"
    bad_resp, good = ask(handler, ctx, [bad, {"num_samples": 1, steps_key: 1, "seed": 3}])
    assert bad_resp.status == 400
    err = bad_resp.json()
    assert err["field"] == field and words in err["error"]
    assert good.status == 200 and good.json()["num_samples"] == 1


def test_return_images_gives_one_png_per_sample_matching_the_grid_cells(handler_factory):
    handler, ctx = handler_factory("diffusion")
    grid = decode(run(handler, ctx, [{"num_samples": 2, "diffusion_steps": 3, "seed": 5}])[0])
    single = decode(run(handler, ctx, [{"num_samples": 2, "diffusion_steps": 3, "seed": 5, "return": "images"}])[0])
    assert "image_base64_png" not in single and len(single["images_base64_png"]) == 2
    cells = [image(b) for b in single["images_base64_png"]]
    assert all(c.shape == (32, 32, 3) for c in cells)
    full = image(grid["image_base64_png"])  # 2 images: nrow 2, 2 px padding
    np.testing.assert_array_equal(full[2:34, 2:34], cells[0])
    np.testing.assert_array_equal(full[2:34, 36:68], cells[1])


def test_served_diffusion_matches_the_torch_unet_driving_the_same_loop(handler_factory, random_exports):
    handler, ctx = handler_factory("diffusion")
    body = decode(run(handler, ctx, [{"num_samples": 2, "diffusion_steps": 5, "seed": 9, "return": "images"}])[0])
    net, ckpt = build_from_checkpoint(random_exports.checkpoint("diffusion"))

    def torch_unet(x, v):
        with torch.no_grad():
            return net(torch.from_numpy(x), torch.from_numpy(v)).numpy()

    x = np.random.default_rng(9).standard_normal((2, 3, 32, 32), dtype=np.float32)
    for step in range(5):  # the same step in a plain loop, the UNet in eager torch
        x, images = reverse_step(torch_unet, x, step, 5)
    norm = ckpt["extra"]["normalizer"]
    expected = np.rint(denormalize(images, norm["mean"], norm["std"]) * 255)
    got = np.stack([image(b).transpose(2, 0, 1) for b in body["images_base64_png"]]).astype(np.float64)
    assert np.abs(got - expected).max() <= 1  # ORT vs torch may differ by one 8-bit level after rounding


def test_ebm_row_with_fewer_steps_stops_changing(handler_factory):
    handler, ctx = handler_factory("ebm")
    one = decode(run(handler, ctx, [{"num_samples": 1, "steps": 1, "seed": 4}])[0])
    many = decode(run(handler, ctx, [{"num_samples": 1, "steps": 30, "seed": 4}])[0])
    assert one["image_base64_png"] != many["image_base64_png"]


def test_streaming_sends_previews_to_the_streaming_request_only_then_a_final_line(handler_factory):
    handler, ctx = handler_factory("diffusion")
    plain_resp, stream_resp = ask(handler, ctx, [
        {"num_samples": 1, "diffusion_steps": 6, "seed": 1},
        {"num_samples": 2, "diffusion_steps": 10, "seed": 2, "stream": True, "preview_every": 3}])
    *previews, final = stream_resp.lines()
    assert [line["step"] for line in previews] == [3, 6, 9]  # steps 3, 6, 9 of 10
    assert all(line["type"] == "preview" and image(line["image_base64_png"]).shape == (36, 70, 3) for line in previews)
    assert stream_resp.body.endswith("\n") and stream_resp.content_type == "application/x-ndjson"
    assert final["type"] == "final" and final["num_samples"] == 2
    assert plain_resp.content_type == "application/json" and "type" not in plain_resp.json()
    # the streamed request's final grid is the one it gets without streaming
    plain = decode(run(handler, ctx, [{"num_samples": 2, "diffusion_steps": 10, "seed": 2}])[0])
    assert plain["image_base64_png"] == final["image_base64_png"]


@pytest.mark.parametrize("model", ["ebm", "diffusion"])
def test_a_loaded_worker_knows_its_drain_rate_and_holds_nothing_from_calibrating(handler_factory, model):
    """The registry's `calibrate` request runs at load, so admission's time bound (max_wait_s) applies to the
    first requests too; the calibration leaves no request behind."""
    handler, context = handler_factory(model)
    assert handler.scheduler.max_wait_s == 120
    assert handler.scheduler._rate and handler.scheduler._rate > 0
    assert len(handler.scheduler) == 0
    [body] = run(handler, context, [{"num_samples": 1, ("steps" if model == "ebm" else "diffusion_steps"): 2, "seed": 0}])
    assert decode(body)["seed"] == 0 and image(decode(body)["image_base64_png"]).size
