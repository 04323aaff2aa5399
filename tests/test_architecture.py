"""The import structure (docs/architecture.md): the layer contracts in pyproject.toml hold, the
Swift package is a leaf, and the import graph of objstore has no cycle at all.

Imports inside functions count (grimp sees them): moving an import into a function does not
break a cycle, it hides it. Imports under ``if TYPE_CHECKING:`` do not count.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
#: What objstore.swift may import of objstore besides itself: the foundation.
SWIFT_MAY_IMPORT = {"objstore.errors", "objstore.retry"}


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("objstore", exclude_type_checking_imports=True, cache_dir=None)


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.find_modules_directly_imported_by(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_the_import_graph_has_no_cycle(graph):
    assert cycles(graph) == [], "import cycles (see docs/architecture.md, 'Imports')"


def test_the_import_contracts_in_pyproject_hold():
    """import-linter's layers and swift-leaf contracts (``[tool.importlinter]``)."""
    code = ("import sys\nfrom importlinter.cli import lint_imports\n"
            "sys.exit(lint_imports(no_cache=True, no_logo=True))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr


def test_swift_imports_nothing_of_objstore_but_the_foundation(graph):
    """Also for Swift modules added later (the forbidden contract names today's modules)."""
    swift = graph.find_children("objstore.swift") | {"objstore.swift"}
    outside = {
        (module, imported)
        for module in swift
        for imported in graph.find_modules_directly_imported_by(module)
        if imported not in swift and imported not in SWIFT_MAY_IMPORT
    }
    assert outside == set()


def test_the_foundation_imports_only_errors(graph):
    """errors imports nothing of objstore; urls and retry only errors (so swift can use them)."""
    assert graph.find_modules_directly_imported_by("objstore.errors") == set()
    for module in ("objstore.urls", "objstore.retry"):
        assert graph.find_modules_directly_imported_by(module) <= {"objstore.errors"}, module
