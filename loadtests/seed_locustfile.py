"""Locust users for the seeds' serving path (loadtests/seed_app.py), sending the same payloads as
loadtests/locustfile.py sends to TorchServe (the registry's sample requests) in the shape the sps-genai app took them
(loadtests/harness/seed_requests.py). GENAI_MODELS picks the models.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from locust import FastHttpUser, constant, task

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from genai_ops.registry import ModelSpec, load_registry  # noqa: E402
from loadtests.harness.locust_run import TOKEN_MODELS, record_tokens  # noqa: E402
from loadtests.harness.seed_requests import SEED_ROUTES, seed_request  # noqa: E402

REGISTRY = load_registry()
NAMES = [n for n in os.environ.get("GENAI_MODELS", "").split(",") if n in SEED_ROUTES] or list(SEED_ROUTES)


def seed_user(spec: ModelSpec) -> type:
    method, url, body, headers = seed_request(spec)
    name = SEED_ROUTES[spec.name][1]
    send = lambda client: client.request(method, url, data=body, headers=headers, name=name,  # noqa: E731
                                         catch_response=True)

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
