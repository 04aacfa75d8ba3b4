"""ebm and diffusion end to end through a real TorchServe: PNG grids, seeds reproducible alone and inside a
concurrent batch, 4xx naming the field with the worker still up, and streamed previews over chunked HTTP."""
from __future__ import annotations

import base64
import io
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

pytestmark = pytest.mark.e2e

STEPS = {"ebm": "steps", "diffusion": "diffusion_steps"}


def post(served, model: str, body: dict, **kwargs):
    return served.server.predict(served.spec(model), body=json.dumps(body).encode(), content_type="application/json",
                                 **kwargs)


def png(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image


def pids(served, model: str) -> set[int]:
    return {w["pid"] for w in served.server.call("GET", "management", f"/models/{model}").json()[0]["workers"]}


@pytest.mark.parametrize("model, n, size", [("ebm", 4, 70), ("diffusion", 9, 104)])
def test_valid_requests_return_decodable_png_grids_of_the_seed_size(served, model, n, size):
    r = post(served, model, {"num_samples": n, STEPS[model]: 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["num_samples"] == n and isinstance(body["seed"], int)
    image = png(body["image_base64_png"])
    assert image.format == "PNG" and image.size == (size, size) and image.mode == "RGB"


def test_the_seed_apps_parameters_work_as_form_fields(served):
    # The sps-genai app took these as URL query parameters; TorchServe passes only the body to handlers
    # (pytorch/serve#989), so the same fields come form-encoded (curl -d "num_samples=4&...").
    r = served.server.call("POST", "inference", "/predictions/diffusion",
                           data={"num_samples": 4, "diffusion_steps": 2, "image_size": 32})
    assert r.status_code == 200, r.text
    assert png(r.json()["image_base64_png"]).size == (70, 70)


@pytest.mark.parametrize("model", ["ebm", "diffusion"])
def test_a_seed_gives_identical_bytes_alone_and_in_a_concurrent_batch(served, model):
    mine = {"num_samples": 2, STEPS[model]: 5, "seed": 2024}
    alone = post(served, model, mine)
    assert alone.status_code == 200 and alone.headers["X-Batch-Size"] == "1", alone.headers
    others = [{"num_samples": 3, STEPS[model]: 2 + i, "seed": i} for i in range(3)]
    # TorchServe batches what arrives within maxBatchDelay; retry a few times until ours shares a batch.
    for _ in range(5):
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda b: post(served, model, b), [mine, *others]))
        assert all(r.status_code == 200 for r in results), [r.text for r in results]
        if int(results[0].headers["X-Batch-Size"]) > 1:
            break
    assert int(results[0].headers["X-Batch-Size"]) > 1, "the requests were never batched together"
    assert results[0].json()["image_base64_png"] == alone.json()["image_base64_png"]


@pytest.mark.parametrize("model, body, field", [
    ("ebm", {"num_samples": 65}, "num_samples"),
    ("ebm", {"steps": 1001}, "steps"),
    ("ebm", {"step_size": 0}, "step_size"),
    ("ebm", {"noise": "loud"}, "noise"),
    ("diffusion", {"image_size": 64}, "image_size"),
    ("diffusion", {"diffusion_steps": 0}, "diffusion_steps"),
    ("diffusion", {"num_samples": 1000000}, "num_samples"),
    ("diffusion", {"return": "gif"}, "return"),
])
def test_out_of_range_parameters_get_a_4xx_naming_the_field_and_the_worker_survives(served, model, body, field):
    before = pids(served, model)
    r = post(served, model, body)
    assert r.status_code == 400, r.text
    assert r.json()["field"] == field
    assert pids(served, model) == before
    assert post(served, model, {"num_samples": 1, STEPS[model]: 1}).status_code == 200


def test_diffusion_streams_ndjson_previews_then_the_final_grid(served):
    r = post(served, "diffusion", {"num_samples": 4, "diffusion_steps": 8, "seed": 3, "stream": True,
                                   "preview_every": 2}, stream=True)
    assert r.status_code == 200
    assert r.headers.get("Transfer-Encoding") == "chunked"
    lines = [json.loads(line) for line in r.iter_lines() if line]
    assert [(line["type"], line.get("step")) for line in lines] == [("preview", 2), ("preview", 4), ("preview", 6),
                                                                    ("final", None)]
    assert all(png(line["image_base64_png"]).size == (70, 70) for line in lines)
    plain = post(served, "diffusion", {"num_samples": 4, "diffusion_steps": 8, "seed": 3})
    assert lines[-1]["image_base64_png"] == plain.json()["image_base64_png"]


def test_return_images_gives_one_png_per_sample(served):
    r = post(served, "ebm", {"num_samples": 3, "steps": 2, "seed": 1, "return": "images"})
    assert r.status_code == 200, r.text
    images = [png(b) for b in r.json()["images_base64_png"]]
    assert [im.size for im in images] == [(32, 32)] * 3


def test_gallery_writes_every_image_models_pngs_and_a_page_that_shows_them(served, tmp_path):
    from genai_ops.gallery import build_gallery

    page = build_gallery(served.server, tmp_path)
    html = page.read_text()
    expected = [f"{spec.name}-{i}.png" for spec in served.registry.values() for i in range(len(spec.gallery))]
    assert {"gan-0.png", "ebm-1.png", "diffusion-1.png"} <= set(expected)
    for name in expected:
        assert f'src="{name}"' in html
        assert png(base64.b64encode((tmp_path / name).read_bytes()).decode()).size[0] > 100
    assert "NOT CIFAR-10" in html  # the model card's data provenance is shown with the samples
