"""ebm and diffusion under continuous batching, driven by an in-process TorchServe frontend (loadtests/inprocess.py)
on artifacts exported from random networks: a request joins a running loop and gets the same bytes as alone,
an abandoned request stops costing steps at once, the cost cap answers 429 with Retry-After, and timeout_s
stops a request with a 408."""
import pytest

from loadtests.inprocess import Frontend
from tests.conftest import ask

STEPS = {"ebm": "steps", "diffusion": "diffusion_steps"}


def stepped(handler):
    """Record the rows of every engine step (the requests' states in each network call)."""
    calls = []
    step = handler.engine.step

    def spy(states):
        calls.append(sum(s.job.num_samples for s in states))
        return step(states)

    handler.engine.step = spy
    return calls


@pytest.mark.parametrize("model", ["ebm", "diffusion"])
def test_a_request_that_joins_a_running_loop_gets_the_same_bytes_as_alone(handler_factory, model):
    handler, ctx = handler_factory(model)
    small = {"num_samples": 2, STEPS[model]: 4, "seed": 7}
    [alone] = ask(handler, ctx, [small])
    fe = Frontend(handler, ctx)
    big = fe.submit({"num_samples": 3, STEPS[model]: 300, "seed": 1})
    fe.step()
    fe.step()
    late = fe.submit(small)
    while not fe.responses[late].done:
        fe.step()
    assert not fe.responses[big].done  # it joined a loop that was still running, and left before it
    assert fe.responses[late].json()["image_base64_png"] == alone.json()["image_base64_png"]
    fe.disconnect(big)


@pytest.mark.parametrize("model", ["ebm", "diffusion"])
def test_a_disconnected_request_leaves_before_the_next_step(handler_factory, model):
    handler, ctx = handler_factory(model)
    calls = stepped(handler)
    fe = Frontend(handler, ctx)
    gone = fe.submit({"num_samples": 4, STEPS[model]: 1000, "seed": 1})
    kept = fe.submit({"num_samples": 1, STEPS[model]: 1000, "seed": 2})
    fe.step()
    assert calls[-1] == 5
    fe.disconnect(gone)
    fe.step()
    assert calls[-1] == 1 and len(handler.scheduler) == 1  # only the kept request's row was stepped
    assert ctx.metrics.values("genai_requests_abandoned_total") == [1]
    assert ctx.metrics.values("genai_num_requests_running")[-1] == 1
    fe.disconnect(kept)
    taken = len(calls)
    fe.step()  # nothing left to run: TorchServe does not call the worker, and no step is taken
    assert len(calls) == taken
    [resp] = ask(handler, ctx, [{"num_samples": 1, STEPS[model]: 1}])  # the next call drops it first
    assert resp.status == 200 and calls[-1] == 1 and len(handler.scheduler) == 0
    assert ctx.metrics.values("genai_requests_abandoned_total") == [1, 1]


def test_work_over_the_cost_cap_gets_429_with_retry_after_and_the_rest_still_runs(handler_factory):
    handler, ctx = handler_factory("ebm")  # max_cost 256000 image-steps: four of the largest request
    fe = Frontend(handler, ctx)
    largest = {"num_samples": 64, "steps": 1000}
    held = [fe.submit({**largest, "seed": i}) for i in range(4)]
    over = fe.submit({**largest, "seed": 9})
    fe.step()
    refused = fe.responses[over]
    assert refused.done and refused.status == 429 and int(refused.headers["Retry-After"]) >= 1
    body = refused.json()
    assert body["retry_after_s"] == int(refused.headers["Retry-After"]) and "256000" in body["error"]
    assert all(not fe.responses[rid].done for rid in held) and len(handler.scheduler) == 4
    assert ctx.metrics.values("genai_cost_refused_total") == [64000]
    assert 0 < ctx.metrics.values("genai_cost_held")[-1] <= 256000  # the queue-depth gauge: the work held
    for rid in held:
        fe.disconnect(rid)
    fe.step()
    [fits] = ask(handler, ctx, [{"num_samples": 1, "steps": 2}])  # room again once they left
    assert fits.status == 200


def test_a_request_larger_than_the_cap_itself_is_a_400_naming_the_cost(handler_factory):
    handler, ctx = handler_factory("diffusion")
    handler.scheduler.max_cost = 100  # a deployment with a smaller cap than the schema's largest request
    [resp] = ask(handler, ctx, [{"num_samples": 4, "diffusion_steps": 50}])
    assert resp.status == 400 and resp.json()["field"] == "num_samples"
    assert "200 image-steps" in resp.json()["error"] and "(100)" in resp.json()["error"]


def test_timeout_s_stops_the_work_with_a_408_naming_the_field(handler_factory):
    handler, ctx = handler_factory("ebm")
    calls = stepped(handler)
    [at_once] = ask(handler, ctx, [{"num_samples": 1, "steps": 1000, "timeout_s": 1e-6}])
    assert at_once.status == 408 and at_once.json()["field"] == "timeout_s" and not at_once.streamed
    fe = Frontend(handler, ctx)
    late = fe.submit({"num_samples": 2, "steps": 1000, "timeout_s": 0.3})
    fe.run()
    resp = fe.responses[late]
    # the status line went out with the first (empty) chunk; the body says what happened
    assert resp.streamed and resp.status == 200
    assert resp.json()["status"] == 408 and resp.json()["field"] == "timeout_s"
    assert sum(1 for rows in calls if rows == 2) < 1000 and len(handler.scheduler) == 0
    [bad] = ask(handler, ctx, [{"num_samples": 1, "steps": 1, "timeout_s": 0}])
    assert bad.status == 400 and bad.json()["field"] == "timeout_s"


def test_a_streamed_diffusion_request_that_times_out_ends_with_an_error_line(handler_factory):
    handler, ctx = handler_factory("diffusion")
    [resp] = ask(handler, ctx, [{"num_samples": 2, "diffusion_steps": 1000, "stream": True, "preview_every": 1,
                                 "timeout_s": 0.3}])
    *previews, last = resp.lines()
    assert previews and all(line["type"] == "preview" for line in previews)
    assert last["type"] == "error" and last["status"] == 408 and last["field"] == "timeout_s"


def test_without_continuous_batching_each_call_runs_its_requests_to_the_end(handler_factory):
    handler, ctx = handler_factory("diffusion")
    bodies = [{"num_samples": 2, "diffusion_steps": 30, "seed": 1}, {"num_samples": 1, "diffusion_steps": 3, "seed": 2}]
    continuous = ask(handler, ctx, bodies)
    handler.continuous = False  # an archive whose model-config lacks continuousBatching
    fe = Frontend(handler, ctx)
    static = fe.ask(bodies)
    assert fe.calls == 1 and [r.status for r in static] == [200, 200] and not any(r.streamed for r in static)
    assert [r.json() for r in static] == [r.json() for r in continuous]
