"""Concurrent, resumable, verified copies of object trees: the engine under ``publish`` and ``cp``.

A tree is a ``{relative key: Item}`` dict. Items come from a local folder (:func:`scan_local`), from
one listing of a remote prefix (:func:`list_tree`, a single ``fs.find``), or from memory (``data``).
:func:`plan` compares a source tree with what is already at the destination (size, then MD5 where
both sides know it) and :func:`send` copies what is missing or differs, with up to ``concurrency``
requests in flight (default 64, or the profile's ``max_concurrency``):

* async filesystems (s3fs, gcsfs, adlfs, Swift): coroutines on the filesystem's own event loop
  (``fs._pipe_file``; files above :data:`LARGE` stream through ``fs._put_file``, multipart);
* sync filesystems (local, memory): a thread pool.

:func:`verify` lists the destination again and checks object count, sizes, and MD5 checksums where
the backend reports them (:func:`remote_md5`: S3 ETag, GCS md5Hash, Azure Content-MD5, Swift hash).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .backends.checksums import any_md5
from .errors import (
    BucketNotFoundError,
    CubeNotFoundError,
    ObjstoreError,
    VerificationError,
)
from .perf import DEFAULT_MAX_CONCURRENCY
from .retry import Attempts, RetryPolicy, is_transient

if TYPE_CHECKING:
    from .api import Resolved
    from .profiles import Profile

__all__ = [
    "DEFAULT_CONCURRENCY",
    "LARGE",
    "Item",
    "Plan",
    "SendStats",
    "Mismatch",
    "VerifyReport",
    "VerificationError",
    "CopyResult",
    "scan_local",
    "list_tree",
    "remote_md5",
    "plan",
    "send",
    "verify",
    "delete",
    "copy",
    "remove",
    "concurrency_for",
    "human_bytes",
]

DEFAULT_CONCURRENCY = DEFAULT_MAX_CONCURRENCY  # one default for every path (perf.py)
LARGE = 64 * 2**20  # above this, files stream through the filesystem's own (multipart) upload
MEMORY_BUDGET = 512 * 2**20  # bytes of object bodies held in memory at once
#: Retries of a whole object whose request the library gave up on (a body cut short, a reset
#: while streaming); each request is already retried by the backend's library (objstore.retry).
OBJECT_RETRIES = 2

Progress = Callable[[int, int], None]  # (objects done, bytes done), as increments


# ---------------------------------------------------------------------------------------- trees
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


# ---------------------------------------------------------------------------------------- plans
def same(src: Item, dst: Item) -> bool:
    """Same size, and the same MD5 where the destination reports one (local files: computed)."""
    if src.size != dst.size:
        return False
    if dst.md5 is None and dst.path is None and dst.data is None:
        return True  # the store reports no checksum: the size has to do
    if dst.checksum() is None:
        return True
    theirs = src.checksum()
    return theirs is None or theirs == dst.md5


@dataclass
class Plan:
    """What to copy, what is already there (identical), and what the destination has besides."""

    copy: list[Item]
    skip: list[Item]
    extra: list[Item]

    @property
    def copy_bytes(self) -> int:
        return sum(i.size for i in self.copy)

    @property
    def skip_bytes(self) -> int:
        return sum(i.size for i in self.skip)


def plan(src: Mapping[str, Item], dst: Mapping[str, Item]) -> Plan:
    """Compare ``src`` with the destination's tree ``dst`` (both keyed by relative path)."""
    copy: list[Item] = []
    skip: list[Item] = []
    for rel, item in src.items():
        there = dst.get(rel)
        (skip if there is not None and same(item, there) else copy).append(item)
    extra = [v for k, v in dst.items() if k not in src]
    return Plan(copy, skip, extra)


# ---------------------------------------------------------------------------------------- sending
@dataclass
class SendStats:
    objects: int = 0
    bytes: int = 0
    seconds: float = 0.0
    retries: int = 0


def concurrency_for(r: Resolved, requested: int | None = None) -> int:
    """Requests in flight: ``requested``, else the profile's ``max_concurrency``, else 64."""
    return max(1, int(requested or r.profile.max_concurrency or DEFAULT_CONCURRENCY))


def _io_fs(r: Resolved, n: int) -> Any:
    """``r.fs``, or the same filesystem with a connection pool of ``n`` (s3fs defaults to 10)."""
    options = r.backend.io_options(dict(r.io_options), n)
    if options == r.io_options:
        return r.fs
    from .api import _make_fs

    return _make_fs(r.protocol, options, asynchronous=False)


def _join(base: str, rel: str) -> str:
    base = base.rstrip("/")
    if not rel:
        return base
    return f"{base}/{rel}" if base else rel


class _SourceFailed(Exception):
    """A read from a copy's source failed (the ``__cause__``): blamed on the source, not the
    destination."""


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, _SourceFailed) and exc.__cause__ is not None:
        return _transient(exc.__cause__)
    return is_transient(exc)


def _object_attempts(rpath: str) -> Attempts:
    return Attempts(RetryPolicy(retries=OBJECT_RETRIES), f"copy to {rpath}")


async def _put_bytes(fs: Any, rpath: str, data: bytes, kwargs: Mapping[str, Any]) -> None:
    """PUT one object's bytes (the one place every small upload goes through)."""
    await fs._pipe_file(rpath, data, **kwargs)


def _read_local(item: Item) -> bytes:
    if item.data is not None:
        return item.data
    assert item.path is not None
    with open(item.path, "rb") as f:
        return f.read()


class _Budget:
    """At most ``limit`` bytes of bodies in memory (a body larger than the limit takes it all)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.free = limit
        self.cond = asyncio.Condition()

    async def take(self, n: int) -> int:
        n = min(n, self.limit)
        async with self.cond:
            await self.cond.wait_for(lambda: self.free >= n)
            self.free -= n
        return n

    async def give(self, n: int) -> None:
        async with self.cond:
            self.free += n
            self.cond.notify_all()


class _Callback:
    """An fsspec callback that reports streamed bytes to a progress function."""

    def __init__(self, progress: Progress | None) -> None:
        from fsspec.callbacks import Callback

        outer = progress

        class _CB(Callback):
            def call(self, *args: Any, **kwargs: Any) -> None:
                pass

            def relative_update(self, inc: int = 1) -> None:
                if outer is not None and inc:
                    outer(0, inc)

            def absolute_update(self, value: int) -> None:
                pass

        self.cb = _CB()


def send(
    items: Iterable[Item], dest: Resolved, base: str | None = None, *,
    source: Resolved | None = None, concurrency: int | None = None,
    progress: Progress | None = None, put_kwargs: Mapping[str, Any] | None = None,
) -> SendStats:
    """Copy ``items`` to ``base`` (default ``dest.path``) under their relative keys.

    Bytes come from each item's ``data``, local ``path``, or ``remote`` path in ``source``'s
    filesystem. ``put_kwargs`` go to every PUT (e.g. ``{"ACL": "public-read"}`` on S3). The first
    error that survives retries stops the copy and is raised.
    """
    todo = list(items)
    base = dest.path if base is None else base
    n = concurrency_for(dest, concurrency)
    stats = SendStats()
    if not todo:
        return stats
    t0 = time.perf_counter()
    fs = _io_fs(dest, n)
    if getattr(fs, "async_impl", False) and hasattr(fs, "_pipe_file") and \
            getattr(fs, "loop", None) is not None:
        from fsspec.asyn import sync

        try:
            sync(fs.loop, _send_async, todo, fs, base, source, n, progress,
                 dict(put_kwargs or {}), stats)
        except BaseExceptionGroup as group:  # the TaskGroup's: raise the first real error
            raise _first_error(group) from None
    else:
        _send_threads(todo, fs, base, source, n, progress, dict(put_kwargs or {}), stats,
                      on_disk=dest.backend.on_disk)
    stats.seconds = time.perf_counter() - t0
    dest.fs.invalidate_cache()  # its listings predate these objects
    return stats


def _first_error(group: BaseExceptionGroup) -> BaseException:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            return _first_error(exc)
        if not isinstance(exc, asyncio.CancelledError):
            return exc
    return group.exceptions[0]


async def _send_async(items: list[Item], fs: Any, base: str, source: Resolved | None, n: int,
                      progress: Progress | None, kwargs: dict[str, Any], stats: SendStats) -> None:
    budget = _Budget(MEMORY_BUDGET)
    queue = iter(items)
    src_fs = source.fs if source is not None else None
    same_loop = src_fs is not None and getattr(src_fs, "async_impl", False) and \
        getattr(src_fs, "loop", None) is getattr(fs, "loop", None)

    async def read(item: Item) -> bytes:
        if item.data is not None or item.path is not None:
            return _read_local(item) if item.size < 4 * 2**20 else \
                await asyncio.to_thread(_read_local, item)
        assert src_fs is not None and item.remote is not None
        try:
            if same_loop:
                return await src_fs._cat_file(item.remote)
            return await asyncio.to_thread(src_fs.cat_file, item.remote)
        except Exception as exc:
            raise _SourceFailed() from exc

    async def one(item: Item) -> None:
        rpath = _join(base, item.rel)
        if item.path is not None and item.data is None and item.size > LARGE:
            cb = _Callback(progress).cb
            await fs._put_file(item.path, rpath, callback=cb, **kwargs)
            if progress:
                progress(1, 0)
            return
        held = await budget.take(item.size)
        try:
            data = await read(item)
            if item.md5 is None and item.remote is None:
                item.md5 = hashlib.md5(data).hexdigest()
            await _put_bytes(fs, rpath, data, kwargs)
        finally:
            await budget.give(held)
        if progress:
            progress(1, len(data))

    async def worker() -> None:
        for item in queue:
            tries = _object_attempts(item.rel)
            while True:
                try:
                    await one(item)
                    break
                except Exception as exc:
                    if not _transient(exc) or not await tries.retry(repr(exc)[:200]):
                        raise
                    stats.retries += 1
            stats.objects += 1
            stats.bytes += item.size

    async with asyncio.TaskGroup() as tg:
        for _ in range(min(n, len(items))):
            tg.create_task(worker())


def _send_threads(items: list[Item], fs: Any, base: str, source: Resolved | None, n: int,
                  progress: Progress | None, kwargs: dict[str, Any], stats: SendStats, *,
                  on_disk: bool = False) -> None:
    lock = threading.Lock()
    stop = threading.Event()

    def one(item: Item) -> None:
        if stop.is_set():
            return
        rpath = _join(base, item.rel)
        tries = _object_attempts(rpath)
        while True:
            try:
                if item.path is not None and item.data is None:
                    if item.md5 is None and item.size <= LARGE:
                        data = _read_local(item)
                        item.md5 = hashlib.md5(data).hexdigest()
                        fs.pipe_file(rpath, data, **kwargs)
                    else:
                        fs.put_file(item.path, rpath, **kwargs)
                elif item.data is not None:
                    fs.pipe_file(rpath, item.data, **kwargs)
                else:
                    assert source is not None and item.remote is not None
                    if on_disk and item.size > LARGE:
                        os.makedirs(os.path.dirname(rpath) or ".", exist_ok=True)
                        source.fs.get_file(item.remote, rpath)  # a local write, a remote read
                    else:
                        try:
                            data = source.fs.cat_file(item.remote)
                        except Exception as exc:
                            raise _SourceFailed() from exc
                        fs.pipe_file(rpath, data, **kwargs)
                break
            except Exception as exc:
                if not _transient(exc) or not tries.retry_sync(repr(exc)[:200]):
                    stop.set()
                    raise
                with lock:
                    stats.retries += 1
        with lock:
            stats.objects += 1
            stats.bytes += item.size
        if progress:
            progress(1, item.size)

    with ThreadPoolExecutor(max_workers=min(n, 32, len(items))) as pool:
        futures = [pool.submit(one, item) for item in items]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for f in pending:
            f.cancel()
        for f in done:
            if f.exception() is not None:
                raise f.exception()  # type: ignore[misc]


def delete(dest: Resolved, paths: Iterable[str]) -> int:
    """Delete these full paths (batched where the backend can); returns how many."""
    todo = sorted(set(paths))
    if not todo:
        return 0
    try:
        dest.fs.rm(todo)
    except FileNotFoundError:
        for p in todo:  # some were gone already: delete the rest one by one
            try:
                dest.fs.rm_file(p)
            except FileNotFoundError:
                pass
    dest.fs.invalidate_cache()
    return len(todo)


# ---------------------------------------------------------------------------------------- verify
def _infos(r: Resolved, paths: list[str]) -> list[Mapping[str, Any] | None]:
    """``info`` of each path (None where missing), concurrently on async filesystems."""
    fs = r.fs
    fs.invalidate_cache()

    def missing(exc: BaseException) -> bool:
        return isinstance(exc, (FileNotFoundError, NotADirectoryError))

    if getattr(fs, "async_impl", False) and getattr(fs, "loop", None) is not None:
        from fsspec.asyn import sync

        async def all_() -> list[Any]:
            return await asyncio.gather(*(fs._info(p) for p in paths), return_exceptions=True)

        out: list[Mapping[str, Any] | None] = []
        for res in sync(fs.loop, all_):
            if isinstance(res, BaseException):
                if not missing(res):
                    raise res
                out.append(None)
            else:
                out.append(res)
        return out
    result: list[Mapping[str, Any] | None] = []
    for p in paths:
        try:
            result.append(fs.info(p))
        except (FileNotFoundError, NotADirectoryError):
            result.append(None)
    return result


@dataclass(frozen=True)
class Mismatch:
    rel: str
    problem: str

    def __str__(self) -> str:
        return f"{self.rel or '(the object)'}: {self.problem}"


@dataclass
class VerifyReport:
    objects: int = 0
    bytes: int = 0
    checksums: int = 0  # objects whose MD5 the backend confirmed
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def describe(self) -> str:
        shown = "; ".join(str(m) for m in self.mismatches[:10])
        more = f" (and {len(self.mismatches) - 10} more)" if len(self.mismatches) > 10 else ""
        return f"{len(self.mismatches)} of {self.objects} objects do not match the source: {shown}{more}"


def verify(expected: Mapping[str, Item], dest: Resolved, base: str | None = None, *,
           listing: Mapping[str, Item] | None = None, allow_extra: bool = True) -> VerifyReport:
    """Check the destination against ``expected``: every object there, sizes equal, and MD5s
    equal where the backend reports one. Objects missing from the listing (a lagging container
    listing) are looked up one by one before they count as missing."""
    base = dest.path if base is None else base
    actual = dict(list_tree(dest, base) if listing is None else listing)
    missing = [rel for rel in expected if rel not in actual]
    if missing and dest.backend.on_disk:
        for rel in missing:
            p = _join(base, rel)
            if os.path.isfile(p):
                actual[rel] = Item(rel, os.path.getsize(p), path=p)
    elif missing and len(missing) <= 256:
        for rel, info in zip(missing, _infos(dest, [_join(base, rel) for rel in missing]),
                             strict=True):
            if info is not None:
                actual[rel] = Item(rel, int(info.get("size") or 0), md5=dest.backend.md5(info),
                                   info=info)
    report = VerifyReport()
    for rel, item in expected.items():
        report.objects += 1
        report.bytes += item.size
        there = actual.get(rel)
        if there is None:
            report.mismatches.append(Mismatch(rel, "missing"))
            continue
        if there.size != item.size:
            report.mismatches.append(Mismatch(rel, f"size {there.size} instead of {item.size}"))
            continue
        theirs = dest.backend.checksum(there)
        if theirs is not None:
            ours = item.checksum()
            if ours is not None and ours != theirs:
                report.mismatches.append(Mismatch(rel, f"MD5 {theirs} instead of {ours}"))
                continue
            if ours is not None:
                report.checksums += 1
    if not allow_extra:
        for rel in sorted(set(actual) - set(expected)):
            report.mismatches.append(Mismatch(rel, "not in the source"))
    return report


# ---------------------------------------------------------------------------------------- cp / rm
@dataclass
class CopyResult:
    source: str
    dest: str
    objects: int
    bytes: int
    copied: int
    copied_bytes: int
    skipped: int
    skipped_bytes: int
    checksums: int
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "dest": self.dest, "objects": self.objects,
                "bytes": self.bytes, "copied": self.copied, "skipped": self.skipped,
                "checksums": self.checksums, "seconds": round(self.seconds, 3)}


def _source_tree(r: Resolved) -> tuple[dict[str, Item], bool]:
    """(items, is_single_file) for a copy source."""
    if r.backend.on_disk:
        p = Path(r.path)
        if not p.exists():
            raise CubeNotFoundError(f"nothing at {r.url.url}")
        return scan_local(p), p.is_file()
    items = list_tree(r)
    if not items:
        from .buckets import bucket_missing

        if bucket_missing(r):
            raise BucketNotFoundError(
                f"nothing to copy: the {r.backend.bucket_word} {r.url.bucket!r} of {r.url.url} "
                f"does not exist (profile {r.profile.name!r}, from {r.profile.source})")
        raise CubeNotFoundError(f"nothing at {r.url.url} (profile {r.profile.name!r})")
    if set(items) == {""}:
        return {r.path.rstrip("/").rsplit("/", 1)[-1]: replace(items[""])}, True
    return items, False


_ZARR_META = frozenset({".zarray", ".zattrs", ".zgroup", ".zmetadata", "zarr.json"})


def _name(rel: str) -> str:
    return rel.rsplit("/", 1)[-1]


def _commit(rel: str, roots: Iterable[str]) -> bool:
    """A cube's commit point: its consolidated metadata (``.zmetadata``, or format 3's root
    ``zarr.json``)."""
    parent = rel.rpartition("/")[0]
    return _name(rel) == ".zmetadata" or (_name(rel) == "zarr.json" and parent in roots)


def _cube_roots(items: Mapping[str, Item]) -> list[str]:
    """The folders (relative, "" for the top) holding a cube's consolidated metadata."""
    roots = {rel.rpartition("/")[0] for rel in items if _name(rel) == ".zmetadata"}
    v3 = {rel.rpartition("/")[0] for rel in items if _name(rel) == "zarr.json"}
    roots |= {r for r in v3 if not any(r != o and r.startswith(f"{o}/" if o else "")
                                       for o in v3)}
    return sorted(roots)


def _zarr_phases(todo: list[Item], roots: list[str]) -> list[list[Item]]:
    """Chunks, then array and group metadata, then the commit points: interrupted anywhere, a
    copied cube never looks complete."""
    chunks = [i for i in todo if _name(i.rel) not in _ZARR_META]
    commits = [i for i in todo if _commit(i.rel, roots)]
    meta = [i for i in todo if _name(i.rel) in _ZARR_META and not _commit(i.rel, roots)]
    return [phase for phase in (chunks, meta, commits) if phase]


def _mark_cubes(d: Resolved, base: str, roots: list[str], there: Mapping[str, Item],
                p: Plan) -> list[str]:
    """Before a cube's objects change: the write marker in each cube folder (an interrupted copy
    is refused by open_cube and resumed by the same cp), and the commit points already there
    deleted first (they are sent again last). Returns the markers' paths, removed once the copy is verified."""
    from .write_marker import MARKER, new_marker

    if not p.copy:
        return []
    mark = new_marker("", writer="objstore.cp")
    marks = [Item(f"{r}/{MARKER}" if r else MARKER, len(mark), data=mark) for r in roots]
    send(marks, d, base, concurrency=len(marks))
    changing = {r for r in roots for i in p.copy if not r or i.rel.startswith(f"{r}/")}
    stale = [i for i in p.skip if _commit(i.rel, roots) and i.rel.rpartition("/")[0] in changing]
    p.skip = [i for i in p.skip if i not in stale]
    p.copy += stale  # an identical commit point goes too, and comes back last
    old = [_join(base, i.rel) for i in p.copy if i.rel in there and _commit(i.rel, roots)]
    if old:
        delete(d, old)
    return [_join(base, m.rel) for m in marks]


def copy(
    src: str | os.PathLike[str], dest: str | os.PathLike[str], profile: str | Profile | None = None,
    *, src_profile: str | Profile | None = None, concurrency: int | None = None,
    progress: Progress | None = None, on_plan: Callable[[Plan], None] | None = None,
    force: bool = False,
) -> CopyResult:
    """Copy a file or a tree between local folders and object stores, resumably.

    A folder or prefix ``src`` is copied *into* ``dest`` (``dest/<relative key>``), a single file
    to ``dest`` itself (or ``dest/<name>`` when ``dest`` ends with ``/`` or is a local folder).
    Objects already at the destination with the same size and MD5 are skipped, so re-running an
    interrupted copy sends only what is missing. Everything copied is verified afterwards.
    """
    from .api import resolve
    from .boundary import mapped_errors, translated
    from .buckets import require_bucket
    from .scratch import check_write_allowed

    t0 = time.perf_counter()
    remote = lambda u: "://" in str(u) and not str(u).startswith("file://")  # noqa: E731
    s = resolve(src, src_profile if src_profile is not None else (profile if remote(src) else None))
    d = resolve(dest, profile if remote(dest) else None)
    check_write_allowed(d.url, force=force)
    with mapped_errors(s, "source"):
        items, single = _source_tree(s)
    with mapped_errors(d, "destination"):
        require_bucket(d)
    base = d.path
    if single:
        (name, item), = items.items()
        dest_is_dir = str(dest).endswith("/") or (d.backend.on_disk and Path(d.path).is_dir())
        if dest_is_dir:
            base = d.path.rstrip("/")
        else:
            base, _, name = d.path.rstrip("/").rpartition("/")
        items = {name: replace(item, rel=name)}
    with mapped_errors(d, "destination"):
        there = list_tree(d, base) if not single else {
            k: v for k, v in list_tree(d, base).items() if k in items}
        p = plan(items, there)
        roots = [] if single else _cube_roots(items)
        marked = _mark_cubes(d, base, roots, there, p) if roots else []
        if on_plan:
            on_plan(p)
        n = concurrency or (s.profile.max_concurrency if d.backend.on_disk else None)
        try:
            for phase in _zarr_phases(p.copy, roots) if roots else [p.copy]:
                send(phase, d, base, source=s, concurrency=n, progress=progress)
        except _SourceFailed as exc:
            cause = exc.__cause__ or exc
            raise translated(cause, s, "source") from None
        report = verify(items, d, base)
    if not report.ok:
        raise VerificationError(f"copy to {d.url.url} failed verification: {report.describe()}",
                                report)
    if marked:
        with mapped_errors(d, "destination"):
            delete(d, marked)
    return CopyResult(str(src), str(dest), len(items), sum(i.size for i in items.values()),
                      len(p.copy), p.copy_bytes, len(p.skip), p.skip_bytes, report.checksums,
                      time.perf_counter() - t0)


def remove(url: str | os.PathLike[str], profile: str | Profile | None = None, *,
           recursive: bool = False, confirm: Callable[[list[Item]], bool] | None = None,
           force: bool = False) -> list[Item]:
    """Delete the object at ``url`` or, with ``recursive=True``, everything under it.

    ``confirm(items)`` is asked first (return False to delete nothing). Returns what was deleted.
    """
    from .api import resolve
    from .boundary import mapped_errors
    from .scratch import check_write_allowed

    r = resolve(url, profile)
    check_write_allowed(r.url, force=force)
    with mapped_errors(r):
        tree = list_tree(r)
        if not tree:
            raise CubeNotFoundError(f"nothing at {r.url.url} (profile {r.profile.name!r})")
        if set(tree) != {""} and not recursive:
            raise ObjstoreError(
                f"{r.url.url} holds {len(tree)} objects ({human_bytes(sum(i.size for i in tree.values()))}): "
                "pass --recursive (recursive=True) to delete them all")
        items = sorted(tree.values(), key=lambda i: i.rel)
        if confirm is not None and not confirm(items):
            return []
        if r.backend.on_disk:
            import shutil

            if Path(r.path).is_dir():
                shutil.rmtree(r.path)
            else:
                os.remove(r.path)
        else:
            delete(r, [i.remote or _join(r.path, i.rel) for i in items])
    return items


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"
