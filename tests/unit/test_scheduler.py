"""The step scheduler on its own: admission against the cost cap (429 with Retry-After from the measured drain),
slices that end at a first output or a finished request, deadlines, and abandoned requests leaving at once.
The engine here is a counter (each request needs `steps` steps and emits one event per step when streaming), so
every number below is exact; the real engines are tested through the handlers."""
import pytest

from genai_serve.errors import InputError
from genai_serve.scheduler import Overloaded, Scheduler, Update


class CountingEngine:
    def __init__(self):
        self.calls: list[list[str]] = []  # the request names stepped in each call

    def total_steps(self, job):
        return job.get("max_steps", job["steps"])  # max_steps: a request that may end early (an EOS)

    def rows(self, job):
        return job.get("rows", 1)

    def start(self, job):
        return {"job": job, "done": 0}

    def step(self, states):
        self.calls.append([s["job"]["name"] for s in states])
        out = []
        for s in states:
            s["done"] += 1
            events = [{"step": s["done"]}] if s["job"].get("stream") else []
            out.append(Update(events, {"name": s["job"]["name"]} if s["done"] == s["job"]["steps"] else None))
        return out


class Clock:
    def __init__(self, engine, per_step=0.01):
        self.now, self.engine, self.per_step, self.seen = 0.0, engine, per_step, 0

    def __call__(self):  # time advances by per_step for every step the engine has run
        self.now += (len(self.engine.calls) - self.seen) * self.per_step
        self.seen = len(self.engine.calls)
        return self.now


def make(max_cost=100, slice_s=0.05, **kwargs):
    engine = CountingEngine()
    seen = []
    sched = Scheduler(engine, max_cost, slice_s, cost_unit="image-steps", clock=Clock(engine),
                      observe=lambda name, value: seen.append((name, value)), **kwargs)
    return sched, engine, seen


def job(name, steps, stream=False, rows=1):
    return {"name": name, "steps": steps, "stream": stream, "rows": rows}


def test_a_slice_steps_everyone_together_until_its_time_is_up():
    sched, engine, _ = make()
    sched.admit("a", job("a", 20), 20)
    sched.admit("b", job("b", 20), 20)
    assert sched.run_slice() == 5  # 5 steps of 10 ms fill the 50 ms slice
    assert engine.calls == [["a", "b"]] * 5


def test_a_finished_request_ends_the_slice_and_leaves_at_once():
    sched, engine, _ = make()
    sched.admit("big", job("big", 100), 50)
    sched.admit("small", job("small", 2), 2)
    assert sched.run_slice() == 2
    reply = sched.take("small")
    assert reply.done and reply.final == {"name": "small"} and "small" not in sched
    sched.run_slice()
    assert engine.calls[-1] == ["big"]


def test_a_first_output_ends_the_slice_so_it_is_sent_at_once():
    sched, _, seen = make()
    sched.admit("s", job("s", 10, stream=True), 10)
    assert sched.run_slice() == 1 and sched.take("s").events == [{"step": 1}]
    assert [n for n, _ in seen].count("time_to_first_output_s") == 1
    assert sched.run_slice() == 5 and len(sched.take("s").events) == 5  # later events go out per slice


def test_a_request_joins_a_running_loop_at_the_next_slice():
    sched, engine, _ = make()
    sched.admit("big", job("big", 100), 50)
    sched.run_slice()
    sched.admit("late", job("late", 3), 3)
    sched.run_slice()
    assert engine.calls[5:8] == [["big", "late"]] * 3 and sched.take("late").done


def test_requests_the_server_no_longer_sends_are_dropped_before_the_next_step():
    sched, engine, seen = make()
    sched.admit("gone", job("gone", 100), 50)
    sched.admit("kept", job("kept", 100), 50)
    sched.run_slice()
    assert sched.keep_only({"kept"}) == ["gone"]
    sched.run_slice()
    assert engine.calls[-1] == ["kept"] and ("dropped", 1) in seen


def test_over_the_cost_cap_is_refused_with_a_retry_after_from_the_measured_drain():
    sched, _, seen = make(max_cost=100)
    sched.admit("a", job("a", 100), 80)
    with pytest.raises(Overloaded) as first:
        sched.admit("b", job("b", 10), 30)
    assert first.value.retry_after_s == 1  # nothing measured yet
    sched.run_slice()  # 5 of 100 steps: 4 of 80 units drained in 50 ms -> 80 units/s
    assert sched.held_cost() == pytest.approx(76)
    with pytest.raises(Overloaded) as later:
        sched.admit("b", job("b", 10), 100)  # 76 + 100 - 100 = 76 units over: ~1 s at 80/s
    assert later.value.retry_after_s == 1 and "76 of its 100 image-steps" in later.value.message
    with pytest.raises(Overloaded) as much:
        sched.admit("c", job("c", 10), 99)
    assert much.value.retry_after_s >= 1
    sched.admit("d", job("d", 10), 24)  # what fits is admitted
    assert ("cost_refused", 100) in seen and ("cost_admitted", 24) in seen


def test_a_request_past_its_deadline_stops_with_a_408_naming_timeout_s():
    sched, engine, _ = make()
    sched.admit("slow", job("slow", 100), 50, timeout_s=0.095)
    sched.admit("other", job("other", 100), 50)
    for _ in range(3):
        sched.run_slice()
    reply = sched.take("slow")
    assert reply.done and reply.error.status == 408 and reply.error.field == "timeout_s"
    assert "after 10 of 100 steps" in reply.error.message
    sched.run_slice()
    assert engine.calls[-1] == ["other"]  # it costs nothing after that


def test_a_failing_step_ends_every_running_request_with_the_error():
    from genai_serve.errors import InputError

    sched, _, _ = make()
    sched.admit("a", job("a", 10), 10)
    sched.fail_all(InputError("internal error", None, 500))
    assert sched.take("a").error.status == 500 and len(sched) == 0


def test_with_a_row_budget_the_least_work_left_goes_first_and_a_big_request_waits_its_turn():
    sched, engine, _ = make(max_cost=10_000, slice_s=1.0, step_rows=16)
    sched.admit("big", job("big", 150, rows=16), 16 * 150)
    sched.run_slice()
    sched.admit("small", job("small", 5, rows=1), 5)
    sched.run_slice()  # ends when small is done
    assert engine.calls[-5:] == [["small"]] * 5  # 1 + 16 rows > 16: the big one sits out those five steps
    assert sched.take("small").done
    sched.run_slice()
    assert engine.calls[-1] == ["big"]


def test_a_request_passed_over_max_skips_times_goes_first():
    sched, engine, _ = make(max_cost=10_000, slice_s=1.0, step_rows=4, max_skips=3)
    sched.admit("big", job("big", 100, rows=4), 400)
    sched.admit("a", job("a", 50, rows=1), 50)
    for _ in range(4):
        sched.run_slice()
        if engine.calls[-1] == ["big"]:
            break
    assert engine.calls[:3] == [["a"]] * 3 and engine.calls[3] == ["big"]  # after 3 skips it goes first


def test_requests_that_fit_the_row_budget_share_steps():
    sched, engine, _ = make(max_cost=10_000, step_rows=16)
    sched.admit("a", job("a", 10, rows=8), 80)
    sched.admit("b", job("b", 20, rows=8), 160)
    sched.run_slice()
    assert engine.calls[0] == ["a", "b"]


def test_the_work_held_is_observed_after_every_slice_and_drains_to_zero():
    sched, _, seen = make(max_cost=100)
    sched.admit("a", job("a", 20), 20)
    sched.admit("b", job("b", 10), 40)
    sched.run_slice()  # 5 steps: a has 15 of 20 steps left, b 5 of 10
    assert seen[-1] == ("cost_held", pytest.approx(20 * 15 / 20 + 40 * 5 / 10))
    while sched.busy():
        sched.run_slice()
        for rid in [r for r in sched.entries if sched.entries[r].done]:
            sched.take(rid)
    assert [v for name, v in seen if name == "cost_held"][-1] == 0


class Job:
    """A job as the handlers make them: the registry's cost attributes, stream, timeout_s."""

    def __init__(self, name, steps, num_samples=1, stream=False, timeout_s=None):
        self.name, self.steps, self.num_samples, self.stream, self.timeout_s = name, steps, num_samples, stream, timeout_s

    def get(self, key, default=None):  # CountingEngine reads jobs as dicts
        return {"name": self.name, "steps": self.steps, "stream": self.stream, "rows": self.num_samples}.get(key, default)

    def __getitem__(self, key):
        return self.get(key)


def test_submit_decides_all_of_admission_from_the_registry_cost_and_the_job():
    engine = CountingEngine()
    sched = Scheduler.for_model(engine, {"cost": ["num_samples", "steps"], "cost_unit": "image-steps",
                                         "max_cost": 100, "slice_ms": 50})
    assert (sched.max_cost, sched.slice_s, sched.cost_unit) == (100, 0.05, "image-steps")
    # could never fit: a 400 naming the first cost attribute, with the cost and the cap
    with pytest.raises(InputError) as never:
        sched.submit("huge", Job("huge", 51, num_samples=2))
    assert (never.value.status, never.value.field) == (400, "num_samples") and not isinstance(never.value, Overloaded)
    assert "costs 102 image-steps" in never.value.message and "(100)" in never.value.message
    sched.submit("a", Job("a", 40, num_samples=2))  # 80 of 100
    with pytest.raises(Overloaded) as busy:  # fits alone, not beside what is held: 429 with Retry-After
        sched.submit("b", Job("b", 30))
    assert busy.value.status == 429 and busy.value.retry_after_s >= 1
    assert busy.value.to_body()["retry_after_s"] == busy.value.retry_after_s
    sched.submit("c", Job("c", 20, stream=True, timeout_s=5.0))
    assert sched.entries["c"].stream and sched.entries["c"].deadline == pytest.approx(
        sched.entries["c"].admitted_at + 5.0)
    assert sched.entries["a"].deadline is None and sched.entries["a"].cost == 80


def test_the_slice_can_be_overridden_for_one_server(monkeypatch):
    monkeypatch.setenv("GENAI_SLICE_MS", "7")
    assert Scheduler.for_model(CountingEngine(), {"slice_ms": 25}).slice_s == 0.007


def drain(sched, rid):
    while sched.busy():
        sched.run_slice()
    return sched.take(rid)


def test_with_max_wait_admission_counts_time_too_and_an_idle_worker_takes_any_request_that_fits_max_cost():
    sched, _, _ = make(max_cost=10_000, max_wait_s=1.0)
    sched.admit("warm", job("warm", 10), 10)
    drain(sched, "warm")  # 10 units in 10 steps of 10 ms: 100 units a second
    sched.admit("a", job("a", 50), 50)
    sched.admit("b", job("b", 50), 50)  # 100 units held = 1.0 s at 100/s: inside the bound
    with pytest.raises(Overloaded) as refused:
        sched.admit("c", job("c", 50), 50)  # 150 units = 1.5 s: past it, though far below max_cost
    assert "bound of 1 s" in refused.value.message and refused.value.status == 429
    assert refused.value.retry_after_s == 1  # the 50 units past the bound drain in 0.5 s
    assert "c" not in sched
    drain(sched, "a"), drain(sched, "b")
    sched.admit("huge", job("huge", 500), 500)  # 5 s of work, alone: its own time is its bound
    assert "huge" in sched


def test_without_a_measured_rate_max_wait_leaves_admission_to_max_cost():
    sched, _, _ = make(max_cost=100, max_wait_s=0.001)
    sched.admit("a", job("a", 50), 50)
    sched.admit("b", job("b", 50), 50)  # nothing measured yet: only the cost cap applies
    with pytest.raises(Overloaded):
        sched.admit("c", job("c", 1), 1)


def test_calibrate_measures_the_drain_rate_without_a_trace_in_the_queue_or_the_metrics():
    sched, engine, seen = make(max_cost=100, max_wait_s=1.0)
    rate = sched.calibrate(job("cal", 10))  # no cost attributes: the job costs 1 unit over 10 steps of 10 ms
    assert rate == pytest.approx(10.0)
    assert len(engine.calls) == 20 and len(sched) == 0 and seen == []
    sched.admit("a", job("a", 5), 5)
    with pytest.raises(Overloaded):  # 5 + 6 units at 10 a second: 1.1 s, past the 1 s bound
        sched.admit("b", job("b", 6), 6)


def test_a_request_that_ends_early_drains_only_the_steps_it_ran():
    """The rate is work done per second: an answer that stops at step 2 of its 10 does not count the 8 it never
    ran, which would make admission think the worker drains five times faster than it does."""
    sched, _, _ = make(max_cost=1000)
    sched.admit("eos", {"name": "eos", "steps": 2, "max_steps": 10}, 10)
    drain(sched, "eos")  # 2 steps of 10 ms, each one tenth of the cost
    assert sched._rate == pytest.approx(100.0)
