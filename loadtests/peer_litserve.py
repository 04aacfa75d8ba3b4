"""Peer 2: a kept serving framework from the package index on the same model.onnx: LitServe.

  python -m loadtests.peer_litserve --base DIR --port 8091 --models cnn,gan [--key-file key_file.json]

  POST /predictions/<model>   the same request and response bodies as TorchServe + our handlers
  GET  /ping                  200 once every model's worker has loaded (LitServe's health check, moved to /ping)
  GET  /stats                 {"requests_by_batch_size": {model: {size: answers}}}

Why LitServe rather than Ray Serve or BentoML: it is one pip package (litserve + pyzmq + uvicorn[standard]) that
resolves beside our pins without moving any of them; it needs no cluster, no daemon, no build or packaging step and
no network at runtime; it is FastAPI + uvicorn underneath, so the HTTP layer is the one peer 1 uses and the
difference measured is the framework's own design; and dynamic batching is built in (LitAPI max_batch_size,
batch_timeout). Ray Serve brings a Ray cluster (GCS, raylet, dashboard processes: several hundred MB and cores a
2-core machine does not have), BentoML a packaging and runtime stack of its own; either would mostly measure itself.

How LitServe runs it: one uvicorn process answers HTTP (num_api_servers=1, like TorchServe's one frontend) and one
inference worker process per model and worker (spawned; workers_per_device = the registry's maxWorkers, as
TorchServe starts that many workers per model). A request's
body becomes TorchServe's request dict in the HTTP process (a FastAPI dependency named by `decode_request`'s
annotation, which is how LitServe lets an API choose what it receives) and travels to the model's worker through
LitServe's queue; the worker's batched loop collects up to max_batch_size = the registry's batchSize within
batch_timeout = maxBatchDelay, then calls decode_request per request (the project's envelope + schema + the
handler's parse, loadtests/peer_common.py `prepare`), predict once for the batch (the handler's infer: one ONNX
Runtime session per worker, our thread count) and encode_response per request. LitServe fails a whole batch when
decode_request raises, so a bad request's InputError is carried through predict as a value and answered as our
4xx by encode_response; its batch-mates still succeed. Answers carry X-Batch-Size. LitServe's GZip middleware
(on for non-streaming APIs) compresses answers over 1,000 bytes for clients that accept gzip.

Tokens: `Authorization: Bearer ...` is accepted and ignored unless --key-file is given; then it must be the
inference key of that TorchServe-format key file (a fresh one is written if the file does not exist); a missing
or wrong token is a 400 naming "Token Authorization failed", as at TorchServe.
"""
# No `from __future__ import annotations`: LitServe reads decode_request's annotation as an object and hands it
# to FastAPI as the endpoint's parameter type.
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import litserve as ls
from fastapi import Depends, HTTPException, Request, Response
from starlette.requests import ClientDisconnect

from genai_serve.errors import InputError
from loadtests.peer_common import (MAX_REQUEST_BYTES, TOKEN_REFUSED, BatchStats, Tokens, answer, batching, load_model,
                                   parse_args, prepare, run_batch, stats, torchserve_request, workers)

TOKENS = Tokens(None)  # replaced by main() before the HTTP process is forked


async def torchserve_request_checked(request: Request) -> dict:
    """FastAPI dependency, run in the HTTP process: token check, then TorchServe's request dict (picklable)."""
    if not TOKENS.allowed(request.headers.get("authorization")):
        raise HTTPException(status_code=400, detail=TOKEN_REFUSED)
    try:
        return await torchserve_request(request)
    except ClientDisconnect:  # the client left mid-body (Locust stopping): nobody to answer, nothing to log
        raise HTTPException(status_code=499) from None


class OneShotAPI(ls.LitAPI):
    """One registry model (cnn, gan) through its project handler; built in the HTTP process, pickled to its
    worker, where `setup` loads the handler (one ONNX Runtime session)."""

    def __init__(self, base: Path, name: str, batch_size: int, max_delay_s: float):
        super().__init__(max_batch_size=batch_size, batch_timeout=max_delay_s, api_path=f"/predictions/{name}")
        self.base, self.name = Path(base), name

    def setup(self, device):
        self.workdir = tempfile.TemporaryDirectory(prefix=f"peer-litserve-{self.name}-")
        self.model = load_model(self.base, self.name, Path(self.workdir.name))

    def decode_request(self, request: Annotated[dict, Depends(torchserve_request_checked)]):
        try:
            return prepare(self.model, request)
        except InputError as exc:  # raising would fail the whole batch: carry it to encode_response instead
            return exc

    def batch(self, inputs):
        return list(inputs)  # items are tuples, not arrays: LitServe's default would try to stack them

    def predict(self, x):
        items = x if self.max_batch_size > 1 else [x]  # max_batch_size 1: LitServe passes the one item
        valid = [item for item in items if not isinstance(item, InputError)]
        replies = iter(run_batch(self.model, valid) if valid else [])
        out = [(*(answer(item) if isinstance(item, InputError) else next(replies)), len(items)) for item in items]
        return out if self.max_batch_size > 1 else out[0]

    def unbatch(self, output):
        return output

    def encode_response(self, output) -> Response:
        status, body, size = output  # body: JSON bytes, encoded in the batch (peer_common.run_batch / answer)
        return Response(content=body, status_code=status, media_type="application/json",
                        headers={"X-Batch-Size": str(size)})


def build_server(base: Path, models: list[str]) -> ls.LitServer:
    from genai_ops.registry import load_registry, select

    specs = select(load_registry(), models)
    apis = [OneShotAPI(base, spec.name, *batching(spec)) for spec in specs]
    timeout = max(float(spec.model_config.get("responseTimeout", 120)) for spec in specs)
    # LitServe's workers_per_device is one number for every API: the registry's maxWorkers (TorchServe's workers).
    per_model = max(workers(spec) for spec in specs)
    server = ls.LitServer(apis, accelerator="cpu", workers_per_device=per_model, timeout=timeout, healthcheck_path="/ping",
                          max_payload_size=MAX_REQUEST_BYTES, middlewares=[BatchStats], disable_openapi_url=True)
    server.app.add_api_route("/stats", lambda: stats(), methods=["GET"])
    return server


def main(argv=None) -> None:
    global TOKENS
    args = parse_args(argv, __doc__)
    TOKENS = Tokens(args.key_file)
    server = build_server(args.base, args.models)

    main_pid = os.getpid()

    def interrupt(signum, frame):
        # SIGTERM -> LitServe's Ctrl+C path, which stops its workers and processes. The forked HTTP process inherits
        # this handler and gets SIGTERM from that path: uvicorn has shut down by then, so it just exits.
        if os.getpid() != main_pid:
            raise SystemExit(0)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    server.run(host=args.host, port=args.port, num_api_servers=1, log_level="warning", generate_client_file=False)


if __name__ == "__main__":
    main(sys.argv[1:])
