"""Send the hostile corpus to a running server and report what came back (used by tests and `make reliability`)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from genai_ops.registry import ModelSpec
from loadtests.reliability.hostile import Case, cases_for
from genai_ops.server import Server


@dataclass
class ProbeResult:
    model: str
    tried: int = 0
    server_errors: list[str] = field(default_factory=list)  # any 5xx: always a bug
    wrong: list[str] = field(default_factory=list)  # a 2xx to an invalid case, or a 4xx that names the wrong field
    workers_kept: bool = True  # the model's worker PIDs were the same after the corpus as before it

    @property
    def ok(self) -> bool:
        return not self.server_errors and not self.wrong and self.workers_kept


def worker_pids(server: Server, name: str) -> set[int]:
    """PIDs of the workers of a model's default version (management API): a worker that died and was
    replaced during a run shows as a changed set."""
    return {w["pid"] for w in server.call("GET", "management", f"/models/{name}").json()[0]["workers"]}


def _answer_problem(text: str) -> str | None:
    """A 200 to a valid case must carry the model's answer: JSON (the last NDJSON line when streamed) without
    an "error" (a continuous-batching request that fails after its first chunk keeps its 200 status line and
    says so in the body, handlers/iterative.py)."""
    lines = [line for line in text.splitlines() if line.strip()] or [""]
    try:
        body = json.loads(text)
    except ValueError:
        try:
            body = json.loads(lines[-1])
        except ValueError:
            return f"a 200 whose body is not JSON: {text[:160]}"
    if isinstance(body, dict) and "error" in body:
        return f"a 200 whose body reports HTTP {body.get('status', '?')}: {text[:160]}"  # " HTTP 5..": a 5xx
    return None


def check(server: Server, spec: ModelSpec, case: Case) -> str | None:
    """None if the server answered as it must, else a one-line description of what went wrong."""
    r = server.call("POST", "inference", f"/predictions/{spec.name}", data=case.body,
                    headers={"Content-Type": case.content_type}, timeout=120)
    return judge(f"{spec.name} [{case.label}]", case, r.status_code, r.text)


def judge(where: str, case: Case, status: int, text: str) -> str | None:
    """The one place that decides what a right answer is: the case's status with a JSON body naming its field
    (or any listed status where `expected` is None), or a correct 200 where the case is a valid request."""
    where = f"{where}: HTTP {status}"
    if case.accepts and status == 200:
        problem = _answer_problem(text)
        return f"{where}, {problem}" if problem else None
    if status not in case.status:
        return f"{where}, expected {case.status}{' or 200' if case.accepts else ''}: {text[:160]}"
    if case.expected is None:
        return None
    try:
        named = json.loads(text).get("field")
    except (ValueError, AttributeError):
        return f"{where}: body is not a JSON object: {text[:160]}"
    if named != case.expected and not str(named).startswith(case.expected + "."):
        return f"{where}: names field {named!r}, expected {case.expected!r}: {text[:160]}"
    return None


def probe(server: Server, spec: ModelSpec, cases: list[Case] | None = None) -> ProbeResult:
    """Every case in turn (a bounded loop: one request each), then whether the model's workers survived."""
    result, before = ProbeResult(spec.name), worker_pids(server, spec.name)
    for case in cases if cases is not None else cases_for(spec):
        result.tried += 1
        problem = check(server, spec, case)
        if problem:
            (result.server_errors if " HTTP 5" in problem else result.wrong).append(problem)
    result.workers_kept = worker_pids(server, spec.name) == before
    return result
