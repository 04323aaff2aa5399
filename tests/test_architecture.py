"""The import structure (docs/architecture.md): the layer contracts in pyproject.toml hold, the
Swift package is a leaf, and the import graph of objstore has no cycle at all.

Imports inside functions count (grimp sees them): moving an import into a function does not
break a cycle, it hides it; and such imports are only allowed to defer a heavy package
(:data:`DEFERRED`). Imports under ``if TYPE_CHECKING:`` do not count.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
#: What objstore.swift may import of objstore besides itself: the foundation.
SWIFT_MAY_IMPORT = {"objstore.errors", "objstore.retry", "objstore.md5", "objstore.request_body"}


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
    """errors imports nothing of objstore; urls, retry, md5 and request_body only errors (so swift
    can use them)."""
    assert graph.find_modules_directly_imported_by("objstore.errors") == set()
    for module in ("objstore.urls", "objstore.retry", "objstore.md5", "objstore.request_body"):
        assert graph.find_modules_directly_imported_by(module) <= {"objstore.errors"}, module


#: Imports of objstore modules placed inside functions, each there to defer a heavy or optional
#: package until it is needed (``import objstore``, the CLI and xarray's engine listing stay fast).
#: Any other import goes at the top of its module. The CLI defers everything for its start-up.
DEFERRED = {
    "objstore.api": {"objstore.cubestore", "objstore.obstore_engine"},  # zarr, obstore
    "objstore.backends.s3": {"objstore.backends._s3fs"},  # s3fs
    "objstore.backends._obstore": {"objstore.backends._s3fs"},  # s3fs, only after an ETag mismatch
    "objstore.backends.gcs": {"objstore.backends._gcsfs"},  # gcsfs
    "objstore.backends.azure": {"objstore.backends._adlfs"},  # adlfs
    "objstore.backends.swift": {"objstore.swift"},  # aiohttp
    "objstore.boundary": {"objstore.backends._aws_credentials"},  # botocore
    "objstore.catalog.xarray_backend": {"objstore.cube"},  # loaded when xarray lists engines
    "objstore.cache": {"objstore.obstore_engine"},  # obstore
    "objstore.cube": {"objstore.cube_open", "objstore.cube_write"},  # xarray, zarr
    "objstore.doctor": {"objstore.cube_open"},  # xarray, zarr
    "objstore.public": {"objstore.swift"},  # aiohttp
    "objstore.publish": {"objstore.catalog.update", "objstore.publish_stream"},  # pystac; zarr
    "objstore.serve.app": {"objstore.views"},  # matplotlib (the views extra)
    "objstore.views": {"objstore.views.landing", "objstore.views.routes"},  # matplotlib
}


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    return ".".join(parts[:-1] if is_package else parts), is_package


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> set[str]:
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name.startswith("objstore")}
    base = node.module or ""
    if node.level:
        here = module.split(".") if is_package else module.split(".")[:-1]
        here = here[: len(here) - (node.level - 1)]
        base = ".".join([*here, base] if base else here)
    if not base.startswith("objstore"):
        return set()
    found = set()
    for alias in node.names:  # ``from . import x``: x may be a module
        candidate = f"{base}.{alias.name}"
        spec_path = ROOT / Path(*candidate.split("."))
        found.add(candidate if spec_path.with_suffix(".py").exists() or spec_path.is_dir()
                  else base)
    return found


def deferred_imports() -> dict[str, set[str]]:
    """objstore modules imported inside functions, by importing module."""
    out: dict[str, set[str]] = {}
    for path in sorted((ROOT / "objstore").rglob("*.py")):
        module, is_package = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(func):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    found = _imported(node, module, is_package) - {module}
                    if found:
                        out.setdefault(module, set()).update(found)
    return out


def test_imports_inside_functions_only_defer_heavy_packages():
    extra = {
        module: sorted(imported - DEFERRED.get(module, set()))
        for module, imported in deferred_imports().items()
        if not module.startswith("objstore.cli") and imported - DEFERRED.get(module, set())
    }
    assert extra == {}, "move these imports to the top of their module (docs/architecture.md)"


def test_the_swift_env_table_loads_without_the_swift_filesystem():
    """The profile registry reads ST_*/OS_* through objstore.swift.env: no aiohttp or fsspec."""
    code = ("import sys, json, objstore.sources.openstack, objstore.swift\n"
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'aiohttp', 'fsspec', 'yarl'})))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
