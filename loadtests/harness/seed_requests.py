"""The registry's sample requests in the shape the sps-genai app took them (loadtests/seed_app.py): the CNN's image
as a multipart field `file`, the image generators' JSON fields as query parameters of a GET, GPT-2's as a JSON
body (the `seed` field has no seed-app equivalent and is dropped). Free of Locust, whose import patches sockets
and threads, so benchmarks with their own clients can send them too."""
from __future__ import annotations

import json
from urllib.parse import urlencode

from genai_ops.registry import REPO_ROOT, ModelSpec
from loadtests.harness.locust_run import multipart_file

SEED_ROUTES = {"cnn": ("POST", "/predict_cifar10"), "gan": ("GET", "/gan/generate"),
               "diffusion": ("GET", "/diffusion/generate"), "gpt2_qa": ("POST", "/gpt2/answer")}


def seed_request(spec: ModelSpec) -> tuple[str, str, bytes | None, dict]:
    """(method, path with query, body, headers) of `spec`'s sample request as the seed app takes it."""
    method, path = SEED_ROUTES[spec.name]
    if "file" in spec.sample:
        body, content_type = multipart_file((REPO_ROOT / spec.sample["file"]).read_bytes())
        return method, path, body, {"Content-Type": content_type}
    fields = {k: v for k, v in spec.sample["json"].items() if k != "seed"}
    if method == "POST":
        return method, path, json.dumps(fields).encode(), {"Content-Type": "application/json"}
    return method, path + "?" + urlencode(fields), None, {}
