"""Peer 1: what a user would write instead of TorchServe: FastAPI + uvicorn, one ONNX Runtime session
per model, and an asyncio dynamic micro-batcher. Same URL, bodies and 4xx as ours, so loadtests/locustfile.py
runs against it unchanged:

  python -m loadtests.peer_fastapi --base DIR --port 8090 --models cnn,gan [--key-file key_file.json]

  POST /predictions/<model>   the same request and response bodies as TorchServe + our handlers
  GET  /ping                  200 {"status": "Healthy"} once every model is loaded (what a benchmark waits for)
  GET  /stats                 {"requests_by_batch_size": {model: {size: answers}}}

One process, one event loop. Per request, in the endpoint: the body becomes TorchServe's request dict, then the
project's envelope + schema + the handler's parse (loadtests/peer_common.py `prepare`); a bad request is answered
4xx there and never queued. Valid items go to the model's `MicroBatcher`: it takes the first waiting item, then
more until the registry's batchSize or until maxBatchDelay ms have passed since the first (TorchServe's rule),
runs the batch's `infer` + JSON encoding in one of the model's threads (ONNX Runtime releases the GIL, so the
loop keeps accepting), and resolves each request's future. As many batches in flight per model as the registry's
maxWorkers (TorchServe's workers for it; one collector and one thread each); more than jobQueueSize waiting is a
503, as TorchServe's job queue. Every answer carries X-Batch-Size.

Tokens: `Authorization: Bearer ...` is accepted and ignored unless --key-file is given; then it must be the
inference key of that TorchServe-format key file (a fresh one is written if the file does not exist), and a
missing or wrong token is TorchServe's 400 InvalidKeyException.
"""
from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from starlette.requests import ClientDisconnect

from genai_serve.errors import InputError
from loadtests.peer_common import (MAX_REQUEST_BYTES, BatchStats, PeerModel, Tokens, answer, load_model, parse_args,
                                   prepare, refused_body, run_batch, stats, torchserve_request)

JSON = "application/json"


class MicroBatcher:
    """Collects one model's requests into batches and runs each batch in the model's own thread."""

    def __init__(self, model: PeerModel):
        self.model = model
        self.queue: asyncio.Queue = asyncio.Queue()
        # One thread per batch in flight (the registry's maxWorkers, as TorchServe's workers); ONNX Runtime's run()
        # may be called from several threads on one session.
        self.thread = ThreadPoolExecutor(model.workers, thread_name_prefix=f"onnxruntime-{model.name}")
        self.tasks: list[asyncio.Task] = []

    def start(self) -> None:
        loop = asyncio.get_running_loop()  # each collector takes its own batches from the shared queue
        self.tasks = [loop.create_task(self._run(), name=f"batcher-{self.model.name}-{i}")
                      for i in range(self.model.workers)]

    async def submit(self, item) -> tuple[tuple[int, bytes], int]:
        """-> ((status, JSON body), batch size). QueueFull when jobQueueSize requests are already waiting."""
        if self.queue.qsize() >= self.model.queue_size:
            raise asyncio.QueueFull
        future = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((item, future))
        return await future

    async def _collect(self) -> list:
        batch = [await self.queue.get()]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.model.max_delay_s
        while len(batch) < self.model.batch_size:
            if not self.queue.empty():  # already waiting: take it without waiting
                batch.append(self.queue.get_nowait())
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self.queue.get(), remaining))
            except TimeoutError:
                break
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._collect()
            items = [item for item, _ in batch]
            try:
                replies = await loop.run_in_executor(self.thread, run_batch, self.model, items)
            except Exception:  # run_batch answers 500 itself; this is the executor failing
                replies = [answer(None)] * len(batch)
            for (_, future), reply in zip(batch, replies):
                if not future.done():  # the client may have gone (its task cancelled)
                    future.set_result((reply, len(batch)))


def json_response(status: int, body: bytes, batch_size: int | None = None) -> Response:
    headers = {"X-Batch-Size": str(batch_size)} if batch_size else None
    return Response(content=body, status_code=status, media_type=JSON, headers=headers)


def create_app(base: Path, models: list[str], key_file: Path | None = None) -> FastAPI:
    tokens = Tokens(key_file)
    batchers: dict[str, MicroBatcher] = {}

    @asynccontextmanager
    async def lifespan(_app):
        with tempfile.TemporaryDirectory(prefix="peer-fastapi-") as workdir:
            for name in models:  # one handler, so one ONNX Runtime session, per model
                batchers[name] = MicroBatcher(load_model(base, name, Path(workdir)))
            for batcher in batchers.values():
                batcher.start()
            yield
            for batcher in batchers.values():
                for task in batcher.tasks:
                    task.cancel()
                batcher.thread.shutdown(wait=False)

    app = FastAPI(title="peer: FastAPI + uvicorn + asyncio micro-batcher", lifespan=lifespan, openapi_url=None)
    app.add_middleware(BatchStats)

    @app.get("/ping")
    async def ping():
        ready = len(batchers) == len(models)
        return Response(json.dumps({"status": "Healthy" if ready else "Loading"}), 200 if ready else 503,
                        media_type=JSON)

    @app.get("/stats")
    async def get_stats():
        return stats()

    @app.post("/predictions/{model}")
    async def predict(model: str, request: Request):
        if not tokens.allowed(request.headers.get("authorization")):
            return json_response(400, refused_body())
        batcher = batchers.get(model)
        if batcher is None:
            return json_response(404, json.dumps({"code": 404, "type": "ModelNotFoundException",
                                                  "message": f"Model not found: {model}"}).encode())
        if int(request.headers.get("content-length") or 0) > MAX_REQUEST_BYTES:
            return json_response(413, answer(InputError(f"body over {MAX_REQUEST_BYTES} bytes", "body", 413))[1])
        try:
            item = prepare(batcher.model, await torchserve_request(request))
        except InputError as exc:
            return json_response(*answer(exc))
        except ClientDisconnect:  # the client left mid-body (Locust stopping): nobody to answer, nothing to log
            return Response(status_code=499)
        try:
            (status, body), size = await batcher.submit(item)
        except asyncio.QueueFull:
            return json_response(503, json.dumps({"code": 503, "type": "ServiceUnavailableException",
                                                  "message": f"{model}: job queue full"}).encode())
        return json_response(status, body, size)

    return app


def main(argv=None) -> None:
    import uvicorn

    args = parse_args(argv, __doc__)
    app = create_app(args.base, args.models, args.key_file)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main(sys.argv[1:])
