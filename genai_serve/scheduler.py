"""Iteration-level scheduling for the iterative models (gpt2_qa, diffusion, ebm), with no server import.

One `Scheduler` per worker owns the running requests of one model: all of admission (a request's cost, the 400
for one that could never fit, the 429 with Retry-After for one that does not fit now, its deadline), per-request
state and removal. An `Engine` (genai_serve/engines/) knows one model: it turns a parsed job into a running state
and advances a list of states by one step in shared network calls. The server adapter (handlers/iterative.py)
only feeds new requests in, tells which requests are still wanted, runs a slice and sends what each request has
to say. vLLM splits its engine the same way (scheduler / model runner / API).

Per slice (one server call):
  1. `keep_only(ids)`  requests the server stops sending (their client went away) are dropped: their rows
                       leave the batch before the next network call;
  2. `submit(id, job)` each new request's cost is the product of the registry's cost attributes of its job
                       (images x steps, ...); one costing more than `max_cost` is refused with a 400 naming the
                       first of them; one that does not fit beside the work held is refused with Overloaded (429 +
                       Retry-After, estimated from the measured drain rate); the others join, with a deadline
                       from the job's `timeout_s`. "Fits" is in cost units (`max_cost`) and, with `max_wait_s`, in
                       time: the work held plus the new request must drain within `max_wait_s` at the measured
                       rate, so an admitted request is answered within about that bound, and one that would not
                       be is refused now instead of waiting longer than its client will. A worker with nothing
                       to do takes any request up to `max_cost` (its own time is then its bound). `calibrate(job)`
                       measures the rate when the worker starts, so the first burst is already judged in time;
  3. `run_slice()`     steps the running requests together until `slice_s` has passed, or a request finished,
                       or one produced its first output (so time to first output is not held back by the slice);
                       a request past its deadline stops with a 408 naming `timeout_s`. With `step_rows`, a step
                       takes the requests with the least work left first, up to that many rows (a request larger
                       than that runs alone): on a CPU a step costs about its rows, so a 1-image request is not
                       slowed 17x by sharing steps with a 16-image one (shortest remaining work first, as SRPT
                       queues do). A request's `priority` (an integer, default 0, as vLLM's) comes before that: a
                       step takes higher priority first. A request passed over `max_skips` steps in a row goes
                       first whatever its priority, so none starves. An engine with a `retain(states)` method is
                       told every running request before each step (a shared batch keeps the rows of those not
                       picked);
  4. `take(id)`        what the request has to send now: events (tokens, previews) and, once, its final body.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

from genai_serve.errors import InputError


class Overloaded(InputError):
    """The worker holds too much work to take this request now: a 429 with Retry-After."""

    def __init__(self, message: str, retry_after_s: int):
        super().__init__(message, None, 429)
        self.retry_after_s = retry_after_s

    def to_body(self) -> dict:
        return {**super().to_body(), "retry_after_s": self.retry_after_s}


@dataclass
class Update:
    """What one step did for one request: events to send now and, when it is done, its final body."""
    events: list[dict] = field(default_factory=list)
    final: dict | None = None


class Engine(Protocol):
    def start(self, job: Any) -> Any:
        """A new request's running state (cheap: the first `step` does the heavy work, e.g. a prompt prefill)."""

    def step(self, states: Sequence[Any]) -> list[Update]:
        """Advance every state by one step, sharing network calls; one Update per state, in order."""

    def total_steps(self, job: Any) -> int:
        """Steps this job needs at most (how its cost drains; deadlines and Retry-After are estimated from it)."""

    def rows(self, job: Any) -> int:
        """Rows this job adds to a network call (images, or responses)."""


@dataclass
class Entry:
    """One admitted request."""
    rid: str
    job: Any
    state: Any
    cost: float
    total_steps: int
    stream: bool
    admitted_at: float
    deadline: float | None
    rows: int = 1
    priority: int = 0  # higher first in each step (the job's `priority`)
    steps_done: int = 0
    skipped: int = 0  # steps in a row this request was passed over (step_rows)
    outbox: list[dict] = field(default_factory=list)
    final: dict | None = None
    error: InputError | None = None
    first_step_at: float | None = None
    first_output_at: float | None = None
    last_output_at: float | None = None

    @property
    def done(self) -> bool:
        return self.final is not None or self.error is not None

    @property
    def remaining_cost(self) -> float:
        return self.cost * max(0.0, 1.0 - self.steps_done / max(1, self.total_steps))


@dataclass
class Reply:
    job: Any
    events: list[dict]
    final: dict | None
    error: InputError | None
    done: bool


# observer(name, value): "queue_time_s", "time_to_first_output_s", "inter_output_s", "running", "cost_held",
# "cost_admitted", "cost_refused", "dropped". The handler maps these onto the server's metrics.
Observer = Callable[[str, float], None]


class Scheduler:
    def __init__(self, engine: Engine, max_cost: float, slice_s: float, *, cost: Sequence[str] = (),
                 cost_unit: str = "units", step_rows: int | None = None, max_skips: int = 20,
                 max_wait_s: float | None = None, clock: Callable[[], float] = time.monotonic, observe: Observer | None = None):
        self.engine = engine
        self.max_cost = float(max_cost)
        self.slice_s = float(slice_s)
        # None: every running request in every step (engines whose state is one shared batch, e.g. a KV cache)
        self.step_rows, self.max_skips = step_rows, max_skips
        self.cost_factors = tuple(cost)  # job attributes whose product is a request's cost (images x steps)
        self.cost_unit = cost_unit
        self.max_wait_s = max_wait_s  # None: admission counts cost units only
        self.clock = clock
        self.observe = observe or (lambda name, value: None)
        self.entries: dict[str, Entry] = {}
        self._rate: float | None = None  # cost units drained per second (EWMA over slices)

    @classmethod
    def for_model(cls, engine: Engine, settings: dict, observe: Observer | None = None) -> "Scheduler":
        """From a model's registry settings (models.yaml `handler_config.scheduler`: cost, cost_unit, max_cost,
        slice_ms, step_rows, max_wait_s). GENAI_SLICE_MS and GENAI_MAX_WAIT_S override them for one server (the
        benchmarks sweep the slice; the tests bound the wait at a few seconds)."""
        slice_ms = float(os.environ.get("GENAI_SLICE_MS") or settings.get("slice_ms", 25))
        max_wait_s = os.environ.get("GENAI_MAX_WAIT_S") or settings.get("max_wait_s")
        return cls(engine, float(settings.get("max_cost", math.inf)), slice_ms / 1000.0,
                   cost=settings.get("cost", ()), cost_unit=settings.get("cost_unit", "units"),
                   step_rows=settings.get("step_rows"), observe=observe,
                   max_wait_s=None if max_wait_s is None else float(max_wait_s))

    # -- membership ---------------------------------------------------------------------------------
    def __contains__(self, rid: str) -> bool:
        return rid in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def busy(self) -> bool:
        """Some admitted request is not done yet."""
        return any(not e.done for e in self.entries.values())

    def held_cost(self) -> float:
        return sum(e.remaining_cost for e in self.entries.values() if not e.done)

    def cost(self, job: Any) -> float:
        """A job's cost: the product of its cost attributes (1 when the model has none)."""
        return float(math.prod(getattr(job, name) for name in self.cost_factors))

    def submit(self, rid: str, job: Any) -> None:
        """Admission, all of it: InputError (400) for a job that could never fit, Overloaded (429) for one that does
        not fit now; else it joins, streaming if the job asks to and stopped at its `timeout_s` if it has one."""
        cost = self.cost(job)
        if cost > self.max_cost:
            raise InputError(f"{' x '.join(self.cost_factors)}: this request costs {cost:.0f} {self.cost_unit}, more "
                             f"than this model admits at once ({self.max_cost:.0f}); ask for less",
                             self.cost_factors[0] if self.cost_factors else None)
        self.admit(rid, job, cost, stream=bool(getattr(job, "stream", False)), timeout_s=getattr(job, "timeout_s", None),
                   priority=int(getattr(job, "priority", 0) or 0))

    def admit(self, rid: str, job: Any, cost: float, *, stream: bool = False, timeout_s: float | None = None,
              priority: int = 0) -> None:
        """Take a new request at a given cost, or raise Overloaded when the work held plus `cost` exceeds
        `max_cost` (`submit` works the cost out from the job; this is its last step)."""
        held = self.held_cost()
        if held + cost > self.max_cost:
            self.observe("cost_refused", cost)
            raise Overloaded(f"busy: this worker holds {held:.0f} of its {self.max_cost:.0f} {self.cost_unit}; this "
                             f"request needs {cost:.0f}. Retry later, or ask for less.",
                             self.retry_after(held + cost - self.max_cost))
        if self.max_wait_s is not None and held > 0 and self._rate and (held + cost) / self._rate > self.max_wait_s:
            self.observe("cost_refused", cost)
            raise Overloaded(f"busy: this worker holds {held:.0f} {self.cost_unit} and drains about {self._rate:.0f} a "
                             f"second; with this request's {cost:.0f} that is {(held + cost) / self._rate:.0f} s of work, "
                             f"past this model's bound of {self.max_wait_s:g} s. Retry later, or ask for less.",
                             self.retry_after(held + cost - self._rate * self.max_wait_s))
        now = self.clock()
        self.entries[rid] = Entry(rid, job, self.engine.start(job), float(cost), max(1, self.engine.total_steps(job)),
                                  stream, now, None if timeout_s is None else now + timeout_s,
                                  rows=self.engine.rows(job), priority=priority)
        self.observe("cost_admitted", cost)

    def calibrate(self, job: Any, runs: int = 2) -> float | None:
        """Run `job` to its end `runs` times outside admission and the metrics, keeping the last run's drain rate
        (the first pays for the runtime's warm-up): admission then judges the first requests in time too.
        Returns the rate, in cost units a second."""
        observe, self.observe = self.observe, (lambda name, value: None)
        try:
            for _ in range(runs):
                self._rate = None
                rid = "_calibrate"
                self.admit(rid, job, self.cost(job))
                while self.busy():
                    self.run_slice()
                self.take(rid)
        finally:
            self.observe = observe
        return self._rate

    def retry_after(self, excess: float) -> int:
        """Seconds until `excess` cost units have drained at the measured rate (1..600; 1 before any measurement)."""
        if not self._rate:
            return 1
        return int(min(600, max(1, math.ceil(excess / self._rate))))

    def keep_only(self, rids: set[str]) -> list[str]:
        """Drop every request not in `rids` (the server stopped sending it: its client is gone)."""
        gone = [rid for rid in self.entries if rid not in rids]
        for rid in gone:
            del self.entries[rid]
            self.observe("dropped", 1)
        return gone

    def fail_all(self, error: InputError) -> None:
        """A step raised (our bug, or the device failed): every running request ends with `error`."""
        for entry in self.entries.values():
            if not entry.done:
                entry.error = error

    # -- stepping -------------------------------------------------------------------------------------
    def run_slice(self) -> int:
        """Step the running requests together for up to one slice; returns the steps taken."""
        start = self.clock()
        steps = 0
        drained = 0.0
        while True:
            now = self.clock()
            if self._expire(now):
                break  # its 408 goes out now; the others continue in the next call
            live = [e for e in self.entries.values() if not e.done]
            if not live:
                break
            self.observe("running", len(live))
            retain = getattr(self.engine, "retain", None)
            if retain is not None:
                retain([e.state for e in live])
            live = self._pick(live)
            for e in live:
                if e.first_step_at is None:
                    e.first_step_at = now
                    self.observe("queue_time_s", now - e.admitted_at)
            # the work this step does: one step's share of each request's cost. A request that ends early (an
            # EOS) drains no more than it ran, so the rate stays the work rate and admission, which counts every
            # held request at its full remaining cost, errs towards shorter waits
            drained += sum(e.cost / e.total_steps for e in live)
            updates = self.engine.step([e.state for e in live])
            steps += 1
            now = self.clock()
            urgent = False
            for entry, update in zip(live, updates):
                entry.steps_done += 1
                urgent |= self._record(entry, update, now)
            if urgent or now - start >= self.slice_s:
                break
        elapsed = self.clock() - start
        if steps and elapsed > 0:
            rate = drained / elapsed
            self._rate = rate if self._rate is None else 0.7 * self._rate + 0.3 * rate
        self.observe("running", sum(1 for e in self.entries.values() if not e.done))
        # The worker's own queue depth, in the unit admission counts: a request is refused (429) when this plus its
        # cost would pass max_cost. TorchServe's job queue in front of the worker has no gauge of its own.
        self.observe("cost_held", self.held_cost())
        return steps

    def _pick(self, live: list[Entry]) -> list[Entry]:
        """The requests this step runs (all of them without `step_rows`), in admission order."""
        if self.step_rows is None:
            return live
        # higher priority first, then least work left; a request passed over max_skips times in a row goes before
        # everyone
        order = sorted(live, key=lambda e: (e.skipped < self.max_skips, -e.priority, e.remaining_cost))
        chosen, rows = set(), 0
        for e in order:
            if not chosen or rows + e.rows <= self.step_rows:
                chosen.add(e.rid)
                rows += e.rows
        for e in live:
            e.skipped = 0 if e.rid in chosen else e.skipped + 1
        return [e for e in live if e.rid in chosen]

    def _record(self, entry: Entry, update: Update, now: float) -> bool:
        """Keep one step's update; True when the slice should end now (a first output, or the request is done)."""
        urgent = False
        if update.events:
            entry.outbox.extend(update.events)
            if entry.first_output_at is None:
                entry.first_output_at = now
                self.observe("time_to_first_output_s", now - entry.admitted_at)
                urgent = True
            else:
                self.observe("inter_output_s", now - entry.last_output_at)
            entry.last_output_at = now
        if update.final is not None:
            entry.final = update.final
            urgent = True
        return urgent

    def _expire(self, now: float) -> bool:
        expired = False
        for entry in self.entries.values():
            if not entry.done and entry.deadline is not None and now >= entry.deadline:
                expired = True
                limit = entry.deadline - entry.admitted_at
                entry.error = InputError(f"timeout_s: the request ran past its deadline of {limit:g} s and was stopped "
                                         f"after {entry.steps_done} of {entry.total_steps} steps", "timeout_s", 408)
        return expired

    # -- results --------------------------------------------------------------------------------------
    def take_events(self, rid: str) -> Reply | None:
        """A running request's pending events without finishing it (static batching streams them mid-call)."""
        entry = self.entries.get(rid)
        if entry is None or entry.done or not entry.outbox:
            return None
        events, entry.outbox = entry.outbox, []
        return Reply(entry.job, events, None, None, False)

    def take(self, rid: str) -> Reply:
        """What request `rid` has to send now; a done request leaves the scheduler."""
        entry = self.entries[rid]
        events, entry.outbox = entry.outbox, []
        if entry.done:
            del self.entries[rid]
        return Reply(entry.job, events, entry.final, entry.error, entry.done)
