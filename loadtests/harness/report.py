"""The report side of every benchmark: its section of docs/BENCHMARKS.md, between its markers, and the lines
that name the machine a figure was measured on."""
from __future__ import annotations

import os
import platform
from pathlib import Path

from genai_ops.registry import REPO_ROOT

BENCHMARKS = REPO_ROOT / "docs" / "BENCHMARKS.md"


def replace_section(path: Path, key: str, title: str, body: str) -> None:
    """Replace the text between `<!-- bench:key -->` and `<!-- /bench:key -->` (appending the section, with
    its `## title`, the first time)."""
    start, end = f"<!-- bench:{key} -->", f"<!-- /bench:{key} -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + f"\n\n## {title}\n\n{block}\n"
    path.write_text(text)


def add_docs_option(parser, default: Path = None) -> None:
    """`--docs FILE`: where a suite's section goes (default docs/BENCHMARKS.md; '' writes nothing)."""
    parser.add_argument("--docs", default=str(default or BENCHMARKS),
                        help="file whose section is replaced ('' writes nothing)")


def publish(docs: str, key: str, title: str, text: str) -> None:
    """Print a suite's section and, unless `docs` is '', replace it in that file."""
    print(text)
    if docs:
        replace_section(Path(docs), key, title, text)


def load_line() -> str:
    """The machine's load as a section closes with it."""
    return f"1-minute load average at start {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores."


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), else what platform knows."""
    try:
        return next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def platform_line() -> str:
    """The machine as the peers report names it: CPU model, cores, load when the part started."""
    return f"{cpu_model()}, {os.cpu_count()} cores, 1-minute load average {os.getloadavg()[0]:.1f} at start"
