"""The package's modules import one another without a cycle.

Every import counts: at module level, under `if TYPE_CHECKING:` and inside functions. A
cycle that only type checking or a late import keeps from failing at run time still ties
the modules together: neither can be read, tested or changed alone.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parents[3] / "operator"
PACKAGE = "kubesat"


def module_name(path: Path) -> str:
    """`operator/kubesat/k8s/runtime.py` -> `kubesat.k8s.runtime` (a package: its name)."""
    parts = list(path.relative_to(SOURCE_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules() -> dict[str, Path]:
    """Every module of the package, by dotted name."""
    return {module_name(p): p for p in sorted((SOURCE_ROOT / PACKAGE).rglob("*.py"))}


def imported_names(source: str, module: str, is_package: bool = False) -> Iterator[str]:
    """The dotted names a module's source imports, anywhere in it (relative imports
    resolved against `module`)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                keep = len(base) - node.level + (1 if is_package else 0)
                prefix = ".".join(base[:keep])
                source = f"{prefix}.{node.module}" if node.module else prefix
            else:
                source = node.module or ""
            yield source
            # `from package import module` imports the module
            yield from (f"{source}.{alias.name}" for alias in node.names)


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports (a name resolves to its longest module
    prefix: `from kubesat.k8s.api import Api` is an edge to `kubesat.k8s.api`)."""
    modules = package_modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        source = path.read_text(encoding="utf-8")
        for imported in imported_names(source, name, path.name == "__init__.py"):
            if imported != PACKAGE and not imported.startswith(f"{PACKAGE}."):
                continue
            parts = imported.split(".")
            target = next(
                (
                    ".".join(parts[:n])
                    for n in range(len(parts), 0, -1)
                    if ".".join(parts[:n]) in modules
                ),
                None,
            )
            if target is not None and target != name:
                graph[name].add(target)
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def one_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """A shortest import cycle through the component's first module, as a path back to it."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for other in sorted(graph[node] & members):
                if other == start:
                    return [*paths[node], start]
                if other not in paths:
                    paths[other] = [*paths[node], other]
                    following.append(other)
        frontier = following
    raise AssertionError(f"{component} is not strongly connected")


SAMPLE = """
from __future__ import annotations
from typing import TYPE_CHECKING
import kubesat.core.power
from kubesat.engine import fleet
from . import api
from .clock import SimClock
if TYPE_CHECKING:
    from kubesat.k8s.runtime import FleetRuntime
def late() -> None:
    from kubesat.k8s import app
"""


def test_every_kind_of_import_is_seen():
    names = set(imported_names(SAMPLE, "kubesat.k8s.sample"))
    assert {
        "kubesat.core.power",
        "kubesat.engine.fleet",  # `from package import module`
        "kubesat.k8s.api",  # relative
        "kubesat.k8s.clock",
        "kubesat.k8s.runtime",  # under TYPE_CHECKING
        "kubesat.k8s.app",  # inside a function
    } <= names


def test_relative_imports_of_a_package_start_from_it():
    names = set(imported_names("from . import spec", "kubesat", is_package=True))
    assert "kubesat.spec" in names


def test_the_cycle_finder_reports_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    components = strongly_connected(graph)
    assert components == [["a", "b", "c"]]
    assert one_cycle(graph, components[0]) == ["a", "b", "c", "a"]


def test_no_module_is_part_of_an_import_cycle():
    graph = import_graph()
    cycles = [
        f"{' -> '.join(one_cycle(graph, c))}  ({len(c)} modules tied: {', '.join(c)})"
        for c in strongly_connected(graph)
    ]
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_nothing_the_runtime_uses_imports_it():
    graph = import_graph()
    runtime = "kubesat.k8s.runtime"
    reached, todo = set(), [runtime]
    while todo:
        for other in graph[todo.pop()] - reached:
            reached.add(other)
            todo.append(other)
    back = sorted(m for m in reached - {runtime} if runtime in graph[m])
    assert not back, f"{back} import {runtime}, which imports them"
