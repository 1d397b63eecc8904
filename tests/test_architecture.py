"""The core's shape: small modules grouped by role, no import cycles (lazy imports included),
no built-in plugin imported by name, and the 0.1 flat module paths still importable."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import colorbench
from colorbench import _compat

CORE = Path(colorbench.__file__).parent
MAX_LINES = 300


def _module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(CORE.rglob("*.py"))}


def _runtime_imports(tree: ast.AST) -> list[tuple[str, list[str]]]:
    """(module, names) of every import that can execute, at any depth; not those under
    ``if TYPE_CHECKING:``."""
    out: list[tuple[str, list[str]]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            out.extend((a.name, []) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, [a.name for a in node.names]))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the core modules it imports (a name that is a submodule counts as that module)."""
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        deps: set[str] = set()
        for module, names in _runtime_imports(ast.parse(path.read_text())):
            if module != "colorbench" and not module.startswith("colorbench."):
                continue
            subs = [f"{module}.{n}" for n in names if f"{module}.{n}" in MODULES]
            deps.update(subs or [module])
            if subs and len(subs) < len(names):
                deps.add(module)
        graph[name] = deps - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep):], dep]
            if dep not in state and (found := dfs(dep)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := dfs(node)):
            return found
    return None


def test_no_module_over_300_lines() -> None:
    long = {n: len(p.read_text().splitlines()) for n, p in MODULES.items()}
    assert {n: k for n, k in long.items() if k > MAX_LINES} == {}


def test_core_has_no_import_cycle_lazy_imports_included() -> None:
    assert find_cycle(import_graph()) is None


def test_cycle_finder_finds_a_planted_cycle() -> None:
    graph = import_graph()
    graph["colorbench.errors"] = {*graph["colorbench.errors"], "colorbench.evaluation.runner"}
    cycle = find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1] and "colorbench.errors" in cycle


def test_core_imports_no_builtin_plugin_and_no_old_path() -> None:
    old = {f"colorbench.{m}" for m in _compat.MOVED}
    bad = []
    for name, path in MODULES.items():
        for module, names in _runtime_imports(ast.parse(path.read_text())):
            hits = [module] + [f"{module}.{n}" for n in names]
            if module.startswith("colorbench_") or any(h in old for h in hits):
                bad.append(f"{name}: {module}")
    assert bad == []


def test_core_is_grouped_in_subpackages() -> None:
    top = sorted(n for n in MODULES if n.count(".") == 1 and not (CORE / n.split(".")[1]).is_dir())
    assert top == ["colorbench.__main__", "colorbench._compat", "colorbench.device", "colorbench.distributed",
                   "colorbench.errors",
                   "colorbench.version"]


@pytest.mark.parametrize("old", sorted(_compat.MOVED))
def test_flat_module_paths_of_0_1_still_import(old: str) -> None:
    alias = importlib.import_module(f"colorbench.{old}")
    assert alias is importlib.import_module(f"colorbench.{_compat.MOVED[old]}")


def test_from_colorbench_import_old_module_names() -> None:
    from colorbench import engine, plugins  # the names 0.1's docs showed

    assert plugins.load is importlib.import_module("colorbench.plugin.manager").load
    assert engine.Runner is importlib.import_module("colorbench.evaluation.runner").Runner
