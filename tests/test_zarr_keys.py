"""zarr's metadata names are spelled in one module (objstore/zarr_keys.py, which takes them from
zarr), and chunk keys come from zarr's own chunk key encodings."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import objstore
from objstore.zarr_keys import (
    META_NAMES,
    ZARR_JSON,
    ZARRAY_JSON,
    chunk_keys,
    is_meta,
    key_encoding,
)

PACKAGE = Path(objstore.__file__).parent
OWNER = PACKAGE / "zarr_keys.py"
#: transfer.py copies any tree (cp, ls, rm) and names zarr's commit objects itself, so that those
#: commands start without importing zarr (objstore.zarr_keys takes the names from zarr)
PENDING = {"transfer.py"}


def _spellings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and node.value in META_NAMES]


def test_no_module_but_zarr_keys_spells_a_metadata_name():
    found = {str(p.relative_to(PACKAGE)): hits for p in sorted(PACKAGE.rglob("*.py"))
             if p != OWNER and str(p.relative_to(PACKAGE)) not in PENDING
             and (hits := _spellings(p))}
    assert not found, f"use objstore.zarr_keys instead of spelling these names: {found}"


def test_the_pending_modules_still_exist():
    """(so that the list above shrinks when they switch, rather than going stale)"""
    assert all((PACKAGE / name).is_file() for name in PENDING)


@pytest.mark.parametrize(("meta", "fmt", "expected"), [
    ({}, 2, ["v/0.0", "v/0.1", "v/1.0", "v/1.1"]),
    ({"dimension_separator": "/"}, 2, ["v/0/0", "v/0/1", "v/1/0", "v/1/1"]),
    ({}, 3, ["v/c/0/0", "v/c/0/1", "v/c/1/0", "v/c/1/1"]),
    ({"chunk_key_encoding": {"name": "default", "configuration": {"separator": "."}}}, 3,
     ["v/c.0.0", "v/c.0.1", "v/c.1.0", "v/c.1.1"]),
    ({"chunk_key_encoding": {"name": "v2", "configuration": {"separator": "."}}}, 3,
     ["v/0.0", "v/0.1", "v/1.0", "v/1.1"]),
])
def test_chunk_keys_are_what_zarr_writes(meta, fmt, expected):
    assert chunk_keys("v", (4, 3), (2, 2), key_encoding(meta, fmt)) == expected


def test_what_zarr_itself_writes(tmp_path):
    """The keys listed for an array are the chunk files zarr writes for it, in both formats."""
    import json

    import numpy as np
    import zarr

    for fmt, doc in ((2, ZARRAY_JSON), (3, ZARR_JSON)):
        root = tmp_path / f"f{fmt}"
        a = zarr.create_array(str(root), shape=(4, 3), chunks=(2, 2), dtype="f4",
                              zarr_format=fmt)  # type: ignore[arg-type]
        a[:] = np.ones((4, 3), "f4")
        meta = json.loads((root / doc).read_text())
        written = sorted(str(p.relative_to(root)) for p in root.rglob("*")
                         if p.is_file() and not is_meta(p.name))
        assert sorted(chunk_keys("", (4, 3), (2, 2), key_encoding(meta, fmt))) == written
