"""genai-serve's KServe runtime: KServe's model server in front of TorchServe, in one container.

KServe starts a ServingRuntime container with the InferenceService's storageUri mounted at /mnt/models (the
layout `make kserve-bundle` writes) and the ServingRuntime's `args` (deploy/kserve/servingruntime.yaml):

    python -m genai_ops.kserve_runtime --model-store /mnt/models/model-store \
        --ts-config /mnt/models/config/config.properties [KServe's own flags: --http_port 8080 --grpc_port 8081]

1. Start TorchServe on the bundle's config in the foreground: it loads every archive its `model_snapshot`
   lists, with inference on the pod's loopback (no token: nothing outside the pod reaches it).
2. Register one KServe model per model in the snapshot, ready once TorchServe has a READY worker for it.
3. Serve KServe's protocols with KServe's own ModelServer: v1 `POST /v1/models/<m>:predict` (each instance is
   one request of the model's own JSON; `predictions` holds the answers) and v2 `POST /v2/models/<m>/infer`
   (genai_ops/kserve_tensors.py: fields as one-value tensors, or real tensors passed to TorchServe's OIP route).
4. If TorchServe exits, stop serving and exit 1 so the kubelet restarts the container; SIGTERM stops both.

This process runs in KServe's own virtualenv (`kserve` pins psutil<6, the serving venv has psutil 7), with this
package on PYTHONPATH; it imports nothing from genai_serve. TorchServe comes from the serving venv (--torchserve).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import kserve
from fastapi import HTTPException
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse

from genai_ops.kserve_tensors import answer_outputs, is_parameter_request, native_request

log = logging.getLogger("genai_ops.kserve_runtime")
REPO = Path(__file__).resolve().parents[1]  # the checkout, or /opt/genai-serve in the image
PASSED_HEADERS = ("retry-after",)  # TorchServe's refusals carry it; a client backing off needs it


def read_properties(path: str) -> dict[str, str]:
    props = {}
    with open(path) as f:
        for line in f:
            if "=" in line and not line.lstrip().startswith("#"):
                key, value = line.split("=", 1)
                props[key.strip()] = value.strip()
    return props


class TorchServeModel(kserve.Model):
    """One TorchServe model behind KServe's protocols; the default version answers."""

    def __init__(self, name: str, inference_url: str, management_url: str, timeout: float):
        super().__init__(name)
        self.inference_url = inference_url
        self.management_url = management_url
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None

    def load(self, wait_s: float = 600.0) -> bool:
        """Ready when TorchServe reports a READY worker for this model (its archive loaded)."""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                described = httpx.get(f"{self.management_url}/models/{self.name}", timeout=5).json()
                if any(w.get("status") == "READY" for v in described for w in v.get("workers", [])):
                    self.ready = True
                    return True
            except (httpx.HTTPError, ValueError, TypeError, AttributeError):
                pass
            time.sleep(0.5)
        raise RuntimeError(f"TorchServe did not load {self.name} within {wait_s:.0f} s")

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:  # made on first use, inside the server's event loop
            self._client = httpx.AsyncClient(timeout=self.timeout)
        return self._client

    async def predict(self, payload, headers=None):
        if isinstance(payload, InferRequest):
            return await self._predict_v2(payload)
        instances = payload.get("instances") if isinstance(payload, dict) else None
        if not isinstance(instances, list) or not all(isinstance(i, dict) for i in instances):
            raise InvalidInput('instances: a list of request objects, e.g. {"instances": [{...}]}')
        answers = await asyncio.gather(*(self._post(f"/predictions/{self.name}", i, f"instances[{n}]")
                                         for n, i in enumerate(instances)))
        return {"predictions": answers}

    async def _predict_v2(self, request: InferRequest) -> InferResponse:
        inputs = [{"name": i.name, "datatype": i.datatype, "shape": list(i.shape), "data": i.data}
                  for i in request.inputs]
        if is_parameter_request(inputs):
            outputs = answer_outputs(await self._post(f"/predictions/{self.name}", native_request(inputs)))
        else:  # real arrays: the model's own OIP route (cnn reads them; the others answer 400 naming `inputs`)
            body = {"inputs": inputs}
            if request.request_outputs:
                body["outputs"] = [{"name": o.name} for o in request.request_outputs]
            outputs = (await self._post(f"/v2/models/{self.name}/infer", body))["outputs"]
        return InferResponse(response_id=request.id or str(uuid.uuid4()), model_name=self.name,
                             infer_outputs=[InferOutput(o["name"], o["shape"], o["datatype"], o["data"])
                                            for o in outputs])

    async def _post(self, path: str, body: dict, where: str | None = None) -> dict:
        """The model's answer, or its refusal as this request's own (v1: `where` names the instance)."""
        try:
            reply = await self.client.post(f"{self.inference_url}{path}", json=body)
        except httpx.HTTPError as exc:  # TorchServe gone or too slow: the client may retry elsewhere
            raise HTTPException(503, detail={"error": f"TorchServe: {type(exc).__name__}"}) from None
        try:
            answer = reply.json()
        except ValueError:
            answer = {"error": reply.text}
        if reply.status_code != 200:  # the model's own status and body: 400 naming the field, 429 Retry-After, ...
            passed = {k: v for k, v in reply.headers.items() if k.lower() in PASSED_HEADERS}
            if where and isinstance(answer, dict):
                answer = {**answer, "instance": where}
            raise HTTPException(reply.status_code, detail=answer, headers=passed or None)
        return answer


def start_torchserve(torchserve: str, store: str, config: str, workdir: str) -> subprocess.Popen:
    """TorchServe as `make serve` runs it: its pid file, unpacked models and logs under the work directory, the
    repository's log configuration, and worker_site on the workers' path (ONNX-only workers skip libtorch)."""
    tmp, logs = os.path.join(workdir, "tmp"), os.path.join(workdir, "logs")
    os.makedirs(tmp, exist_ok=True)
    os.makedirs(logs, exist_ok=True)
    python_path = os.pathsep.join(p for p in (str(REPO / "genai_ops" / "worker_site"), os.environ.get("PYTHONPATH"))
                                  if p)
    env = {**os.environ, "TMPDIR": tmp, "TEMP": tmp, "LOG_LOCATION": logs, "METRICS_LOCATION": logs,
           "PYTHONPATH": python_path}
    cmd = [torchserve, "--start", "--foreground", "--ncs", "--model-store", store, "--ts-config", config,
           "--log-config", str(REPO / "log4j2.xml")]
    # Its own process group, so stopping it also stops the JVM's Python workers.
    return subprocess.Popen(cmd, cwd=workdir, env=env, start_new_session=True)


def stop(proc: subprocess.Popen, grace_s: float = 20.0) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def watch(proc: subprocess.Popen, died: threading.Event) -> None:
    """TorchServe exiting ends the pod's usefulness: stop KServe's server so the container exits and restarts."""
    proc.wait()
    if not died.is_set():
        died.set()
        log.error("TorchServe exited with %s: stopping", proc.returncode)
        os.kill(os.getpid(), signal.SIGTERM)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-store", default="/mnt/models/model-store")
    parser.add_argument("--ts-config", default="/mnt/models/config/config.properties")
    parser.add_argument("--torchserve", default=os.environ.get("GENAI_TORCHSERVE", "/opt/venv/bin/torchserve"))
    parser.add_argument("--workdir", default=os.environ.get("GENAI_WORKDIR", "/var/lib/genai-serve"))
    parser.add_argument("--request-timeout", type=float, default=600.0)
    args, _ = parser.parse_known_args(argv)  # the rest are KServe's (--http_port, --grpc_port, ...)
    return args


def main(argv=None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = parse_args(argv)
    props = read_properties(args.ts_config)
    names = sorted(json.loads(props["model_snapshot"])["models"])
    proc = start_torchserve(args.torchserve, args.model_store, args.ts_config, args.workdir)
    died = threading.Event()
    threading.Thread(target=watch, args=(proc, died), daemon=True).start()
    models = [TorchServeModel(n, props["inference_address"], props["management_address"], args.request_timeout)
              for n in names]
    try:
        for model in models:
            model.load()
        log.info("serving %s through KServe's model server", ", ".join(names))
        kserve.ModelServer().start(models)
    finally:
        exited = died.is_set()
        died.set()
        stop(proc)
    sys.exit(1 if exited else 0)


if __name__ == "__main__":
    main()
