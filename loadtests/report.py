"""Write one benchmark's results into docs/BENCHMARKS.md between its markers, leaving the rest alone."""
from __future__ import annotations

from pathlib import Path


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
