"""loadtests/ is layered harness -> suites -> one CLI: every import between its modules (module level or inside a
function) is read with `ast`, and the graph has no cycle, nothing imports tests/, the harness imports no suite,
no suite imports another suite, and only the CLI imports the suites."""
from __future__ import annotations

import ast
from pathlib import Path

from genai_ops.registry import REPO_ROOT

ROOT = REPO_ROOT / "loadtests"
SUITES = {"loadtests.bench_overhead", "loadtests.bench_seed", "loadtests.bench_sweep", "loadtests.bench_cuts",
          "loadtests.bench_peers", "loadtests.bench_samplers", "loadtests.bench_gpt2", "loadtests.bench_gpt2_served",
          "loadtests.bench_iterative", "loadtests.gpu_check", "loadtests.reliability"}
CLI = {"loadtests.cli", "loadtests.__main__"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(tree: ast.AST, package: str) -> set[str]:
    """Every module an import statement anywhere in `tree` names (`from a import b` names a and a.b)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against the importing module's package
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            out |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return out


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    edges = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges[name] = imported(ast.parse(path.read_text()), package)
    return edges


def internal(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    return {m: {t for t in targets if t in edges and t != m} for m, targets in edges.items()}


def suite_of(module: str) -> str | None:
    return next((s for s in SUITES if module == s or module.startswith(s + ".")), None)


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path of modules, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt]
            if nxt not in state and (found := visit(nxt, path + [nxt])):
                return found
        state[node] = 2
        return None

    return next((c for m in sorted(edges) if m not in state and (c := visit(m, [m]))), None)


def test_the_import_graph_is_read_from_every_module_and_function():
    edges = graph()
    assert "loadtests.harness.timing" in edges["loadtests.bench_cuts"]
    assert "loadtests.harness.procs" in edges["loadtests.harness.locust_probe"]  # a Locust plugin, loaded by path
    tree = ast.parse("def f():\n    from loadtests.bench_seed import part\n")
    assert "loadtests.bench_seed" in imported(tree, "loadtests")


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_import_cycle_among_loadtests_modules():
    assert cycle(internal(graph())) is None


def test_nothing_under_loadtests_imports_tests():
    offenders = {m: sorted(t for t in targets if t == "tests" or t.startswith("tests."))
                 for m, targets in graph().items()}
    assert {m: t for m, t in offenders.items() if t} == {}


def test_the_harness_and_the_targets_import_no_suite_and_a_suite_no_other_suite():
    wrong = []
    for module, targets in internal(graph()).items():
        for target in targets:
            owner, other = suite_of(module), suite_of(target)
            if module in CLI or other is None or owner == other:
                continue
            wrong.append(f"{module} imports {target}")
    assert wrong == []
