"""A model's whole handler in this process, timed as TorchServe calls it (no server, no client): the ceiling a
served figure is compared with (the overhead and peers suites)."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from genai_ops.registry import REPO_ROOT, Paths, load_registry
from loadtests.harness.timing import calls_per_s
from loadtests.inprocess import build_handler, layout


def sample_request(spec) -> dict:
    """The registry sample as TorchServe hands it to a handler (JSON bodies arrive decoded)."""
    body, content_type = spec.sample_body()
    return {"body": json.loads(body) if content_type == "application/json" else body}


def raw_rates(model: str, batch: int, seconds: float = 4.0, base: Path | None = None) -> dict:
    """In-process requests/s at `batch` requests per call: the session alone and the whole handler, on `base`'s
    artifacts (default: the repo's), and the handler's thread count."""
    spec = load_registry()[model]
    with tempfile.TemporaryDirectory() as tmp:
        version = spec.default_version
        handler = build_handler(spec, version, layout(spec, version, Paths(base or REPO_ROOT), Path(tmp),
                                                      prefer_mar=False))
        requests_ = [sample_request(spec) for _ in range(batch)]
        whole = lambda: handler.handle(requests_, handler.context)  # noqa: E731
        session = captured_session(handler, whole)
        return {"session": batch * calls_per_s(session, seconds), "handler": batch * calls_per_s(whole, seconds),
                "threads": handler.threads}


def captured_session(handler, whole):
    """The handler's session on the input of one real batch, captured on its way in by running `whole` once."""
    engine, seen = handler.model, []
    handler.model = lambda x: (seen.append(x), engine(x))[1]
    try:
        whole()
    finally:
        handler.model = engine
    return lambda: engine(seen[0])
