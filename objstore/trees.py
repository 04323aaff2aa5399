"""Trees of objects: ``{relative key: Item}`` from a local folder (:func:`scan_local`) or from one
listing of a remote prefix (:func:`list_tree`, a single ``fs.find``), with each object's size and
MD5 where the backend reports one. What copies (:mod:`objstore.transfer`), resumed writes and the
local chunk cache compare.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .backends.checksums import any_md5

if TYPE_CHECKING:
    from .api import Resolved

__all__ = ["Item", "scan_local", "list_tree", "remote_md5"]


@dataclass
class Item:
    """One object of a tree: where its bytes are (local ``path``, ``data`` in memory, or ``remote``
    path in the source filesystem), its size, and its MD5 (hex) when known."""

    rel: str
    size: int
    path: str | None = None
    data: bytes | None = field(default=None, repr=False)
    remote: str | None = None
    md5: str | None = None
    info: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)

    def checksum(self) -> str | None:
        """The MD5 hex digest: known, or computed from ``data`` or the local file."""
        if self.md5 is None:
            if self.data is not None:
                self.md5 = hashlib.md5(self.data).hexdigest()
            elif self.path is not None:
                self.md5 = _md5_file(self.path)
        return self.md5


def _md5_file(path: str) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(4 * 2**20):
            h.update(block)
    return h.hexdigest()


def scan_local(root: str | os.PathLike[str]) -> dict[str, Item]:
    """Every file under ``root`` (a folder) keyed by its ``/``-separated relative path; a single
    file gives ``{name: Item}``. Raises ``FileNotFoundError`` if ``root`` does not exist."""
    base = Path(root)
    if base.is_file():
        return {base.name: Item(base.name, base.stat().st_size, path=str(base))}
    if not base.is_dir():
        raise FileNotFoundError(2, f"no such file or folder: {base}", str(base))
    out: dict[str, Item] = {}
    for folder, dirs, files in os.walk(base):
        dirs.sort()
        for name in sorted(files):
            p = os.path.join(folder, name)
            rel = os.path.relpath(p, base).replace(os.sep, "/")
            out[rel] = Item(rel, os.path.getsize(p), path=p)
    return out


def remote_md5(info: Mapping[str, Any]) -> str | None:
    """The object's content MD5 (hex) from a listing or ``info`` entry of any backend, if it
    gives one (each Backend's ``md5`` reads only its own field: ``backends/checksums.py``)."""
    return any_md5(info)


def _rel(name: str, base: str) -> str | None:
    name = str(name).rstrip("/")
    base = base.rstrip("/")
    if not base:
        return name
    if name == base:
        return ""
    return name[len(base) + 1:] if name.startswith(base + "/") else None


def list_tree(r: Resolved, base: str | None = None) -> dict[str, Item]:
    """Every object under ``base`` (default ``r.path``), from one recursive listing.

    Keys are relative to ``base``; an object *at* ``base`` itself (a single file) has key ``""``.
    A missing prefix is an empty tree. Listing caches are dropped first, so this is what the
    server says now.
    """
    base = (r.path if base is None else base).rstrip("/")
    if r.backend.on_disk:
        try:
            items = scan_local(base)
        except FileNotFoundError:
            return {}
        if Path(base).is_file():
            (item,) = items.values()
            return {"": replace(item, rel="")}
        return items
    fs = r.fs
    fs.invalidate_cache()
    try:
        found = fs.find(base, detail=True)
    except (FileNotFoundError, NotADirectoryError):
        found = {}
    if not isinstance(found, Mapping):  # adlfs answers [] for a missing path, even with detail
        found = {e["name"]: e for e in found if isinstance(e, Mapping)}
    out: dict[str, Item] = {}
    for name, info in found.items():
        if info.get("type", "file") == "directory":
            continue
        rel = _rel(str(name), base)
        if rel is None or (rel and rel.endswith("/")):
            continue
        out[rel] = Item(rel, int(info.get("size") or 0), remote=str(name).rstrip("/"),
                        md5=r.backend.md5(info), info=info)
    if not out and base and "/" in base and not r.backend.find_lists_single_object:
        # a single object: find() may not list it
        try:
            info = fs.info(base)
        except (FileNotFoundError, NotADirectoryError):
            info = None
        if info and info.get("type", "file") == "file":
            out[""] = Item("", int(info.get("size") or 0), remote=base, md5=r.backend.md5(info),
                           info=info)
    return out
