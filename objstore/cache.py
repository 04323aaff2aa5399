"""A local, size-bounded cache of a cube's chunks, shared by every process of the user.

``open_cube(url, cache=True)`` (or ``cache = true`` / ``cache = "PATH"`` and ``cache_size`` in a
profile) serves chunks already read from a folder on local disk; a second read of the same cube
sends no chunk requests.

* **Never stale.** Each entry is named by a hash of the cube, the chunk's key and the chunk's
  *identity* as the store lists it now: its MD5 where the store reports one (S3 and Swift ETags,
  GCS md5Hash, Azure Content-MD5), else its ETag (Azure changes it on every write), generation
  or modification time, with its size. A cube is listed once per open (one request per 1000
  objects, before the first chunk is read), so a chunk rewritten in place, by any tool, gets a new
  name and is read again; the old entry ages out. Where the listing gives an MD5, a chunk is
  kept only if its bytes have it (a body damaged on the way is never kept).
* **Safe across processes.** Entries are written to a temporary file and renamed into place, so
  a reader sees a whole chunk or none; a chunk evicted while another process reads it stays
  readable to that process (POSIX unlink).
* **Size-bounded.** Least recently used entries (by modification time, refreshed on each hit)
  are deleted once the folder holds more than ``cache_size``; each process re-measures the folder
  after every eighth of ``cache_size`` it writes, so the folder exceeds the limit by at most that
  much per process writing at the same moment.

Whole-chunk reads only (byte-range reads of shards go to the store), and only in the process that
opened the cube: copies of the store sent to ``dask.distributed`` workers read the store directly.
The folder holds cube data in the clear (made with mode 0700 when the cache creates it); its file
names are hashes, with no URL or secret in them; eviction deletes only such entries, never other
files in a folder given.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import threading
import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, scrub
from .trees import list_tree

if TYPE_CHECKING:
    from .api import Resolved

__all__ = ["ChunkCache", "DEFAULT_CACHE_SIZE", "cache_for", "default_cache_dir"]

#: The limit when neither ``open_cube`` nor the profile gives a ``cache_size``.
DEFAULT_CACHE_SIZE = 10 * 2**30


def default_cache_dir() -> Path:
    """Where ``cache=True`` keeps chunks: ``chunks/`` in the user cache folder."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("objstore")) / "chunks"


def _size(value: Any) -> int:
    from dask.utils import parse_bytes

    try:
        size = int(parse_bytes(value)) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        size = -1
    if size <= 0:
        raise ConfigError(f"cache_size {value!r} is not a size: give bytes or a text such as "
                          "'20GB'")
    return size


def cache_for(r: Resolved, cache: bool | str | os.PathLike[str] | None = None,
              cache_size: int | str | None = None, store: Any = None) -> ChunkCache | None:
    """The chunk cache for a cube read through ``r``: ``cache`` (``open_cube``'s argument) if
    given, else the profile's ``cache``; True means :func:`default_cache_dir`. None: no cache.
    ``store``: the zarr store the cube is read through (an obstore one is listed by obstore)."""
    setting = cache if cache is not None else getattr(r.profile, "cache", None)
    if setting is None or setting is False or r.backend.is_local:  # nothing to save there
        return None
    folder = default_cache_dir() if setting is True else Path(os.fspath(setting)).expanduser()
    size = cache_size if cache_size is not None else getattr(r.profile, "cache_size", None)
    limit = _size(size) if size is not None else DEFAULT_CACHE_SIZE
    endpoint = getattr(r.profile, "endpoint", "") or ""
    return ChunkCache(folder, f"{r.protocol}\0{endpoint}\0{r.path}", limit, r, store)


def identity(info: Mapping[str, Any] | None, md5: str | None = None) -> str | None:
    """What changes when an object is rewritten: its MD5, else ETag, generation or modification
    time, with its size (None: the listing says nothing usable)."""
    if md5:  # content: a rewrite with the same bytes keeps its entry
        return f"md5={md5}|{(info or {}).get('size')}"
    if not info:
        return None
    low = {str(k).lower(): v for k, v in info.items()}
    size = low.get("size")
    for name in ("generation", "etag", "e_tag", "versionid", "version", "last_modified",
                 "lastmodified", "mtime", "updated"):
        if low.get(name):
            return f"{name}={low[name]}|{size}"
    return None


class ChunkCache:
    """The chunk cache of one opened cube (see the module docstring)."""

    def __init__(self, folder: Path, cube: str, max_size: int, r: Resolved,
                 store: Any = None) -> None:
        self.folder = folder
        self.max_size = max_size
        self._cube = hashlib.sha256(cube.encode()).hexdigest()
        self._resolved = r
        self._store = store
        self._index: dict[str, str] | None = None  # key -> identity, from one listing
        self._listing: asyncio.Lock | None = None
        self._written = max_size // 8  # bytes put since the folder was measured (first put: now)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __getstate__(self) -> dict[str, Any]:
        return {"off": True}  # dask workers read the store directly

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return f"ChunkCache({str(self.folder)!r}, max_size={self.max_size})"

    async def fetch(self, key: str, fetch: Callable[[], Awaitable[Any]], to_buffer: Callable[
            [bytes], Any]) -> Any:
        """The chunk ``key``: from the folder if it holds this version of it, else ``fetch()``
        (a zarr Buffer or None), kept for the next read."""
        if getattr(self, "off", False):
            return await fetch()
        index = await self._known()
        ident = index.get(key)
        if ident is None:  # not listed (absent, or written since): no safe name for it
            return await fetch()
        path = self._path(key, ident)
        try:
            data = path.read_bytes()
        except OSError:
            data = None
        if data is not None:
            self.hits += 1
            try:
                os.utime(path)
            except OSError:
                pass
            return to_buffer(data)
        self.misses += 1
        value = await fetch()
        if value is not None:
            data = value.to_bytes()
            if _intact(data, ident):
                self._put(path, data)
        return value

    def _path(self, key: str, ident: str) -> Path:
        h = hashlib.sha256(f"{self._cube}\0{key}\0{ident}".encode()).hexdigest()
        return self.folder / h[:2] / h

    async def _known(self) -> dict[str, str]:
        if self._index is None:
            if self._listing is None:
                self._listing = asyncio.Lock()
            async with self._listing:
                if self._index is None:
                    try:
                        self._index = await self._list_obstore() if _is_obstore(self._store) \
                            else await asyncio.to_thread(self._list)
                    except Exception as exc:  # noqa: BLE001 - the cache never fails a read
                        import warnings

                        warnings.warn(f"the chunk cache is off for this cube: listing it "
                                      f"failed ({scrub(str(exc))[:200]}); reading from the "
                                      "store", stacklevel=2)
                        self._index = {}
        return self._index

    async def _list_obstore(self) -> dict[str, str]:
        import obstore

        from .obstore_engine import translated_errors

        with translated_errors():
            metas = await obstore.list(self._store.store, chunk_size=1000).collect_async()
        return {m["path"]: ident for m in metas if (ident := identity(m))}

    def _list(self) -> dict[str, str]:
        """Every object of the cube and its identity, from one recursive listing."""
        out = {}
        for key, item in list_tree(self._resolved).items():
            ident = identity(item.info, item.md5)
            if key and ident:
                out[key] = ident
        return out

    def _put(self, path: Path, data: bytes) -> None:
        if len(data) > self.max_size:
            return
        try:
            if not self.folder.is_dir():  # made here: private (a folder given is left as it is)
                self.folder.mkdir(parents=True, mode=0o700)
            path.parent.mkdir(exist_ok=True, mode=0o700)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError:
            return  # a full or read-only disk costs the cache, never the read
        with self._lock:
            self._written += len(data)
            due = self._written >= self.max_size // 8
            if due:
                self._written = 0
        if due:
            evict(self.folder, self.max_size)


def _intact(data: bytes, ident: str) -> bool:
    """False if the listing gave an MD5 and ``data`` does not have it: a damaged body (or an
    ETag that is no MD5, as with S3's KMS encryption) is served once, never kept."""
    if not ident.startswith("md5="):
        return True
    return hashlib.md5(data, usedforsecurity=False).hexdigest() == ident[4:].split("|", 1)[0]


def _is_obstore(store: Any) -> bool:
    from zarr.storage import ObjectStore

    return isinstance(store, ObjectStore)


#: What the cache writes, and all that eviction ever deletes: ``ab/<sha256 hex>`` entries and
#: their ``.<sha256 hex>.<pid>.<hex>`` temporaries (anything else in the folder is left alone).
_SUBDIR = re.compile(r"^[0-9a-f]{2}$")
_ENTRY = re.compile(r"^\.?[0-9a-f]{64}(\.\d+\.[0-9a-f]{8})?$")


def evict(folder: Path, max_size: int) -> int:
    """Delete the least recently used entries until ``folder`` holds at most 7/8 of
    ``max_size``; returns the bytes its entries now hold."""
    entries = []
    total = 0
    for sub in os.scandir(folder) if folder.is_dir() else ():
        if not (_SUBDIR.match(sub.name) and sub.is_dir(follow_symlinks=False)):
            continue
        for e in os.scandir(sub.path):
            if not (_ENTRY.match(e.name) and e.is_file(follow_symlinks=False)):
                continue
            try:
                st = e.stat()
            except OSError:
                continue
            entries.append((st.st_mtime, st.st_size, e.path))
            total += st.st_size
    if total <= max_size:
        return total
    target = max_size - max_size // 8
    for _, size, path in sorted(entries):
        if total <= target:
            break
        try:
            os.unlink(path)
            total -= size
        except OSError:
            pass
    return total
