"""Locust load test for the served models. Payloads are the registry's sample requests; the inference
token is read from key_file.json (TorchServe rewrites it at every start).

  make loadtest [MODEL=cnn] [USERS=16] [DURATION=30s]
  locust -f loadtests/locustfile.py --headless -u 8 -r 8 -t 20s --host http://127.0.0.1:8080

GENAI_MODELS=cnn,gan picks the models (default: every registry model); GENAI_KEY_FILE the key file.
"""
from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path

from locust import FastHttpUser, constant, task

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from genai_serve.registry import REPO_ROOT, load_registry  # noqa: E402

REGISTRY = load_registry()
NAMES = [n for n in os.environ.get("GENAI_MODELS", "").split(",") if n] or list(REGISTRY)
PAYLOADS = {name: REGISTRY[name].sample_body() for name in NAMES}
KEY_FILE = Path(os.environ.get("GENAI_KEY_FILE", REPO_ROOT / "key_file.json"))


class ModelUser(FastHttpUser):
    """Closed loop: each user sends its next request as soon as the last one is answered."""

    wait_time = constant(0)

    def on_start(self):
        token = json.loads(KEY_FILE.read_text())["inference"]["key"]
        self.auth = {"Authorization": f"Bearer {token}"}

    @task
    def predict(self):
        name = random.choice(NAMES)
        body, content_type = PAYLOADS[name]
        path = os.environ.get("GENAI_PATH_" + name.upper(), f"/predictions/{name}")
        with self.client.post(path, data=body, headers={**self.auth, "Content-Type": content_type},
                              name=path, catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"HTTP {r.status_code}: {r.text[:200]}")
