"""House rules about the shape of the code, checked on every test run: no module imports in a
circle (in ``alerts``, ``streams`` or ``bench``), and no file of ``alerts`` or ``streams``
grows past 600 lines, none of ``bench`` past 500.

The import graph is read with :mod:`ast`, every ``import`` and ``from ... import`` of a file,
including those inside functions (a deferred import still ties two modules together), and
cycles are found as the strongly connected components of that graph (Tarjan).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: No file in the decision core may be longer than this.
MAX_LINES = 600


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def imports_of(path: Path, module: str) -> set[str]:
    """Every module name ``path`` imports, wherever in the file: ``import a.b`` gives ``a.b``;
    ``from a import b`` gives ``a.b`` and ``a`` (the caller keeps the ones that are modules)."""
    found: set[str] = set()
    package = _package_of(module, path)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def import_graph(package: str) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports."""
    files = {module_name(p): p for p in (ROOT / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        targets = set()
        for name in imports_of(path, module):
            if name in files and name != module:
                targets.add(name)
        graph[module] = targets
    return graph


def strongly_connected(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, iteratively (no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterable[str]]] = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
    return components


def a_cycle(graph: Mapping[str, Iterable[str]], component: list[str]) -> list[str]:
    """One concrete circle through the first module of ``component``: a -> b -> ... -> a."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph.get(node, ())):
            if child == start:
                return [*paths[node], start]
            if child in members and child not in paths:
                paths[child] = [*paths[node], child]
                queue.append(child)
    return component  # not reached for a real component


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    return [
        a_cycle(graph, component)
        for component in strongly_connected(graph)
        if len(component) > 1 or component[0] in graph.get(component[0], ())
    ]


@pytest.mark.parametrize(
    "package",
    [
        "alerts",
        "streams",
        "bench",
    ],
)
def test_no_module_imports_in_a_circle(package: str) -> None:
    found = cycles(import_graph(package))
    assert not found, "imports in a circle:\n" + "\n".join(" -> ".join(c) for c in found)


def test_the_cycle_check_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert cycles(graph) == [["a", "b", "c", "a"], ["e", "e"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_imports_inside_functions_count(tmp_path: Path) -> None:
    source = tmp_path / "late.py"
    source.write_text("def f():\n    from alerts import engine\n    import streams.cli.main\n")
    assert {"alerts.engine", "streams.cli.main"} <= imports_of(source, "late")


#: The longest file each package may hold: a longer one holds two concepts (bench/ is a tool,
#: its rooms smaller).
LIMITS = {"alerts": MAX_LINES, "streams": MAX_LINES, "bench": 500}


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        (path, limit)
        for package, limit in LIMITS.items()
        for path in sorted((ROOT / package).rglob("*.py"))
    ],
    ids=lambda p: str(p.relative_to(ROOT)) if isinstance(p, Path) else str(p),
)
def test_no_file_over_its_limit(path: Path, limit: int) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= limit, f"{path.relative_to(ROOT)} has {lines} lines (at most {limit})"


def test_test_modules_have_unique_names() -> None:
    """pytest imports test modules by their file name (the test folders are not packages), so two
    ``test_x.py`` in different folders make the whole run stop at collection."""
    seen: dict[str, Path] = {}
    clashes = []
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        if path.name in seen:
            clashes.append(f"{seen[path.name].relative_to(ROOT)} and {path.relative_to(ROOT)}")
        seen.setdefault(path.name, path)
    assert not clashes, "rename one of each pair: " + "; ".join(clashes)
