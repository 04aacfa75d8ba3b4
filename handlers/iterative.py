"""The TorchServe adapter for the iterative models (gpt2_qa, diffusion, ebm): continuous batching.

With `continuousBatching: true` in model-config.yaml, TorchServe's frontend (wlm/ContinuousBatching.java) keeps a
set of running requests per worker and calls `handle` again and again: each call carries the running requests
(those seen before arrive with headers only) plus any new ones that fit `batchSize`, and every reply is written to
its client at once. One call here is one slice of genai_serve/scheduler.py: admit the new requests, drop the ones
TorchServe no longer sends (their client disconnected: the frontend removes a job whose connection closed after
a reply), step everyone together for up to `slice_ms`, and answer each request with what it has so far.

Every request gets a reply on every call (TorchServe requires one per request), and its `stopping_criteria`
entry says whether it was the last: TorchServe sends `ts_stream_next: true` replies as HTTP chunks and ends the
response after a `false` one. So:
  * a request refused or finished within its first call gets one plain response (400/408/429, or its body);
  * a streaming request gets its events (NDJSON lines, or SSE for the OpenAI API) as they happen;
  * a non-streaming request gets empty chunks (nothing reaches the wire) and then its body in the last one.
    Its status line (200) goes out with the first chunk, so a request stopped later (its `timeout_s`, or a step
    that failed) ends with a body carrying "error" and "status" instead of a different HTTP status.
A reply is also what lets the frontend notice a closed connection, which is why running requests are answered
at every call rather than only at the end.
"""
from __future__ import annotations

import json
import logging
import math
import os
import time

from ts.handler_utils.utils import send_intermediate_predict_response

from genai_serve.envelope import decode_request
from genai_serve.errors import InputError
from genai_serve.scheduler import Overloaded, Reply, Scheduler
from genai_serve.schema import validate
from handlers.base import NDJSON, BaseHandler, _is_describe

log = logging.getLogger(__name__)

# Scheduler observations -> Prometheus names (after vLLM's, where they mean the same), kinds and units.
METRICS = {
    "queue_time_s": ("genai_request_queue_time_seconds", "histogram"),
    "time_to_first_output_s": ("genai_time_to_first_token_seconds", "histogram"),
    "inter_output_s": ("genai_inter_token_latency_seconds", "histogram"),
    "running": ("genai_num_requests_running", "gauge"),
    "cost_held": ("genai_cost_held", "gauge"),  # work admitted and not yet done, in scheduler.cost_unit
    "cost_admitted": ("genai_cost_admitted_total", "counter"),
    "cost_refused": ("genai_cost_refused_total", "counter"),
    "dropped": ("genai_requests_abandoned_total", "counter"),
}


class IterativeHandler(BaseHandler):
    """Subclasses set `self.engine` in `load()` and turn a request into a job in `parse()` (as BaseHandler)."""

    def initialize(self, context) -> None:
        super().initialize(context)
        sched = self.config.get("scheduler", {})
        self.cost_factors = list(sched.get("cost", []))
        # GENAI_SLICE_MS overrides the registry's slice for one server (the benchmarks sweep it)
        slice_ms = float(os.environ.get("GENAI_SLICE_MS") or sched.get("slice_ms", 25))
        self.scheduler = Scheduler(self.engine, float(sched.get("max_cost", math.inf)), slice_ms / 1000.0,
                                   cost_unit=sched.get("cost_unit", "units"), step_rows=sched.get("step_rows"),
                                   observe=self._observe)
        # Without continuousBatching in model-config.yaml, TorchServe batches statically: each call's requests run
        # to the end inside that call (the benchmarks' baseline, and what an archive without the flag gets).
        self.continuous = bool((getattr(context, "model_yaml_config", None) or {}).get("continuousBatching"))
        self.streaming: set[str] = set()  # requests whose status line went out with a first chunk
        self._observed: list[tuple[str, float]] = []

    def cost(self, job) -> float:
        """The registry's cost of a job: the product of its `scheduler.cost` attributes (images x steps, ...)."""
        return float(math.prod(getattr(job, name) for name in self.cost_factors))

    def timeout_s(self, params) -> float | None:
        return getattr(params, "timeout_s", None)

    # -- TorchServe entry point: one call = one slice ------------------------------------------------
    def handle(self, data: list, context) -> list:
        if _is_describe(context):  # never sent by our tools: TorchServe 0.12 re-queues it forever in this mode
            context.stopping_criteria = None
            return [json.dumps(self.describe())]
        started = time.perf_counter()
        self._context = context
        rids = [context.request_ids[i] for i in range(len(data))]
        self.scheduler.keep_only(set(rids))  # 1. clients gone: their rows leave before the next step
        self.streaming &= set(rids)
        new, refused = self._admit(data, rids)  # 2. new requests join, or get their 4xx now
        self._run_slice()  # 3. everyone steps together
        while not self.continuous and self.scheduler.busy():
            self._send_static_events(rids, refused)  # static batching: the whole loop in this call
            self._run_slice()
        responses, last = [], []
        for i, rid in enumerate(rids):  # 4. what each request has to say now
            if i in refused:
                responses.append(refused[i])
                last.append(None)  # a plain, whole response
            else:
                body, is_last = self._reply_step(i, rid, self.scheduler.take(rid))
                responses.append(body)
                last.append(is_last)
        if self.continuous:
            context.stopping_criteria = [(lambda _out, stop=stop: stop) for stop in last]
        else:  # static: TorchServe ends a response that had intermediate chunks with this last reply
            self.streaming.clear()
        if new:  # HandlerRequests counts requests received: a call that only continues running ones adds none
            self._metrics(context, started, new, new - len(refused))
        self._flush_observations(context)
        return responses

    def _run_slice(self) -> None:
        try:
            self.scheduler.run_slice()
        except Exception:  # our bug or a device failure: those requests end with a 500 body; the worker stays up
            log.exception("%s: a step failed", self.model_name)
            self.scheduler.fail_all(InputError("internal error while sampling", None, 500))

    def _send_static_events(self, rids: list[str], refused: dict) -> None:
        """Static batching: stream a slice's events as TorchServe's intermediate responses (HTTP chunks)."""
        for i, rid in enumerate(rids):
            reply = None if i in refused else self.scheduler.take_events(rid)
            if reply is None:
                continue
            self._context.set_response_status(200, "OK", i)
            self._context.set_response_content_type(i, self.content_type(reply.job))
            self.streaming.add(rid)
            chunk = self.render(reply, stream_started=True)
            send_intermediate_predict_response({i: chunk}, {i: rid}, "Intermediate response", 200, self._context)

    def _admit(self, data: list, rids: list[str]) -> tuple[int, dict[int, str]]:
        """Admit the requests seen for the first time; (how many were new, {index: reply} for those refused)."""
        new, refused, admitted = 0, {}, []  # refused: requests answered in this call (a 4xx, or immediate)
        for i, (rid, request) in enumerate(zip(rids, data)):
            if rid in self.scheduler:
                continue
            new += 1
            try:
                answer = self.immediate(i, request)
                if answer is not None:  # nothing to run (e.g. the OpenAI API's model list)
                    refused[i] = self._reply(self._context, i, answer, 200, "OK")
                    continue
                decoded = decode_request(request, self.binary_fields)
                job, params = self.parse_request(decoded, i)
                cost = self.cost(job)
                if cost > self.scheduler.max_cost:
                    raise InputError(f"{' x '.join(self.cost_factors)}: this request costs {cost:.0f} "
                                     f"{self.scheduler.cost_unit}, more than this model admits at once "
                                     f"({self.scheduler.max_cost:.0f}); ask for less", self.cost_factors[0])
                self.scheduler.admit(rid, job, cost, stream=bool(getattr(job, "stream", False)),
                                     timeout_s=self.timeout_s(params))
                admitted.append(i)
            except InputError as exc:
                refused[i] = self._reply(self._context, i, self.error_body(i, exc), exc.status, exc.message)
            except Overloaded as exc:
                self._context.set_response_header(i, "Retry-After", str(exc.retry_after_s))
                refused[i] = self._reply(self._context, i, self.overload_body(i, exc), 429, exc.message)
            except Exception:  # our bug in parsing one request: a 500 for it alone
                log.exception("%s: request %d could not be parsed", self.model_name, i)
                refused[i] = self._reply_output(self._context, i, None)
        for i in admitted:  # how many requests share the steps it starts with
            self._context.set_response_header(i, "X-Batch-Size", str(len(self.scheduler)))
        return new, refused

    def immediate(self, idx: int, request: dict) -> dict | None:
        """A body to answer at once without running anything, or None (subclasses with such endpoints)."""
        return None

    def parse_request(self, decoded, idx: int):
        """One new request -> (job, validated params). Subclasses with more than one API override this."""
        params = validate(self.request_model, self.request_spec, decoded.params)
        return self.parse(decoded, params), params

    # -- replies ----------------------------------------------------------------------------------------
    def _reply_step(self, idx: int, rid: str, reply: Reply) -> tuple[str, bool | None]:
        """(body, last) for a running request; last None = one plain response (nothing was streamed yet)."""
        ctx = self._context
        if reply.done and rid not in self.streaming:  # finished within its first call: a plain response
            status = reply.error.status if reply.error else 200
            ctx.set_response_status(status, _phrase(status), idx)
            ctx.set_response_content_type(idx, self.content_type(reply.job))
            return self.render(reply, stream_started=False), None
        if rid not in self.streaming:  # the first chunk carries the status line and the content type
            self.streaming.add(rid)
        ctx.set_response_status(200, "OK", idx)
        ctx.set_response_content_type(idx, self.content_type(reply.job))
        if reply.done:
            self.streaming.discard(rid)
        return self.render(reply, stream_started=True), reply.done

    def content_type(self, job) -> str:
        return NDJSON if getattr(job, "stream", False) else "application/json"

    def render(self, reply: Reply, stream_started: bool) -> str:
        """Native API: NDJSON lines for streaming requests; one JSON body otherwise (empty until done)."""
        if getattr(reply.job, "stream", False):
            lines = list(reply.events)
            if reply.final is not None:
                lines.append({"type": "final", **reply.final})
            if reply.error is not None:
                lines.append({"type": "error", **reply.error.to_body(), "status": reply.error.status})
            return "".join(json.dumps(line) + "\n" for line in lines)
        if reply.final is not None:
            return json.dumps(reply.final)
        if reply.error is not None:
            body = reply.error.to_body()
            return json.dumps({**body, "status": reply.error.status} if stream_started else body)
        return ""

    def error_body(self, idx: int, exc: InputError) -> dict:
        return exc.to_body()

    def overload_body(self, idx: int, exc: Overloaded) -> dict:
        return exc.to_body()

    # -- metrics ------------------------------------------------------------------------------------------
    def _observe(self, name: str, value: float) -> None:
        self._observed.append((name, value))

    def _flush_observations(self, context) -> None:
        metrics = getattr(context, "metrics", None)
        observed, self._observed = self._observed, []
        if metrics is None:
            return
        from ts.metrics.metric_type_enum import MetricTypes

        kinds = {"histogram": MetricTypes.HISTOGRAM, "gauge": MetricTypes.GAUGE, "counter": MetricTypes.COUNTER}
        gauges = {}
        for name, value in observed:
            metric, kind = METRICS[name]
            if kind == "gauge":
                gauges[metric] = value  # the latest value is the state
            else:
                metrics.add_metric(metric, value, "s" if kind == "histogram" else "count",
                                   metric_type=kinds[kind])
        for metric, value in gauges.items():
            metrics.add_metric(metric, value, "count", metric_type=MetricTypes.GAUGE)


def _phrase(status: int) -> str:
    from http import HTTPStatus

    return HTTPStatus(status).phrase

