"""No import circles inside inventory, probes, vcfleet and simulator.

A circle means neither module can be read, tested or moved without the other;
import-linter's layer contracts (test_import_contracts.py) do not see circles
inside one package, so this test looks for them in grimp's import graph, the
graph import-linter itself builds.

Imports under ``if TYPE_CHECKING:`` count: the module still names the other
one's types, mypy follows the import, and a newcomer reading either file
meets the circle.  A type-only need is met by a small Protocol on the
importing side (``inventory.selectors.Tree``) instead.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path

import grimp
import pytest

PACKAGES = ("inventory", "probes", "vcfleet", "simulator")

ALLOWED: dict[frozenset[str], str] = {}
"""Circles tolerated for now, each with the reason; the test fails once one is gone."""


def cycles(graph: grimp.ImportGraph, packages: Iterable[str]) -> list[list[str]]:
    """One import circle per strongly connected group of modules, as a module path
    that starts and ends at the same module (``a -> b -> a``); sorted."""
    modules = sorted(m for m in graph.modules
                     if any(m == p or m.startswith(p + ".") for p in packages))
    inside = set(modules)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m) & inside) for m in modules}
    out: list[list[str]] = []
    for group in _strongly_connected(modules, edges):
        if len(group) == 1 and group[0] not in edges[group[0]]:
            continue
        first = min(group)
        members = set(group)
        step = next(n for n in edges[first] if n in members)
        chain = [first] if step == first else _path(edges, step, first, members)
        out.append([first, *chain])
    return sorted(out)


def _path(edges: dict[str, list[str]], start: str, goal: str, within: set[str]) -> list[str]:
    """The shortest import path from ``start`` to ``goal`` staying ``within`` (BFS)."""
    came: dict[str, str | None] = {start: None}
    queue = [start]
    for node in queue:
        if node == goal:
            break
        for nxt in edges[node]:
            if nxt in within and nxt not in came:
                came[nxt] = node
                queue.append(nxt)
    path = [goal]
    while (prev := came[path[-1]]) is not None:
        path.append(prev)
    return path[::-1]


def _strongly_connected(nodes: list[str], edges: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm without recursion (module graphs can be deep)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in nodes:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            if i < len(edges[node]):
                work.append((node, i + 1))
                nxt = edges[node][i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            for nxt in edges[node]:
                if nxt in on_stack:
                    low[node] = min(low[node], low[nxt])
            if low[node] == index[node]:
                group: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                groups.append(sorted(group))
    return groups


def shown(cycle: list[str]) -> str:
    """``a -> b -> a``."""
    return " -> ".join(cycle)


def test_no_import_cycles_inside_the_packages() -> None:
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=False, cache_dir=None)
    found = cycles(graph, PACKAGES)
    unexpected = [c for c in found if frozenset(c) not in ALLOWED]
    assert not unexpected, "import cycles:\n" + "\n".join(shown(c) for c in unexpected)
    gone = [why for group, why in ALLOWED.items() if not any(frozenset(c) == group
                                                             for c in found)]
    assert not gone, "allowed cycle no longer exists, remove it from ALLOWED: " + "; ".join(gone)


@pytest.fixture
def package_with_a_cycle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A throw-away package ``cyc``: a -> b -> c -> a (c's import is type-only), d alone."""
    root = tmp_path / "cyc"
    root.mkdir()
    files = {
        "__init__.py": "",
        "a.py": "from cyc import b\n",
        "b.py": "from cyc.c import X\n",
        "c.py": """
            from typing import TYPE_CHECKING
            if TYPE_CHECKING:
                from cyc.a import Y
            X = 1
        """,
        "d.py": "import cyc.a\nimport cyc.d\n",
    }
    for name, text in files.items():
        (root / name).write_text(textwrap.dedent(text))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "cyc", raising=False)
    return "cyc"


def test_a_deliberate_cycle_is_found_and_named(package_with_a_cycle: str) -> None:
    graph = grimp.build_graph(package_with_a_cycle, exclude_type_checking_imports=False,
                              cache_dir=None)
    assert cycles(graph, [package_with_a_cycle]) == [
        ["cyc.a", "cyc.b", "cyc.c", "cyc.a"],
        ["cyc.d", "cyc.d"],
    ]
