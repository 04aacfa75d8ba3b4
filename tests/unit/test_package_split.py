"""The worker package holds what a worker runs and nothing else, and an archive carries only that.

genai_serve/ is shipped inside every .mar; genai_ops/ (launcher, lifecycle, container, registry, KServe runtime),
loadtests/ (benchmarks and the reliability harness), training/, export/ and tests/ are not. Following the imports
from handlers/ must reach every module of the worker package (nothing dead rides along in every archive) and
none of the others, nor the libraries only they use.
"""
from __future__ import annotations

import ast
import zipfile
from pathlib import Path

from export import archive as archive_mod
from genai_ops.registry import REPO_ROOT, load_registry

WORKER = REPO_ROOT / "genai_serve"
NOT_IN_A_WORKER = {"genai_ops", "loadtests", "tests", "training", "export",  # our other packages
                   "requests", "yaml", "hypothesis", "locust", "psutil"}  # libraries only they use
NOT_IN_THE_WORKER_PACKAGE = NOT_IN_A_WORKER | {"ts", "handlers"}  # TorchServe stays in the handler adapter


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module a file imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def worker_modules() -> dict[str, Path]:
    return {module_name(p): p for p in WORKER.rglob("*.py")}


def test_the_worker_package_imports_nothing_a_worker_does_not_run():
    offenders = {name: sorted(m for m in imports(path) if m.split(".")[0] in NOT_IN_THE_WORKER_PACKAGE)
                 for name, path in worker_modules().items()}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_handlers_import_only_the_worker_package_and_torchserve():
    offenders = {p.name: sorted(m for m in imports(p) if m.split(".")[0] in NOT_IN_A_WORKER)
                 for p in (REPO_ROOT / "handlers").glob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_every_worker_module_is_reached_from_a_handler():
    modules = worker_modules()
    reached, todo = set(), [m for p in (REPO_ROOT / "handlers").glob("*.py") for m in imports(p)]
    while todo:
        name = todo.pop()
        if name in modules and name not in reached:
            reached.add(name)
            todo += list(imports(modules[name]))
    # a package counts as reached when one of its modules is (its __init__ runs on that import)
    reached |= {name for name in modules if any(r.startswith(name + ".") for r in reached)}
    assert sorted(set(modules) - reached) == []


def test_an_archive_holds_the_handler_and_the_worker_package_only(random_exports):
    registry = load_registry()
    mar = archive_mod.archive(registry["gan"], "3.1", registry, random_exports)
    with zipfile.ZipFile(mar) as z:
        names = set(z.namelist())
    code = {n for n in names if n.endswith(".py")}
    shipped = {p.relative_to(REPO_ROOT).as_posix() for p in WORKER.rglob("*.py")}
    handlers = {"gan.py", "handlers/__init__.py", "handlers/base.py", "handlers/iterative.py"}
    assert code == shipped | handlers
    assert not any(n.split("/")[0] in NOT_IN_A_WORKER for n in names)
