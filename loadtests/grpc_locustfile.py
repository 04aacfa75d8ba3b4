"""Locust users for TorchServe's gRPC inference API: the same registry sample payloads loadtests/locustfile.py
sends over REST, as the `data` input of a Predictions call (TorchServe hands it to the worker as a REST body's
bytes), for the side-by-side benchmark (loadtests/bench_peers.py, `make bench-peers`).

  GENAI_MODELS=cnn GENAI_KEY_FILE=key_file.json locust -f loadtests/grpc_locustfile.py --headless -u 16 -r 16 \
      -t 10s --host grpc://127.0.0.1:7070

--host is the gRPC inference address (`grpc://` optional). Each user keeps one channel (one HTTP/2 connection, as
each REST user keeps one keep-alive connection) and sends its next request as soon as the last is answered. Every
call is reported through Locust's request event, so the stats, CSV and percentiles read as for HTTP users; a gRPC
error status is a failure. The stubs come from the protos inside TorchServe's jar (loadtests/harness/
grpc_client.py); grpcio is switched to gevent before any channel exists, so the users run concurrently.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from locust import User, constant, task

import grpc  # noqa: I001  (after locust: gevent has patched the standard library)
import grpc.experimental.gevent as grpc_gevent

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from genai_ops.registry import ModelSpec  # noqa: E402
from loadtests.harness import grpc_client  # noqa: E402
from loadtests.locustfile import KEY_FILE, NAMES, REGISTRY  # noqa: E402

grpc_gevent.init_gevent()
grpc_client.stubs()  # compile the protos once, before the users start


def grpc_user(spec: ModelSpec) -> type:
    """A closed-loop user that calls Predictions for `spec` with its sample body."""
    body, _ = spec.sample_body()
    timeout = float(spec.model_config.get("responseTimeout", 120))
    name = f"grpc Predictions {spec.name}"

    class ModelGrpcUser(User):
        wait_time = constant(0)
        weight = spec.load_weight

        def on_start(self):
            self.token = json.loads(KEY_FILE.read_text())["inference"]["key"]
            self.channel = grpc.insecure_channel(self.host.removeprefix("grpc://"))
            self.stub = grpc_client.inference_stub(self.channel)

        def on_stop(self):
            self.channel.close()

        @task
        def predict(self):
            start, length, error = time.perf_counter(), 0, None
            try:
                length = len(grpc_client.predictions(self.stub, spec.name, body, self.token, timeout))
            except grpc.RpcError as exc:
                error = exc
            self.environment.events.request.fire(request_type="gRPC", name=name, response_length=length,
                                                 response_time=(time.perf_counter() - start) * 1000,
                                                 exception=error, context={})

    ModelGrpcUser.__name__ = ModelGrpcUser.__qualname__ = f"{spec.name.title().replace('_', '')}GrpcUser"
    return ModelGrpcUser


# As in locustfile.py: exactly one global name per selected model, so Locust collects each class once.
globals().update({cls.__name__: cls for cls in (grpc_user(REGISTRY[name]) for name in NAMES)})
