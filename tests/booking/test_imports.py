"""The import graph of booking/ (docs/architecture.md): no cycles, and no
lower domain importing a higher one. Imports inside functions count too: a
cycle hidden in a function is still a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "booking"

# spaces < bookings < passes < billing < invoicing; the listeners react to their events.
STACK = ("spaces", "bookings", "passes", "billing", "invoicing")
LISTENERS = ("notifications", "checkin", "access", "insight")
# Pages, the JSON API and commands compose every domain: a passes page may
# start a Stripe checkout. What they import is not a domain's dependency.
EDGES = ("views", "api", "cli")
# Known exceptions, each with its reason. Remove an entry once it is gone.
# None are left: bookings asks passes (fixed desks) and billing (expired
# holds) through events.fixed_desks_asked and events.expired_holds_asked.
ALLOWED: set[tuple[str, str]] = set()


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """Module name to the booking modules it imports, anywhere in its body."""
    modules: dict[str, tuple[Path, bool]] = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, (path, is_package) in modules.items():
        here = name.split(".") if is_package else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                base = here[: len(here) - node.level + 1] if node.level else []
                target = ".".join(base + (node.module or "").split(".")).strip(".")
                candidates = [target] + [f"{target}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                candidates = [alias.name for alias in node.names]
            else:
                continue
            for candidate in candidates:
                # The top package (create_app) wires everything together.
                if candidate in modules and candidate not in (name, root.name):
                    graph[name].add(candidate)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def domain_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else None


def layer_violations(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(module, imported module) where a domain of the stack imports a higher
    domain of the stack or a listener."""
    found = []
    for module, targets in sorted(graph.items()):
        domain = domain_of(module)
        if domain not in STACK or module.split(".")[-1] in EDGES:
            continue
        above = STACK[STACK.index(domain) + 1 :] + LISTENERS
        for target in sorted(targets):
            target_domain = domain_of(target)
            if target_domain in above and (module, target_domain) not in ALLOWED:
                found.append((module, target))
    return found


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_no_lower_domain_imports_a_higher_one():
    assert layer_violations(import_graph()) == []


def test_allowed_exceptions_still_exist():
    # A stale entry would let the exception come back unnoticed: delete it.
    graph = import_graph()
    present = {
        (module, domain_of(target))
        for module, targets in graph.items()
        for target in targets
    }
    stale = {(module, domain) for module, domain in ALLOWED if module in graph}
    assert stale - present == set()


@pytest.fixture
def tree(tmp_path):
    def write(files: dict[str, str]) -> Path:
        root = tmp_path / "booking"
        for name, text in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return root

    return write


def test_a_cycle_inside_a_function_is_found(tree):
    root = tree(
        {
            "__init__.py": "",
            "spaces/__init__.py": "",
            "spaces/services.py": "def f():\n    from ..bookings import rules\n",
            "bookings/__init__.py": "",
            "bookings/rules.py": "from ..spaces.services import f\n",
        }
    )
    assert cycles(import_graph(root)) == [
        ["booking.bookings.rules", "booking.spaces.services"]
    ]


def test_a_lower_domain_importing_a_higher_one_is_found(tree):
    root = tree(
        {
            "__init__.py": "",
            "passes/__init__.py": "",
            "passes/services.py": "from ..billing import services\n",
            "passes/views.py": "from ..billing import services\n",
            "billing/__init__.py": "",
            "billing/services.py": "from ..passes.services import x\n",
        }
    )
    graph = import_graph(root)
    assert layer_violations(graph) == [
        ("booking.passes.services", "booking.billing.services")
    ]
