"""Overload: bounded load above a model's capacity, and what every request got back.

Two limits refuse work, and a refusal must be fast, JSON and documented:
  * TorchServe's job queue (`jobQueueSize` per model, 100): `batchSize` requests per worker are in the handler,
    up to jobQueueSize more wait in the frontend, and the next one gets the frontend's own 503 at once:
    {"code": 503, "type": "ServiceUnavailableException", "message": "Model \"x\" has no worker to serve inference
    request. ..."} (the message is misleading: the workers are fine, the queue is full), with no Retry-After.
    TorchServe has no hook to change that answer (pytorch/serve#2764 asks for 429), so we document it.
  * our step scheduler (ebm, diffusion, gpt2_qa; genai_serve/scheduler.py): a request that would push the work
    a worker holds past `scheduler.max_cost`, or past what drains within `scheduler.max_wait_s`, gets 429,
    `Retry-After` and {"error", "field": null, "retry_after_s"}. These models set batchSize = jobQueueSize, so
    every queued request reaches the scheduler at the next slice and TorchServe's 503 needs 512 outstanding.

The driver starts `clients` threads together (so the queue really fills) and each repeats its request until
`seconds` have passed or `max_requests` were sent; a refused client backs off for its Retry-After (at most
`max_backoff` s) or 0.1 s, like a polite client, so the refusals stay bounded too. Every request has a client
timeout. Optional `ballast` requests (large, held open, closed at the end and not counted) fill the scheduler's
cost cap, so that a larger request is refused with 429 while small ones are still admitted.

Queue depth, sampled while the load runs: TorchServe's frontend queue (`jobQueueStatus.pendingRequests` of the
management API: TorchServe 0.12 puts no queue gauge on :8082), its mean over the run from Prometheus by Little's
law (the rate of the `ts_queue_latency_microseconds` counter, in microseconds per microsecond, is the mean number
of requests waiting), and our scheduler's gauge `genai_cost_held` (the work a worker holds, in max_cost's unit).
"""
from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from genai_ops.registry import ModelSpec
from genai_ops.server import Server
from loadtests.harness.prometheus import metric_values

JSON = "application/json"
QUEUE_FULL = 503  # TorchServe's frontend: the model's job queue is full
OVER_COST = 429  # our scheduler: the worker holds too much work


@dataclass
class Shot:
    """One kind of request in the load, sent by `clients` threads."""
    body: bytes
    content_type: str = JSON
    clients: int = 1
    label: str = "sample"


@dataclass
class OverloadResult:
    model: str
    seconds: float = 0.0
    by_status: Counter = field(default_factory=Counter)  # "200", "503", "429", "timeout", "connection error"
    refusal_latency_s: dict = field(default_factory=dict)  # {"503": {"p50", "p99", "max"}, "429": {...}}
    undocumented: list[str] = field(default_factory=list)  # a refusal without the documented body / header
    failed: list[str] = field(default_factory=list)  # an accepted request that did not succeed
    timed_out: int = 0  # no answer within the client timeout
    retry_after: list[int] = field(default_factory=list)  # Retry-After values seen (sorted)
    queue_pending: list[int] = field(default_factory=list)  # TorchServe's jobQueueStatus.pendingRequests samples
    queue_mean: float | None = None  # mean frontend queue depth over the run, by Little's law (Prometheus)
    cost_held: list[float] = field(default_factory=list)  # genai_cost_held samples (iterative models)
    ballast: list[int] = field(default_factory=list)  # statuses of the held-open ballast requests
    drained: bool | None = None  # the model was idle again afterwards (run_plan)

    @property
    def accepted_ok(self) -> bool:
        return not self.failed

    @property
    def refused(self) -> int:
        return self.by_status[str(QUEUE_FULL)] + self.by_status[str(OVER_COST)]

    @property
    def ok(self) -> bool:
        """Load really was above capacity, every refusal was documented, nothing accepted failed or hung."""
        return self.refused > 0 and self.by_status["200"] > 0 and not self.undocumented and self.accepted_ok \
            and self.timed_out == 0


def refusal_problem(status: int, headers, text: str) -> str | None:
    """None when a refusal carries its documented body (and Retry-After for ours), else what is wrong."""
    try:
        body = json.loads(text)
    except ValueError:
        return f"HTTP {status} without a JSON body: {text[:120]!r}"
    if status == QUEUE_FULL:
        if body.get("code") != 503 or body.get("type") != "ServiceUnavailableException":
            return f"HTTP 503 with an unexpected body: {text[:160]!r}"
        return None
    retry = headers.get("Retry-After", "")
    if not retry.isdigit() or int(retry) < 1 or body.get("retry_after_s") != int(retry) or "error" not in body:
        return f"HTTP 429 with Retry-After {retry!r} and body {text[:160]!r}"
    return None


class _Run:
    """Shared state of one overload run: the request budget and what came back."""

    def __init__(self, max_requests: int, deadline: float):
        self.lock = threading.Lock()
        self.left, self.deadline = max_requests, deadline
        self.results: list[tuple[str, int, float, str | None]] = []  # (shot, status or -1, seconds, problem)
        self.retry_after: list[int] = []

    def take(self) -> bool:
        with self.lock:
            if self.left <= 0 or time.monotonic() >= self.deadline:
                return False
            self.left -= 1
            return True


class _Answer:
    """What one request got back: status, headers, body text (the fields the checks read)."""

    def __init__(self, status: int, headers, text: str):
        self.status_code, self.headers, self.text = status, headers, text

    def json(self):
        return json.loads(self.text)


class _Connection:
    """One client's keep-alive connection, on the standard library's http.client.

    The load must come faster than the server answers, or the queue never fills and nothing is measured: with
    `requests` (a session, a pool, the key file read per call) a client spends over a millisecond of CPU per
    request, and on 2 cores shared with the server the clients were slower than cnn's handler (CI saw 1,500 of
    1,500 answered 200). A reused http.client connection costs a fraction of that."""

    def __init__(self, server: Server, spec: ModelSpec, timeout: float):
        self.host, self.port = server.host, server.ports["inference"]
        self.path, self.timeout = f"/predictions/{spec.name}", timeout
        self.headers = {"Authorization": f"Bearer {server.token('inference')}"}
        self.conn: http.client.HTTPConnection | None = None

    def post(self, body: bytes, content_type: str) -> _Answer:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            self.conn.request("POST", self.path, body=body, headers={**self.headers, "Content-Type": content_type})
            r = self.conn.getresponse()
            answer = _Answer(r.status, r.headers, r.read().decode("utf-8", "replace"))
        except BaseException:
            self.close()  # a timed-out or broken connection is not reused
            raise
        if r.will_close:
            self.close()
        return answer

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _client(server: Server, spec: ModelSpec, shot: Shot, run: _Run, start: threading.Barrier, timeout: float,
            max_backoff: float) -> None:
    conn = _Connection(server, spec, timeout)
    try:
        start.wait(timeout=60)
    except threading.BrokenBarrierError:
        pass
    while run.take():
        began = time.monotonic()
        backoff, problem = 0.0, None
        try:
            r = conn.post(shot.body, shot.content_type)
            status, elapsed = r.status_code, time.monotonic() - began
            if status in (QUEUE_FULL, OVER_COST):
                problem = refusal_problem(status, r.headers, r.text)
                retry = r.headers.get("Retry-After", "")
                if retry.isdigit():
                    with run.lock:
                        run.retry_after.append(int(retry))
                backoff = min(max_backoff, int(retry)) if retry.isdigit() else 0.1
            elif status != 200 or _error_in_body(r):
                problem = f"HTTP {status}: {r.text[:160]}"
        except OSError as exc:  # socket.timeout (TimeoutError) / refused / reset: the request was not answered
            status, elapsed = (-1 if isinstance(exc, TimeoutError) else -2), time.monotonic() - began
            problem = f"{type(exc).__name__}: {str(exc)[:120]}"
        except http.client.HTTPException as exc:  # the server closed the connection mid-answer
            status, elapsed = -2, time.monotonic() - began
            problem = f"{type(exc).__name__}: {str(exc)[:120]}"
        with run.lock:
            run.results.append((shot.label, status, elapsed, problem))
        if backoff:
            time.sleep(backoff)
    conn.close()


def _error_in_body(r) -> bool:
    """Continuous batching sends the 200 status line with the first slice: a request stopped later (its timeout_s,
    a failed step) still ends with 200 and a body carrying "error"."""
    if not r.headers.get("content-type", "").startswith(JSON):
        return False
    try:
        return isinstance(body := r.json(), dict) and "error" in body
    except ValueError:
        return True


def _monitor(server: Server, spec: ModelSpec, stop: threading.Event, result: OverloadResult, every: float) -> None:
    while not stop.wait(every):
        try:
            status = server.call("GET", "management", f"/models/{spec.name}", timeout=10).json()[0]
            result.queue_pending.append(int(status.get("jobQueueStatus", {}).get("pendingRequests", 0)))
            text = server.call("GET", "metrics", "/metrics", token=None, timeout=10).text
            result.cost_held += metric_values(text, "genai_cost_held", spec.name)
        except Exception:  # a sample lost under load is not a result
            pass


def _queue_latency_us(server: Server, spec: ModelSpec) -> float:
    text = server.call("GET", "metrics", "/metrics", token=None, timeout=10).text
    return sum(metric_values(text, "ts_queue_latency_microseconds", spec.name))


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def overload(server: Server, spec: ModelSpec, shots: list[Shot], *, seconds: float = 10.0, max_requests: int = 3000,
             timeout: float = 60.0, ballast: list[dict] = (), max_backoff: float = 0.5,
             sample_every: float = 0.25) -> OverloadResult:
    """Drive the shots against one model for at most `seconds` and `max_requests`; see the module docstring."""
    result = OverloadResult(spec.name)
    held = []
    try:
        for body in ballast:  # the status line comes with the first slice: admitted (200) or refused at once
            held.append(server.call("POST", "inference", f"/predictions/{spec.name}", json=body, stream=True,
                                    timeout=timeout))
        result.ballast = [r.status_code for r in held]
        queued_before, began = _queue_latency_us(server, spec), time.monotonic()
        run = _Run(max_requests, began + seconds)
        clients = sum(s.clients for s in shots)
        start = threading.Barrier(clients)
        threads = [threading.Thread(target=_client, args=(server, spec, shot, run, start, timeout, max_backoff),
                                    daemon=True) for shot in shots for _ in range(shot.clients)]
        stop = threading.Event()
        monitor = threading.Thread(target=_monitor, args=(server, spec, stop, result, sample_every), daemon=True)
        monitor.start()
        for t in threads:
            t.start()
        for t in threads:  # a request in flight at the deadline still has its whole timeout
            t.join(timeout=max(1.0, run.deadline + timeout + max_backoff + 5 - time.monotonic()))
        stop.set()
        monitor.join(timeout=15)
        result.seconds = time.monotonic() - began
        result.queue_mean = (_queue_latency_us(server, spec) - queued_before) / (result.seconds * 1e6)
    finally:
        for r in held:  # the client goes away: the scheduler drops its rows at the next call
            r.close()
    _summarize(result, run)
    return result


def _summarize(result: OverloadResult, run: _Run) -> None:
    names = {-1: "timeout", -2: "connection error"}
    refusals = {}
    for label, status, elapsed, problem in run.results:
        result.by_status[names.get(status, str(status))] += 1
        if status in (QUEUE_FULL, OVER_COST):
            refusals.setdefault(str(status), []).append(elapsed)
            if problem:
                result.undocumented.append(f"{label}: {problem}")
        elif problem:
            result.failed.append(f"{label}: {problem}")
        result.timed_out += status == -1
    # per status: a 503 comes from the frontend before any queue, a 429 from the worker after the queue ahead of it
    result.refusal_latency_s = {status: {"p50": round(_quantile(lat, 0.5), 3), "p99": round(_quantile(lat, 0.99), 3),
                                         "max": round(max(lat), 3)} for status, lat in sorted(refusals.items())}
    result.retry_after = sorted(run.retry_after)


def wait_idle(server: Server, spec: ModelSpec, timeout: float = 120.0) -> bool:
    """True once the model's frontend queue is empty and (iterative models) its scheduler holds no work.

    The scheduler's gauges are written when TorchServe calls the worker, and it stops calling once the last running
    requests were dropped for a closed connection: the gauge then keeps its last value. One sample request makes
    the worker drop what is gone and write the gauge again."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = server.call("GET", "management", f"/models/{spec.name}", timeout=10).json()[0]
        text = server.call("GET", "metrics", "/metrics", token=None, timeout=10).text
        if status["jobQueueStatus"]["pendingRequests"] == 0:
            if not any(metric_values(text, "genai_cost_held", spec.name)):
                return True
            server.predict(spec, timeout=60)
        time.sleep(0.5)
    return False


# -- the report (docs/RELIABILITY.md): one model of each class --------------------------------------------------
CLASSES = (("one-shot", ("cnn", "gan")), ("iterative", ("ebm", "diffusion")), ("text", ("lstm", "gpt2_qa")))
STEPS_FIELD = {"ebm": "steps", "diffusion": "diffusion_steps"}  # cost = num_samples x this


@dataclass
class Plan:
    kind: str
    spec: ModelSpec
    shots: list[Shot]
    ballast: list[dict] = field(default_factory=list)
    expect: tuple[int, ...] = (QUEUE_FULL,)  # refusal statuses this load must provoke


LOOP_CLIENTS = 160  # a loop's load: more small requests than fit beside the ballast (133 of ebm's sample)


def clients_over_queue(spec: ModelSpec, margin: int = 40) -> int:
    """Closed-loop clients that more than fill the model: the frontend queue plus a batch per worker, plus margin.
    A loop hands every queued request to its scheduler (batchSize = jobQueueSize), so what fills it is work, not
    request count: LOOP_CLIENTS beside the cost ballast."""
    cfg = spec.model_config
    if spec.continuous:
        return LOOP_CLIENTS
    return int(cfg.get("jobQueueSize", 100)) + int(cfg.get("batchSize", 1)) * int(cfg.get("maxWorkers", 1)) + margin


def largest_request(spec: ModelSpec) -> dict:
    """The most work one request may ask of an image-loop model (every cost factor at its registry maximum)."""
    return {"num_samples": spec.request["num_samples"]["max"], STEPS_FIELD[spec.name]: spec.request[STEPS_FIELD[
        spec.name]]["max"]}


def cost_ballast(spec: ModelSpec) -> list[dict]:
    """Requests that hold all but half a largest request of `max_cost`: small requests still fit, a largest one
    does not (429). ebm: three 64 x 1000 plus one 64 x 500 = 224,000 of 256,000 image-steps."""
    largest = largest_request(spec)
    per = largest["num_samples"] * largest[STEPS_FIELD[spec.name]]
    fill = spec.handler_config["scheduler"]["max_cost"] - per / 2
    ballast = [{**largest, "seed": i} for i in range(int(fill // per))]
    rest = int((fill % per) // largest["num_samples"])
    return ballast + ([{**largest, STEPS_FIELD[spec.name]: rest, "seed": 99}] if rest else [])


def plans(registry: dict[str, ModelSpec]) -> list[Plan]:
    out = []
    for kind, names in CLASSES:
        spec = next((registry[n] for n in names if n in registry), None)
        if spec is None:
            continue
        body, content_type = spec.sample_body()
        shots = [Shot(body, content_type, clients_over_queue(spec))]
        if spec.name in STEPS_FIELD and "max_cost" in spec.handler_config.get("scheduler", {}):
            shots.append(Shot(json.dumps(largest_request(spec)).encode(), JSON, 2, "largest"))
            # TorchServe's 503 needs batchSize + jobQueueSize (512) requests outstanding at once: the scheduler's
            # 429 answers each refused one within a slice, long before that many pile up
            out.append(Plan(kind, spec, shots, cost_ballast(spec), (OVER_COST,)))
        else:
            out.append(Plan(kind, spec, shots))
    return out


def run_plan(server: Server, plan: Plan, seconds: float = 10.0, max_requests: int = 4000) -> OverloadResult:
    result = overload(server, plan.spec, plan.shots, seconds=seconds, max_requests=max_requests, ballast=plan.ballast)
    result.drained = wait_idle(server, plan.spec)  # nothing stuck, and the model left as we found it
    return result


def plan_ok(plan: Plan, result: OverloadResult) -> bool:
    return result.ok and result.drained is not False and all(result.by_status[str(s)] > 0 for s in plan.expect) \
        and all(s == 200 for s in result.ballast)


def overload_section(server: Server, registry: dict[str, ModelSpec], seconds: float = 10.0) -> tuple[list[str], bool]:
    rows = ["| class | model | load | answers | refused in (p50 / p99) | Retry-After seen | accepted: all succeeded "
            "| over timeout | TorchServe queue: max / mean | genai_cost_held max |", "|---|---|---|---|---|---|---|---|---|---|"]
    ok, notes = True, []
    for plan in plans(registry):
        r = run_plan(server, plan, seconds)
        passed = plan_ok(plan, r)
        ok &= passed
        load = " + ".join(f"{s.clients} x {s.label}" for s in plan.shots) + \
            (f" + {len(plan.ballast)} held large" if plan.ballast else "")
        lat = "; ".join(f"{k}: {v['p50']} / {v['p99']} s" for k, v in r.refusal_latency_s.items()) or "-"
        span = sorted({min(r.retry_after), max(r.retry_after)}) if r.retry_after else []
        retry = f"{'-'.join(map(str, span))} s (x{len(r.retry_after)})" if span else "none"
        held = f"{max(r.cost_held):,.0f} of {plan.spec.handler_config['scheduler']['max_cost']:,}" if r.cost_held \
            else "-"
        rows.append(f"| {plan.kind} | {plan.spec.name} | {load}, {r.seconds:.0f} s | "
                    f"{', '.join(f'{k}: {v}' for k, v in sorted(r.by_status.items()))} | "
                    f"{lat} | {retry} | "
                    f"{'yes' if r.accepted_ok else 'NO'} | {r.timed_out} | "
                    f"{max(r.queue_pending, default=0)} / {r.queue_mean:.1f} | "
                    f"{held} |" + ("" if passed else " **FAIL**"))
        notes += [f"- {plan.spec.name}: {p}" for p in (r.undocumented + r.failed)[:5]]
    rows += ["", "Refusals, as sent: TorchServe's full job queue is `503` with `{\"code\": 503, \"type\": "
             "\"ServiceUnavailableException\", \"message\": \"Model \\\"<m>\\\" has no worker to serve inference "
             "request. ...\"}` and no Retry-After (the frontend's own answer; the workers are fine); the scheduler's "
             "cost cap is `429` with `Retry-After: <s>` and `{\"error\", \"field\": null, \"retry_after_s\"}`. The "
             "TorchServe queue column is `jobQueueStatus.pendingRequests` (management API) sampled, and its mean by "
             "Little's law from `rate(ts_queue_latency_microseconds) / 1e6` on :8082. A 429 is decided in the worker: "
             "a loop (batchSize = jobQueueSize) sees every queued request at its next slice, so its refusals "
             "come within a slice.",
             *notes]
    return rows, ok
