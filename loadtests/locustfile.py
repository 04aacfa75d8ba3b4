"""Locust load test for the served models: one user class per registry model, mixed by `load_weight`.

  make loadtest [MODEL=cnn] [USERS=16] [DURATION=30s]
  locust -f loadtests/locustfile.py --headless -u 8 -r 8 -t 20s --host http://127.0.0.1:8080

Payloads are the registry's sample requests; the inference token is read from key_file.json (TorchServe
rewrites it at every start). GENAI_MODELS=cnn,gan picks the models (default: every registry model);
GENAI_KEY_FILE the key file; GENAI_PATH_<MODEL> another path (e.g. a second registration of the same archive).
A model's `load_weight` in models.yaml sets its share of the users in the mixed scenario (default 1): fast
classifiers get more users than 50-step samplers, as in a real mix.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from locust import FastHttpUser, constant, task

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from genai_ops.registry import REPO_ROOT, ModelSpec, load_registry  # noqa: E402
from loadtests.harness.locust_run import TOKEN_MODELS, record_tokens  # noqa: E402

REGISTRY = load_registry()
NAMES = [n for n in os.environ.get("GENAI_MODELS", "").split(",") if n] or list(REGISTRY)
KEY_FILE = Path(os.environ.get("GENAI_KEY_FILE", REPO_ROOT / "key_file.json"))


def user_class(spec: ModelSpec) -> type:
    """A closed-loop user that sends `spec`'s sample request as soon as the last one is answered."""
    body, content_type = spec.sample_body()
    path = os.environ.get("GENAI_PATH_" + spec.name.upper(), f"/predictions/{spec.name}")
    counts_tokens = spec.name in TOKEN_MODELS

    class ModelUser(FastHttpUser):
        wait_time = constant(0)
        weight = spec.load_weight
        network_timeout = float(spec.model_config.get("responseTimeout", 120))
        connection_timeout = 10.0

        def on_start(self):
            token = json.loads(KEY_FILE.read_text())["inference"]["key"]
            self.headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}

        @task
        def predict(self):
            with self.client.post(path, data=body, headers=self.headers, name=path, catch_response=True) as r:
                if r.status_code != 200:
                    r.failure(f"HTTP {r.status_code}: {(r.text or '')[:200]}")
                elif counts_tokens:
                    record_tokens(self, r)

    ModelUser.__name__ = ModelUser.__qualname__ = f"{spec.name.title().replace('_', '')}User"
    return ModelUser


# Locust collects the User subclasses it finds in this module's globals: exactly one name per selected model
# (a loop variable left holding a class would be collected twice).
globals().update({cls.__name__: cls for cls in (user_class(REGISTRY[name]) for name in NAMES)})
