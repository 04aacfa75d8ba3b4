"""The TorchServe adapter for the iterative models (gpt2_qa, diffusion, ebm): continuous batching.

With `continuousBatching: true` in model-config.yaml, TorchServe's frontend (wlm/ContinuousBatching.java) keeps a
set of running requests per worker and calls `handle` again and again: each call carries the running requests
(those seen before arrive with headers only) plus any new ones that fit `batchSize`, and every reply is written to
its client at once. One call here is one slice of genai_serve/scheduler.py: hand the new requests to the
scheduler (which admits or refuses them), drop the ones TorchServe stops sending (their client disconnected:
the frontend removes a job whose connection closed after a reply), step everyone together for up to `slice_ms`,
and answer each request with what it has so far, in the shape of the API that asked (genai_serve/replies.py).
This module only translates TorchServe's calls: parsing is the base handler's (handlers/base.py), admission the
scheduler's, the wire format the API object's.

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
import time

from ts.handler_utils.utils import send_intermediate_predict_response

from genai_serve.errors import InputError
from genai_serve.replies import Immediate
from genai_serve.scheduler import Reply, Scheduler
from handlers.base import BaseHandler, _is_describe

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
    """Subclasses set `self.engine` in `load()` and turn a request into a job in `parse()` (as BaseHandler); a job
    carries what the scheduler reads (the registry's cost attributes, `stream`, `timeout_s`)."""

    def initialize(self, context) -> None:
        super().initialize(context)
        settings = self.config.get("scheduler", {})
        self.scheduler = Scheduler.for_model(self.engine, settings, observe=self._observe)
        if settings.get("calibrate"):  # a registry request run at load: admission knows the drain rate from the start
            rate = self.scheduler.calibrate(self.parse_request(dict(settings["calibrate"]), ""))
            log.info("%s: drains %.0f %s a second (calibration)", self.model_name, rate or 0, self.scheduler.cost_unit)
        # Without continuousBatching in model-config.yaml, TorchServe batches statically: each call's requests run
        # to the end inside that call (the benchmarks' baseline, and what an archive without the flag gets).
        self.continuous = bool((getattr(context, "model_yaml_config", None) or {}).get("continuousBatching"))
        self.streaming: set[str] = set()  # requests whose status line went out with a first chunk
        self._observed: list[tuple[str, float]] = []

    def api_of(self, job):
        """The API a job's replies take (the one that asked for it; the native one unless the job says)."""
        return getattr(job, "api", None) or self.api_for("")

    # -- TorchServe entry point: one call = one slice ------------------------------------------------
    def handle(self, data: list, context) -> list:
        if _is_describe(context):  # never sent by our tools: TorchServe 0.12 re-queues it forever in this mode
            context.stopping_criteria = None
            return [json.dumps(self.describe())]
        started = time.perf_counter()
        rids = [context.request_ids[i] for i in range(len(data))]
        self.scheduler.keep_only(set(rids))  # 1. clients gone: their rows leave before the next step
        self.streaming &= set(rids)
        new, answered = self._submit_new(context, data, rids)  # 2. new requests join, or are answered now
        self._run_slice()  # 3. everyone steps together
        while not self.continuous and self.scheduler.busy():
            self._send_static_events(context, rids, answered)  # static batching: the whole loop in this call
            self._run_slice()
        responses, last = [], []
        for i, rid in enumerate(rids):  # 4. what each request has to say now
            if i in answered:
                responses.append(answered[i])
                last.append(None)  # a plain, whole response
            else:
                body, is_last = self._reply_step(context, i, rid, self.scheduler.take(rid))
                responses.append(body)
                last.append(is_last)
        if self.continuous:
            context.stopping_criteria = [(lambda _out, stop=stop: stop) for stop in last]
        else:  # static: TorchServe ends a response that had intermediate chunks with this last reply
            self.streaming.clear()
        if new:  # HandlerRequests counts requests received: a call that only continues running ones adds none
            self._metrics(context, started, new, new - len(answered))
        self._flush_observations(context)
        return responses

    def _submit_new(self, context, data: list, rids: list[str]) -> tuple[int, dict[int, str]]:
        """Parse the requests seen for the first time and hand them to the scheduler; (how many were new,
        {index: whole response} for those answered in this call: refused, or with nothing to run)."""
        new, answered, parsed = 0, {}, []
        for i, (rid, request) in enumerate(zip(rids, data)):
            if rid in self.scheduler:
                continue
            new += 1
            job, refusal = self.parse_one(context, i, request)
            if refusal is not None:
                answered[i] = refusal
            else:
                parsed.append((i, rid, job))
        # higher priority first: when the work held leaves room for some of them only, they get it
        for i, rid, job in sorted(parsed, key=lambda p: -int(getattr(p[2], "priority", 0) or 0)):
            refusal = self._submit(context, i, rid, job)
            if refusal is not None:
                answered[i] = refusal
        for i, rid in enumerate(rids):  # how many requests share the steps a new one starts with
            if rid in self.scheduler and i not in answered:
                context.set_response_header(i, "X-Batch-Size", str(len(self.scheduler)))
        return new, answered

    def _submit(self, context, idx: int, rid: str, job) -> str | None:
        """The scheduler admits the job (None), or its refusal is the whole response (400, 429 + Retry-After)."""
        if isinstance(job, Immediate):
            return self._reply(context, idx, job.body, 200, "OK")
        try:
            self.scheduler.submit(rid, job)
        except InputError as exc:
            return self.refuse(context, idx, exc, self.api_of(job))
        return None

    def _run_slice(self) -> None:
        try:
            self.scheduler.run_slice()
        except Exception:  # our bug or a device failure: those requests end with a 500 body; the worker stays up
            log.exception("%s: a step failed", self.model_name)
            self.scheduler.fail_all(InputError("internal error while sampling", None, 500))

    def _send_static_events(self, context, rids: list[str], answered: dict) -> None:
        """Static batching: stream a slice's events as TorchServe's intermediate responses (HTTP chunks)."""
        for i, rid in enumerate(rids):
            reply = None if i in answered else self.scheduler.take_events(rid)
            if reply is None:
                continue
            api = self.api_of(reply.job)
            context.set_response_status(200, "OK", i)
            context.set_response_content_type(i, api.content_type(reply.job))
            self.streaming.add(rid)
            chunk = api.render(reply, stream_started=True)
            send_intermediate_predict_response({i: chunk}, {i: rid}, "Intermediate response", 200, context)

    def _reply_step(self, context, idx: int, rid: str, reply: Reply) -> tuple[str, bool | None]:
        """(body, last) for a running request; last None = one plain response (nothing was streamed yet)."""
        api = self.api_of(reply.job)
        context.set_response_content_type(idx, api.content_type(reply.job))
        if reply.done and rid not in self.streaming:  # finished within its first call: a plain response
            status = reply.error.status if reply.error else 200
            context.set_response_status(status, _phrase(status), idx)
            return api.render(reply, stream_started=False), None
        self.streaming.add(rid)  # the first chunk carries the status line and the content type
        context.set_response_status(200, "OK", idx)
        if reply.done:
            self.streaming.discard(rid)
        return api.render(reply, stream_started=True), reply.done

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

