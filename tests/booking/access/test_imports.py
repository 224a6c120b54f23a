"""booking.access and devices import each other's modules without cycles."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(imported module, inside a function?) for each import in the file."""
    tree = ast.parse(path.read_text())
    package = _module(path).rsplit(".", 1)[0]
    nested = {
        id(node)
        for func in ast.walk(tree)
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(func)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names = [f"{base}.{alias.name}" for alias in node.names]
            found += [(name, id(node) in nested) for name in [base, *names]]
        elif isinstance(node, ast.Import):
            found += [(alias.name, id(node) in nested) for alias in node.names]
    return found


def _graph(packages: list[str]) -> dict[str, set[str]]:
    files = [p for pkg in packages for p in (ROOT / pkg).rglob("*.py")]
    modules = {_module(p) for p in files}
    return {
        _module(p): {name for name, _ in _imports(p) if name in modules} - {_module(p)}
        for p in files
    }


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_access_and_devices_have_no_import_cycle():
    graph = _graph(["booking/access", "devices"])
    assert _cycle(graph) is None


def test_cycle_detection_sees_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_devices_never_import_booking():
    for path in (ROOT / "devices").rglob("*.py"):
        assert not any(name.startswith("booking") for name, _ in _imports(path)), path


def test_access_imports_only_at_module_level():
    for path in (ROOT / "booking" / "access").rglob("*.py"):
        inside = [name for name, nested in _imports(path) if nested]
        assert not inside, f"{path.name} imports inside a function: {inside}"
