"""Every curl line in README.md's code blocks runs as written against a real TorchServe.

The lines are taken from the README itself (``` blocks), together with its TOKEN= / MTOKEN= lines, and run
with bash from the repository root. Only two things are substituted: the address (127.0.0.1:8080/8081/8082 ->
the test server's free ports) and the token source (key_file.json in the repo root -> the test server's key
file). Each line must exit 0 and answer HTTP 2xx, except a line whose comment line directly above it says
"refused": that one must answer a 4xx whose JSON names a field.
"""
from __future__ import annotations

import json
import re
import subprocess

import pytest

from genai_ops.registry import REPO_ROOT

pytestmark = pytest.mark.e2e

README = REPO_ROOT / "README.md"
PORTS = {"8080": "inference", "8081": "management", "8082": "metrics"}


def readme_blocks() -> list[list[str]]:
    """The lines of every fenced code block in README.md."""
    blocks, current = [], None
    for line in README.read_text().splitlines():
        if line.startswith("```"):
            if current is None:
                current = []
            else:
                blocks.append(current)
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def readme_curls() -> list[tuple[str, bool]]:
    """(curl line, expected to be refused) for every line of a code block that runs curl."""
    found = []
    for block in readme_blocks():
        previous = ""
        for line in block:
            stripped = line.strip()
            if re.match(r"^curl\s", stripped):
                found.append((stripped, "refused" in previous.lower() if previous.startswith("#") else False))
            previous = stripped
    return found


def token_lines() -> list[str]:
    return [line.strip() for block in readme_blocks() for line in block
            if re.match(r"^M?TOKEN=\$\(", line.strip())]


def localise(line: str, served) -> str:
    for port, api in PORTS.items():
        line = line.replace(f"127.0.0.1:{port}", f"127.0.0.1:{served.server.ports[api]}")
    return line.replace('"key_file.json"', json.dumps(str(served.server.key_file)))


def test_readme_has_a_curl_line_for_every_model_and_the_token_lines(served):
    curls = [line for line, _ in readme_curls()]
    for name in served.registry:
        assert any(f"/predictions/{name}" in line for line in curls), f"README has no curl line for {name}"
    assert any(line.startswith("TOKEN=") for line in token_lines()), "README does not say how to get the token"


@pytest.mark.parametrize("line,refused", readme_curls(), ids=lambda v: v[:70] if isinstance(v, str) else str(v))
def test_readme_curl_line_works_as_written(served, tmp_path, line, refused):
    body = tmp_path / "body"
    # curl's own -o/-w put the body in a file and the status on stdout; the line itself is unchanged
    wrapped = re.sub(r"^curl\s", f"curl -o {body} -w '%{{http_code}}' ", localise(line, served), count=1)
    script = "\n".join(["set -euo pipefail", *(localise(t, served) for t in token_lines()), wrapped])
    done = subprocess.run(["bash", "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{line}\nexit {done.returncode}: {done.stderr}"
    status = int(done.stdout.strip()[-3:])
    answer = body.read_text(errors="replace") if body.exists() else ""
    if refused:
        assert 400 <= status < 500, f"{line}\nexpected a refusal, got HTTP {status}: {answer[:300]}"
        assert json.loads(answer).get("field"), f"{line}\nthe refusal names no field: {answer[:300]}"
    else:
        assert 200 <= status < 300, f"{line}\nHTTP {status}: {answer[:300]}"
        assert answer.strip(), f"{line}\nempty answer"
