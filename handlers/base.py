"""The one TorchServe adapter. Subclasses implement `load`, `parse` and `infer`; everything else is here.

Per batch (TorchServe hands `handle` a list with one entry per request):
  1. decode each request's envelope and validate its parameters against the registry schema;
     a bad request gets its own 4xx {"error", "field"} and is left out of the batch;
  2. run the valid ones together through `infer` (one forward pass / one sampling loop);
  3. return exactly one JSON response per request, in order.
A bug in `infer` answers 500 for the requests of that batch, a bug while parsing one request a 500 for that
request alone; the worker stays up and TorchServe never sees an exception (which would fail the batch with 503).

Every response carries `X-Batch-Size`: how many requests shared its batch. The iterative models (loops that
stream, join and leave per step) use its continuous-batching form, handlers/iterative.py.
"""
from __future__ import annotations

import json
import logging
import secrets
import time
from http import HTTPStatus
from pathlib import Path

from genai_serve import oip
from genai_serve.envelope import Decoded, decode_request
from genai_serve.errors import InputError
from genai_serve.replies import NATIVE, NDJSON
from genai_serve.runtime import recording_devices, thread_budget, worker_device
from genai_serve.schema import build_request_model, validate

log = logging.getLogger(__name__)


def seed_or_fresh(seed: int | None) -> int:
    """The request's seed, or a fresh random one that the response returns so the output can be reproduced."""
    return seed if seed is not None else secrets.randbits(32)


class BaseHandler:
    binary_fields: tuple[str, ...] = ()  # request fields that carry file content (images)
    tensor_outputs: tuple[str, ...] = ()  # the OIP output names a model that takes tensors answers with
    max_tensor_elements = 0  # values per OIP input tensor

    def __init__(self):
        self.initialized = False

    # -- lifecycle ------------------------------------------------------------------------------
    def initialize(self, context) -> None:
        props = context.system_properties
        self.model_dir = Path(props["model_dir"])
        self.gpu_id = props.get("gpu_id")
        self.config = (getattr(context, "model_yaml_config", None) or {}).get("handler", {})
        model = (context.manifest or {}).get("model", {})
        self.model_name = model.get("modelName", "model")
        self.version = model.get("modelVersion")
        self.request_spec = self.config.get("request", {})
        self.request_model = build_request_model(self.model_name, self.request_spec)
        card = self.model_dir / "model_card.json"
        self.card = json.loads(card.read_text()) if card.exists() else {}
        self.threads = thread_budget(self.config)
        with recording_devices() as devices:  # every session / torch device load() makes says where it runs
            self.load()
        device_type = (getattr(context, "model_yaml_config", None) or {}).get("deviceType")
        self.device_report = worker_device(devices, self.gpu_id, device_type)
        self.initialized = True
        log.log(logging.WARNING if self.device_report.warning else logging.INFO, "%s %s loaded with %d thread(s) on %s",
                self.model_name, self.version, self.threads, self.device_report.summary())

    def load(self) -> None:
        """Load the artifacts from self.model_dir (called once per worker)."""
        raise NotImplementedError

    # -- per request and per batch ----------------------------------------------------------------
    def parse(self, decoded: Decoded, params) -> object:
        """One request -> one item for `infer`. Raise InputError for anything the client got wrong."""
        return params

    def parse_tensors(self, request: oip.Request) -> object:
        """One Open Inference Protocol request (JSON tensors) -> one item for `infer` (models with `tensor_outputs`)."""
        raise NotImplementedError

    def parse_request(self, request: dict, url_path: str = "") -> object:
        """One request as TorchServe hands it -> one item for `infer`: the envelope decoded, then either an OIP
        tensor body (`inputs`, genai_serve/oip.py) or the model's own fields checked against its schema.
        `url_path` is what followed the model (and version) in the URL; only gpt2_qa serves more than one API."""
        decoded = decode_request(request, self.binary_fields)
        if oip.is_oip(decoded.params):
            if not self.tensor_outputs:
                raise InputError(f"{self.model_name} takes no tensor inputs: send the request its schema describes "
                                 f"(GET /models/{self.model_name}?customized=true)", "inputs")
            return self.parse_tensors(oip.read_request(decoded.params, self.max_tensor_elements, self.tensor_outputs))
        return self.parse(decoded, validate(self.request_model, self.request_spec, decoded.params))

    def api_for(self, url_path: str):
        """The API that answers requests on `url_path` (genai_serve/replies.py): the native one, for every model
        but gpt2_qa, whose v1/ paths speak OpenAI's."""
        return NATIVE

    def parse_one(self, context, idx: int, request: dict) -> tuple[object, str | None]:
        """(item, None), or (None, the request's whole response) when it is refused: the one per-request error
        path of every model. A client's mistake is its 4xx; our bug while parsing it is a 500 for it alone."""
        url_path = _url_path(context, idx)
        try:
            return self.parse_request(request, url_path), None
        except InputError as exc:
            return None, self.refuse(context, idx, exc, self.api_for(url_path))
        except Exception:
            log.exception("%s: request %d could not be parsed", self.model_name, idx)
            return None, self._reply_output(context, idx, None)

    def refuse(self, context, idx: int, exc: InputError, api) -> str:
        """A refusal in the shape of the API that was asked (`api`, genai_serve/replies.py); a 429 says when to
        retry."""
        retry_after = getattr(exc, "retry_after_s", None)
        if retry_after is not None:
            context.set_response_header(idx, "Retry-After", str(retry_after))
        return self._reply(context, idx, api.error_body(exc), exc.status, exc.message)

    def infer(self, items: list) -> list[dict]:
        """All valid items of the batch at once -> one response dict per item."""
        raise NotImplementedError

    def describe(self) -> dict:
        """GET /models/<name>?customized=true returns this under `customizedMetadata`."""
        import genai_serve

        return {
            "model_card": self.card,
            "request_schema": self.request_model.model_json_schema(),
            # Where the shared code was imported from: inside the unpacked archive, never the repo checkout.
            "code_dir": str(Path(genai_serve.__file__).resolve().parent),
            "threads": self.threads,
            "device": self.device_report.as_dict(),  # where the network runs and why (runtime.worker_device)
        }

    # -- TorchServe entry point -------------------------------------------------------------------
    def handle(self, data: list, context) -> list:
        if _is_describe(context):
            return [json.dumps(self.describe())]
        started = time.perf_counter()
        responses: list = [None] * len(data)
        items, slots = [], []
        for i, request in enumerate(data):
            item, refusal = self.parse_one(context, i, request)
            if refusal is None:
                items.append(item)
                slots.append(i)
            else:
                responses[i] = refusal
        if items:
            try:
                outputs = self.infer(items)
            except InputError as exc:  # a batch-level input problem (rare): every member gets it
                outputs = [exc] * len(items)
            except Exception:  # our bug, not the client's: 500 for this batch, worker survives
                log.exception("%s: inference failed", self.model_name)
                outputs = [None] * len(items)
            for i, out in zip(slots, outputs):
                responses[i] = self._reply_output(context, i, out)
        for i in range(len(data)):
            context.set_response_header(i, "X-Batch-Size", str(len(data)))
        self._metrics(context, started, len(data), len(items))
        return responses

    def _reply_output(self, context, idx: int, out):
        if isinstance(out, InputError):
            return self._reply(context, idx, out.to_body(), out.status, out.message)
        if out is None:
            return self._reply(context, idx, {"error": "internal error", "field": None}, 500, "internal error")
        return self._reply(context, idx, out, 200, "OK")

    @staticmethod
    def _reply(context, idx: int, body: dict, status: int, phrase: str, content_type: str = "application/json") -> str:
        # The status line gets the standard phrase: the detailed message (which may quote non-ASCII client
        # input) belongs in the JSON body, not in an HTTP header line.
        context.set_response_status(status, HTTPStatus(status).phrase, idx)
        context.set_response_content_type(idx, content_type)
        return json.dumps(body) + ("\n" if content_type == NDJSON else "")

    def _metrics(self, context, started: float, received: int, accepted: int) -> None:
        metrics = getattr(context, "metrics", None)
        if metrics is None:
            return
        metrics.add_time("HandlerBatchLatency", (time.perf_counter() - started) * 1000.0, unit="ms")
        metrics.add_counter("HandlerRequests", received)
        metrics.add_counter("HandlerRejected", received - accepted)


def _is_describe(context) -> bool:
    try:
        return context.get_request_header(0, "describe") == "True"
    except (AttributeError, IndexError, KeyError, TypeError):
        return False


def _url_path(context, idx: int) -> str:
    """What followed /predictions/<model>[/<version>] in the request's URL (TorchServe's url_path header)."""
    try:
        return (context.get_request_header(idx, "url_path") or "").strip("/")
    except (AttributeError, IndexError, KeyError, TypeError):
        return ""
