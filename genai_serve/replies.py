"""How an iterative model's requests are answered, per API; handlers/iterative.py writes what these return.

An API object shapes everything a request says on the wire: its content type, each reply while it runs (the
scheduler's Reply: events, the final body, or an error) and its refusals. The native API is below; gpt2_qa's
OpenAI API (genai_serve/gpt2/openai_api.py) has the same methods. A job names the API that asked (`job.api`),
so the adapter never branches on which one it was.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from genai_serve.errors import InputError
from genai_serve.scheduler import Reply

NDJSON = "application/x-ndjson"
JSON = "application/json"


@dataclass
class Immediate:
    """An answer with nothing to run (e.g. the OpenAI API's model list): sent at once, whole."""
    body: dict


class NativeApi:
    """The project's own API: one JSON body, or NDJSON lines ({"type": ...}) for "stream": true."""

    def content_type(self, job) -> str:
        return NDJSON if getattr(job, "stream", False) else JSON

    def render(self, reply: Reply, stream_started: bool) -> str:
        """NDJSON lines for streaming requests; one JSON body otherwise (empty until done). A non-streaming request
        whose status line went out with an earlier chunk carries its error's status in the body."""
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

    def error_body(self, exc: InputError) -> dict:
        return exc.to_body()


NATIVE = NativeApi()
