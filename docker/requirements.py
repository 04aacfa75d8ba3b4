"""The pip requirement list of a container image, worked out from pyproject.toml (the one list of pins).

    python3 docker/requirements.py [--gpu] [--pyproject PATH] > requirements.txt

Both Dockerfiles run this in their build stage, and tests/unit/test_image_requirements.py runs the same
function and resolves its output against PyPI, so what the test checks is what the image installs.

CPU image: [project] dependencies as written. GPU image: the same list with each name in
[tool.genai-serve.gpu] `replace` swapped for its GPU pin (onnxruntime -> onnxruntime-gpu: both install the
module `onnxruntime`, so the image must hold exactly one of them). Only the standard library (tomllib,
Python 3.11+): the build stage runs it with the base image's Python before any virtualenv exists.
"""
from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def canonical(name: str) -> str:
    """PEP 503 name: case and runs of - _ . do not matter (onnxruntime_gpu == onnxruntime-gpu)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = _NAME.match(requirement)
    if not match:
        raise ValueError(f"not a requirement: {requirement!r}")
    return canonical(match.group(1))


def gpu_overrides(pyproject: dict) -> dict[str, str]:
    """{canonical project dependency name: the requirement the GPU image installs instead}."""
    table = pyproject.get("tool", {}).get("genai-serve", {}).get("gpu", {})
    return {canonical(name): req for name, req in table.get("replace", {}).items()}


def requirements(pyproject_path: Path = PYPROJECT, gpu: bool = False) -> list[str]:
    pyproject = tomllib.loads(Path(pyproject_path).read_text())
    deps = list(pyproject["project"]["dependencies"])
    if not gpu:
        return deps
    overrides = gpu_overrides(pyproject)
    names = {requirement_name(d) for d in deps}
    missing = sorted(set(overrides) - names)
    if missing:  # a stale override would silently install nothing in its place: refuse instead
        raise SystemExit(f"[tool.genai-serve.gpu] replace names {missing}, which are not project dependencies")
    return [overrides.get(requirement_name(d), d) for d in deps]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gpu", action="store_true", help="the GPU image's list ([tool.genai-serve.gpu] applied)")
    parser.add_argument("--pyproject", type=Path, default=PYPROJECT)
    args = parser.parse_args(argv)
    sys.stdout.write("".join(f"{r}\n" for r in requirements(args.pyproject, args.gpu)))


if __name__ == "__main__":
    main()
