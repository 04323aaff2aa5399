"""No module outside a backend branches on the protocol: workflows ask ``r.backend``.

Per-backend knowledge lives in objstore/backends/ (one Backend object per backend) and in
objstore/swift/ (the Swift library itself). Anywhere else, ``backend == "s3"``,
``protocol in ("file", "memory")`` or a table keyed by backend names (``HINTS.get(backend)``,
``protocol in ONE_LISTING``) is a dispatch site that the next backend would miss.
"""

from __future__ import annotations

import ast
from pathlib import Path

from objstore import backends

ROOT = Path(__file__).resolve().parents[1] / "objstore"
ALLOWED = ("backends", "swift")  # packages under objstore/ that may name backends
NAMES = {"backend", "protocol"}
OPS = (ast.Eq, ast.NotEq, ast.In, ast.NotIn)
#: Backend names, fsspec protocols and URL schemes: the keys of a per-backend table.
WORDS = {w for n in backends.names() for b in [backends.get(n)]
         for w in (b.name, *b.protocols, *b.schemes)}


def _names_a_backend(node: ast.expr) -> bool:
    """``backend``, ``protocol``, ``x.backend``, ``r.url.protocol``, ..."""
    if isinstance(node, ast.Name):
        return node.id in NAMES
    return isinstance(node, ast.Attribute) and node.attr in NAMES


def _is_literal(node: ast.expr) -> bool:
    """A string, or a tuple/list/set holding one."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(_is_literal(e) for e in node.elts)
    return False


def _table_words(node: ast.expr) -> set[str]:
    """The strings of a literal table (dict keys; set, tuple or list items, also inside
    ``frozenset(...)``) when they are all backend words; else empty."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and len(node.args) == 1 \
            and node.func.id in ("frozenset", "set", "tuple", "dict"):
        node = node.args[0]
    elts = node.keys if isinstance(node, ast.Dict) else \
        node.elts if isinstance(node, (ast.Set, ast.Tuple, ast.List)) else []
    words = {e.value for e in elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    return words if elts and len(words) == len(elts) and words <= WORDS else set()


def _tables(tree: ast.Module) -> set[str]:
    """Module-level names bound to a table keyed by backend words."""
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AnnAssign) and node.value else []
        value = getattr(node, "value", None)
        if value is not None and _table_words(value):
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def _lookups(tree: ast.Module) -> list[ast.AST]:
    """``TABLE.get(backend)``, ``TABLE[backend]``, ``backend in TABLE`` for backend tables."""
    tables = _tables(tree)

    def is_table(node: ast.expr) -> bool:
        return (isinstance(node, ast.Name) and node.id in tables) or bool(_table_words(node))

    found: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "get" and node.args and is_table(node.func.value) \
                and _names_a_backend(node.args[0]):
            found.append(node)
        elif isinstance(node, ast.Subscript) and is_table(node.value) \
                and _names_a_backend(node.slice):
            found.append(node)
        elif isinstance(node, ast.Compare) and _names_a_backend(node.left) and any(
                isinstance(op, (ast.In, ast.NotIn)) and isinstance(c, ast.Name) and c.id in tables
                for op, c in zip(node.ops, node.comparators, strict=True)):
            found.append(node)
    return found


def dispatch_sites(source: str, filename: str) -> list[str]:
    """``file:line`` of every comparison of a backend/protocol name with a string literal, and
    of every lookup of one in a table keyed by backend names."""
    tree = ast.parse(source, filename)
    found = [f"{filename}:{n.lineno}: {ast.unparse(n)}" for n in _lookups(tree)]
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        pairs = zip(operands, operands[1:], strict=False)
        for (left, right), op in zip(pairs, node.ops, strict=True):
            if not isinstance(op, OPS):
                continue
            if (_names_a_backend(left) and _is_literal(right)) or (
                    _names_a_backend(right) and _is_literal(left)):
                found.append(f"{filename}:{node.lineno}: {ast.unparse(node)}")
    return sorted(set(found), key=lambda s: int(s.split(":")[1]))


def _modules() -> list[Path]:
    return [p for p in sorted(ROOT.rglob("*.py"))
            if p.relative_to(ROOT).parts[0] not in ALLOWED]


def test_no_module_outside_a_backend_compares_a_protocol_to_a_literal():
    sites = []
    for path in _modules():
        rel = path.relative_to(ROOT.parent)
        sites += dispatch_sites(path.read_text(encoding="utf-8"), str(rel))
    assert not sites, "ask r.backend instead of branching on the protocol:\n" + "\n".join(sites)


def test_the_check_finds_each_form_of_dispatch():
    code = ('if r.url.backend == "s3": pass\n'
            'if protocol in ("gs", "gcs"): pass\n'
            'if "swift" != r.protocol: pass\n'
            'if backend not in {"file"}: pass\n'
            'if r.backend.on_disk and parts.scheme == "https": pass\n')
    assert [s.split(":")[1] for s in dispatch_sites(code, "x.py")] == ["1", "2", "3", "4"]


def test_the_check_finds_tables_keyed_by_backend():
    code = ('HINTS = {"s3": "aws", "gcs": "gcloud"}\n'
            'ONE = frozenset({"az", "swift"})\n'
            'TYPES = {"file": 1, "directory": 2}\n'
            'a = HINTS.get(r.url.backend, "")\n'
            'b = {"s3": 1, "swift": 2}.get(r.url.backend)\n'
            'c = r.protocol in ONE\n'
            'd = HINTS[backend]\n'
            'e = TYPES.get(info.type)\n'
            'f = _PARSERS.get(scheme)\n')
    assert [s.split(":")[1] for s in dispatch_sites(code, "x.py")] == ["4", "5", "6", "7"]
