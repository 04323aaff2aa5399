"""No module outside a backend branches on the protocol: workflows ask ``r.backend``.

Per-backend knowledge lives in objstore/backends/ (one Backend object per backend) and in
objstore/swift/ (the Swift library itself). Anywhere else, ``backend == "s3"`` or
``protocol in ("file", "memory")`` is a new dispatch site that the next backend would miss.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "objstore"
ALLOWED = ("backends", "swift")  # packages under objstore/ that may name backends
NAMES = {"backend", "protocol"}
OPS = (ast.Eq, ast.NotEq, ast.In, ast.NotIn)


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


def dispatch_sites(source: str, filename: str) -> list[str]:
    """``file:line`` of every comparison of a backend/protocol name with a string literal."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
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
    return found


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
