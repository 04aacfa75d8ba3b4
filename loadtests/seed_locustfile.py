"""Locust users for the seeds' serving path (loadtests/seed_app.py), sending the same payloads as
loadtests/locustfile.py sends to TorchServe (the registry's sample requests) in the shape the sps-genai app took them:
the CNN's image as a multipart field `file`, the image generators' JSON fields as query parameters of a
GET, GPT-2's as a JSON body (the `seed` field has no seed-app equivalent and is dropped). GENAI_MODELS picks the models.
"""
from __future__ import annotations

import json
import os
import sys
from urllib.parse import urlencode
from pathlib import Path

from locust import FastHttpUser, constant, task

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from genai_ops.registry import REPO_ROOT, ModelSpec, load_registry  # noqa: E402
from loadtests.harness.locust_run import TOKEN_MODELS, multipart_file, record_tokens  # noqa: E402

SEED_ROUTES = {"cnn": ("POST", "/predict_cifar10"), "gan": ("GET", "/gan/generate"),
               "diffusion": ("GET", "/diffusion/generate"), "gpt2_qa": ("POST", "/gpt2/answer")}
REGISTRY = load_registry()
NAMES = [n for n in os.environ.get("GENAI_MODELS", "").split(",") if n in SEED_ROUTES] or list(SEED_ROUTES)


def seed_user(spec: ModelSpec) -> type:
    method, path = SEED_ROUTES[spec.name]
    if "file" in spec.sample:  # FastHttpUser takes a body, not `files=`: the multipart body is built once here
        body, content_type = multipart_file((REPO_ROOT / spec.sample["file"]).read_bytes())
        send = lambda client: client.request(method, path, data=body, headers={"Content-Type": content_type},  # noqa: E731
                                             name=path, catch_response=True)
    elif method == "POST":  # gpt2_qa: the same JSON body, minus the seed
        body = json.dumps({k: v for k, v in spec.sample["json"].items() if k != "seed"})
        send = lambda client: client.request(method, path, data=body, headers={"Content-Type": "application/json"},  # noqa: E731
                                             name=path, catch_response=True)
    else:
        url = path + "?" + urlencode({k: v for k, v in spec.sample["json"].items() if k != "seed"})
        send = lambda client: client.request(method, url, name=path, catch_response=True)  # noqa: E731

    class SeedUser(FastHttpUser):
        wait_time = constant(0)
        network_timeout = float(spec.model_config.get("responseTimeout", 120))
        connection_timeout = 10.0

        @task
        def predict(self):
            with send(self.client) as r:
                if r.status_code != 200:
                    r.failure(f"HTTP {r.status_code}: {(r.text or '')[:200]}")
                elif spec.name in TOKEN_MODELS:
                    record_tokens(self, r)

    SeedUser.__name__ = SeedUser.__qualname__ = f"Seed{spec.name.title()}User"
    return SeedUser


globals().update({cls.__name__: cls for cls in (seed_user(REGISTRY[name]) for name in NAMES)})
