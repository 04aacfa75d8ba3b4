"""Send the hostile corpus to a running server and report what came back (used by tests and `make reliability`)."""
from __future__ import annotations

from dataclasses import dataclass, field

from genai_serve.registry import ModelSpec
from genai_serve.reliability.hostile import Case, cases_for
from genai_serve.server import Server


@dataclass
class ProbeResult:
    model: str
    tried: int = 0
    server_errors: list[str] = field(default_factory=list)  # any 5xx: always a bug
    wrong: list[str] = field(default_factory=list)  # a 2xx, or a 4xx that does not name the expected field

    @property
    def ok(self) -> bool:
        return not self.server_errors and not self.wrong


def check(server: Server, spec: ModelSpec, case: Case) -> str | None:
    """None if the server answered as it must, else a one-line description of what went wrong."""
    r = server.call("POST", "inference", f"/predictions/{spec.name}", data=case.body,
                    headers={"Content-Type": case.content_type}, timeout=120)
    where = f"{spec.name} [{case.label}]: HTTP {r.status_code}"
    if r.status_code not in case.status:
        return f"{where}, expected {case.status}: {r.text[:160]}"
    if case.expected is None:
        return None
    try:
        named = r.json().get("field")
    except ValueError:
        return f"{where}: body is not JSON: {r.text[:160]}"
    if named != case.expected and not str(named).startswith(case.expected + "."):
        return f"{where}: names field {named!r}, expected {case.expected!r}: {r.text[:160]}"
    return None


def probe(server: Server, spec: ModelSpec, cases: list[Case] | None = None) -> ProbeResult:
    result = ProbeResult(spec.name)
    for case in cases if cases is not None else cases_for(spec):
        result.tried += 1
        problem = check(server, spec, case)
        if problem:
            (result.server_errors if " HTTP 5" in problem else result.wrong).append(problem)
    return result
