"""CubeStore: the zarr store objstore reads and writes cubes through (see cube_open / cube_write).

``CubeStore`` wraps any zarr 3 store (``FsspecStore`` over s3fs/gcsfs/adlfs/Swift, ``LocalStore``,
obstore's ``ObjectStore``) and adds what a high-latency object store needs:

* **No HEAD before a GET.** s3fs sends a HEAD before every whole-object GET when its own
  ``max_concurrency`` is above 1 (to decide on a multi-part download); zarr chunks never need
  that, so whole-object reads go straight to ``_cat_file(path, max_concurrency=1)``.
* **Concurrency.** zarr's per-call limit (``async.concurrency``) is raised to the profile's
  ``max_concurrency`` wherever the store is used (in dask workers too).
* **Prefetched metadata** (:func:`open_dataset`): the consolidated metadata and every index
  coordinate's chunks are fetched in two concurrent round trips and served from memory, so zarr's
  format probing and xarray's one-by-one coordinate reads cost no requests.
* **Metadata written once** (:func:`write_dataset`): while xarray writes, metadata objects are kept
  in memory, then written once each, concurrently; the consolidated metadata is built in memory and
  written last.
* **The write marker** (:mod:`objstore.write_marker`) is invisible to zarr: never listed, never
  deleted with the cube it guards; replacing a cube deletes its consolidated metadata first.
* **Suffix ranges everywhere** (zarr reads a shard's index with one): where Azure Blob has none
  (adlfs), the size and an ordinary range; where a server ignores it, the tail of the answer.
* **Reads bounded by bytes** (:meth:`CubeStore.bound_read_memory`): big chunks in flight stay a
  fraction of what a ``.load()`` returns.

Cube code drives it through its public interface only: :meth:`~CubeStore.prime` and
:meth:`~CubeStore.read` (opening), :meth:`~CubeStore.buffered`, :attr:`~CubeStore.pending`,
:meth:`~CubeStore.flush`, ``background_bytes`` and :meth:`~CubeStore.resume_from` (writing), and
the marker's methods. zarr's own ``StoreTests`` run on it over every backend
(tests/test_store_conformance.py).
"""

from __future__ import annotations

import asyncio
import builtins
import inspect
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    contextmanager,
    nullcontext,
)
from typing import TYPE_CHECKING, Any

from zarr.abc.store import ByteRequest, OffsetByteRequest, RangeByteRequest, SuffixByteRequest
from zarr.core.buffer import Buffer, BufferPrototype, default_buffer_prototype
from zarr.storage import FsspecStore, LocalStore, ObjectStore
from zarr.storage._common import _dereference_path
from zarr.storage._wrapper import WrapperStore

from . import perf
from .obstore_engine import translated_errors
from .write_marker import MARKER
from .zarr_keys import COMMIT_NAMES, is_meta

if TYPE_CHECKING:
    from zarr.abc.store import Store


__all__ = ["CubeStore"]


def _slice(data: bytes | Buffer | None, prototype: BufferPrototype,
           byte_range: ByteRequest | None) -> Buffer | None:
    if data is None:
        return None
    if isinstance(data, Buffer):  # a chunk queued for sending
        data = data.to_bytes()
    if byte_range is None:
        part = data
    elif isinstance(byte_range, RangeByteRequest):
        part = data[byte_range.start:byte_range.end]
    elif isinstance(byte_range, OffsetByteRequest):
        part = data[byte_range.offset:]
    elif isinstance(byte_range, SuffixByteRequest):
        part = data[-byte_range.suffix:] if byte_range.suffix else b""
    else:
        raise ValueError(f"Unexpected byte_range, got {byte_range}.")
    return prototype.buffer.from_bytes(part)


def _body(value: Buffer, takes_buffers: bool) -> Any:
    """``value`` as an fsspec ``_pipe_file`` body, copied only where it must be: the ``bytes``
    object it wraps (a compressed chunk), a memoryview of it for a filesystem that declares
    ``pipe_takes_buffers`` (objstore's Swift), else one copy as bytes."""
    arr = value.as_numpy_array()
    if isinstance(arr.base, bytes) and len(arr.base) == arr.nbytes:
        return arr.base
    if takes_buffers and arr.flags.c_contiguous:
        return memoryview(arr).cast("B")
    return value.to_bytes()


def _md5_of_file(path: str) -> str:
    import hashlib

    with open(path, "rb") as f:
        return hashlib.file_digest(f, "md5").hexdigest()


def _cat_kwargs(fs: Any) -> dict[str, Any]:
    """Keyword arguments that make ``fs._cat_file`` a single GET (s3fs: no HEAD first)."""
    try:
        params = inspect.signature(fs._cat_file).parameters
    except (TypeError, ValueError, AttributeError):
        return {}
    return {"max_concurrency": 1} if "max_concurrency" in params else {}


def _fs_identity(fs: Any) -> tuple[Any, ...]:
    """What makes two fsspec filesystems the same: their class and options. (fsspec's own
    equality compares instance tokens, which differ between a filesystem made with
    ``skip_instance_cache`` and its unpickled copy.)"""
    inner = getattr(fs, "sync_fs", None)  # AsyncFileSystemWrapper around a sync filesystem
    if inner is not None:
        return (type(fs), _fs_identity(inner))
    options = {k: v for k, v in fs.storage_options.items() if k != "skip_instance_cache"}
    return (type(fs), sorted(options.items(), key=lambda kv: kv[0]))


#: The most bytes of chunks a store opened by open_cube reads at once (bound_read_memory): enough
#: requests in flight to hide latency for small chunks, few enough that big chunks in flight stay
#: a fraction of what a ``.load()`` returns.
READ_BYTES_IN_FLIGHT = 32 * 2**20


class CubeStore(WrapperStore["Store"]):
    """A zarr store wrapper for high-latency object stores (see the module docstring).

    ``cache_metadata=True`` (set by :func:`open_dataset` / :func:`write_dataset`, whose stores live
    as long as one dataset) keeps metadata objects in memory once read; a plain
    ``objstore.store(url)`` never caches, so it always sees other writers' changes.
    """

    local_cache: Any = None  # an objstore.cache.ChunkCache, set by open_dataset

    def __init__(self, store: Store, *, max_concurrency: int | None = None,
                 cache_metadata: bool = False) -> None:
        super().__init__(store)
        self.max_concurrency = int(max_concurrency or perf.DEFAULT_MAX_CONCURRENCY)
        self.cache_metadata = cache_metadata
        # maps failures of reads (in .load() too) to objstore errors naming URL and profile
        self.errors: Callable[[], AbstractContextManager[None]] | None = None
        self._reset_state()

    def _reset_state(self) -> None:
        # key -> bytes (present) or None (known absent); exact answers, served without a request
        self._cache: dict[str, bytes | None] = {}
        # metadata keys missing from _cache are absent (set after reading consolidated metadata,
        # or while writing a fresh cube)
        self._authoritative = False
        self._buffering = False  # metadata writes go to _dirty until flush()
        self._dirty: OrderedDict[str, bytes] = OrderedDict()
        #: while > 0 (and buffering), chunk writes return at once and go out in the background,
        #: at most this many bytes at a time (flush() waits for them)
        self.background_bytes = 0
        self._bg_bytes = 0
        self._bg_tasks: set[asyncio.Future[None]] = set()
        self._bg_failed: list[asyncio.Future[None]] = []  # finished with an error, not raised yet
        self._bg_room: asyncio.Event | None = None  # set whenever a background send finishes
        self._bg_data: dict[str, Buffer] = {}  # queued chunks (served to reads meanwhile)
        self._semaphore: asyncio.Semaphore | None = None
        #: at most this many reads in flight (None: max_concurrency); see bound_read_memory
        self.reads_in_flight: int | None = None
        self._read_semaphore: asyncio.Semaphore | None = None
        self._written: set[str] = set()  # non-metadata keys written through this store
        self._fresh = False  # nothing existed under the store when this write began
        self._cat_kw: dict[str, Any] | None = None
        # resuming an interrupted write: key -> (size, md5 or None, local path or None) stored
        self._resume: dict[str, tuple[int, str | None, str | None]] | None = None
        self.skipped = 0  # objects found already stored and identical (not sent again)
        self.sent = 0

    def _with_store(self, store: Store) -> CubeStore:
        new = type(self)(store, max_concurrency=self.max_concurrency,
                         cache_metadata=self.cache_metadata)
        new._cache = self._cache  # same cube, same knowledge
        new._authoritative = self._authoritative
        new._semaphore = self._sem()  # and the same requests in flight
        new.reads_in_flight = self.reads_in_flight
        new._read_semaphore = self._read_semaphore
        new._resume = self._resume
        new.errors = self.errors
        new.local_cache = self.local_cache
        return new

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_cat_kw"] = None
        # a copy in a dask worker writes chunks only, straight through
        state["_buffering"] = False
        state["_dirty"] = OrderedDict()
        state["background_bytes"] = 0
        state["_bg_bytes"] = 0
        state["_bg_tasks"] = set()
        state["_bg_failed"] = []
        state["_bg_room"] = None
        state["_bg_data"] = {}
        state["_semaphore"] = None
        state["_read_semaphore"] = None
        state["_written"] = set()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return f"CubeStore({self._store!r}, max_concurrency={self.max_concurrency})"

    def __dask_tokenize__(self) -> str:
        """A token of its own, so that dask names an open cube's arrays without pickling the
        store (which rebuilds an obstore client each time)."""
        if "_token" not in self.__dict__:
            import uuid

            self._token = uuid.uuid4().hex
        return self._token

    def __eq__(self, value: object) -> bool:
        """Same wrapped store: same kind, place and filesystem options (also after pickling)."""
        if not isinstance(value, CubeStore):
            return False
        a, b = self._store, value._store
        if isinstance(a, FsspecStore) and isinstance(b, FsspecStore):
            return (a.path, a.read_only, _fs_identity(a.fs)) == (b.path, b.read_only,
                                                                _fs_identity(b.fs))
        return bool(a == b)

    # ---------------------------------------------------------------------------- known objects
    @property
    def inner(self) -> Store:
        """The wrapped zarr store."""
        return self._store

    @property
    def authoritative(self) -> bool:
        """Whether metadata this store has not been primed with is known to be absent."""
        return self._authoritative

    def prime(self, objects: Mapping[str, bytes | None], *, authoritative: bool = False) -> None:
        """Serve ``objects`` (key -> bytes, or None for "absent") from memory from now on;
        ``authoritative``: every metadata object not among them is absent (``objects`` come from
        the consolidated metadata)."""
        self._cache.update(objects)
        self._authoritative = self._authoritative or authoritative

    async def read(self, key: str) -> bytes | None:
        """One GET of ``key`` from the server (no cache, None when absent)."""
        buf = await self._fetch(key, default_buffer_prototype())
        return None if buf is None else buf.to_bytes()

    # ---------------------------------------------------------------------------- reading
    async def _fetch(self, key: str, prototype: BufferPrototype,
                     byte_range: ByteRequest | None = None) -> Buffer | None:
        if self.local_cache is not None and byte_range is None and not is_meta(key) \
                and key != MARKER:  # whole chunks, from the local cache (objstore.cache)
            return await self.local_cache.fetch(
                key, lambda: self._fetch_remote(key, prototype, None), prototype.buffer.from_bytes)
        return await self._fetch_remote(key, prototype, byte_range)

    async def _fetch_remote(self, key: str, prototype: BufferPrototype,
                            byte_range: ByteRequest | None = None) -> Buffer | None:
        # shared by every dask thread reading through this store
        async with self._sem(), self._read_slots():
            return await self._fetch_now(key, prototype, byte_range)

    async def _fetch_suffix(self, inner: FsspecStore, key: str, prototype: BufferPrototype,
                            n: int) -> Buffer | None:
        """The last ``n`` bytes of ``key`` where the server may not honour a suffix range:
        Azure Blob has none (adlfs then fails on the answer, a ValueError): ask for the size and
        an ordinary range; a server that ignores the range answers with the whole object: keep
        its tail."""
        try:
            buf = await inner.get(key, prototype, SuffixByteRequest(n))
        except ValueError:
            try:
                size = await inner.getsize(key)
            except FileNotFoundError:
                return None
            return await inner.get(key, prototype, RangeByteRequest(max(size - n, 0), size))
        if buf is not None and len(buf) > n:
            return buf[len(buf) - n:]
        return buf

    def bound_read_memory(self, chunk_bytes: int) -> None:
        """Keep the chunks being read (each held encoded, then decoded, until zarr copies it into
        its output) to about :data:`READ_BYTES_IN_FLIGHT`: at most that many bytes of chunks of
        ``chunk_bytes`` in flight, at least 2 and at most ``max_concurrency`` requests. zarr's
        ``async.concurrency`` (chunks per zarr call, process-wide, only ever raised) is raised
        to that count rather than to ``max_concurrency``."""
        n = READ_BYTES_IN_FLIGHT // max(int(chunk_bytes), 1)
        self.reads_in_flight = max(2, min(self.max_concurrency, n))
        self._read_semaphore = None

    def _read_slots(self) -> AbstractAsyncContextManager[Any]:
        if self.reads_in_flight is None or self.reads_in_flight >= self.max_concurrency:
            return nullcontext()
        if self._read_semaphore is None:
            self._read_semaphore = asyncio.Semaphore(self.reads_in_flight)
        return self._read_semaphore

    async def _fetch_now(self, key: str, prototype: BufferPrototype,
                         byte_range: ByteRequest | None) -> Buffer | None:
        inner = self._store
        if isinstance(byte_range, SuffixByteRequest) and isinstance(inner, FsspecStore):
            return await self._fetch_suffix(inner, key, prototype, byte_range.suffix)
        if byte_range is None and isinstance(inner, FsspecStore):
            if self._cat_kw is None:
                self._cat_kw = _cat_kwargs(inner.fs)
            if self._cat_kw:
                if not inner._is_open:
                    await inner._open()
                path = _dereference_path(inner.path, key)
                try:
                    return prototype.buffer.from_bytes(
                        await inner.fs._cat_file(path, **self._cat_kw))
                except inner.allowed_exceptions:
                    return None
        return await inner.get(key, prototype, byte_range)

    async def get(self, key: str, prototype: BufferPrototype,
                  byte_range: ByteRequest | None = None) -> Buffer | None:
        perf.raise_zarr_concurrency(self.reads_in_flight or self.max_concurrency)
        if key in self._cache:
            return _slice(self._cache[key], prototype, byte_range)
        if key in self._dirty:
            return _slice(self._dirty[key], prototype, byte_range)
        if key in self._bg_data:
            return _slice(self._bg_data[key], prototype, byte_range)
        meta = is_meta(key)
        if meta and (self._authoritative or self._fresh):
            return None
        with self.errors() if self.errors else nullcontext():
            value = await self._fetch(key, prototype, byte_range)
        if meta and byte_range is None and self.cache_metadata:
            self._cache[key] = None if value is None else value.to_bytes()
        return value

    async def get_partial_values(self, prototype: BufferPrototype,
                                 key_ranges: Iterable[tuple[str, ByteRequest | None]]
                                 ) -> list[Buffer | None]:
        key_ranges = list(key_ranges)
        if any(k in self._cache or isinstance(r, SuffixByteRequest) for k, r in key_ranges):
            return list(await asyncio.gather(*(self.get(k, prototype, r) for k, r in key_ranges)))
        return await self._store.get_partial_values(prototype, key_ranges)

    async def exists(self, key: str) -> bool:
        if key in self._cache:
            return self._cache[key] is not None
        if key in self._written:
            return True
        if is_meta(key) and (self._authoritative or self._fresh):
            return False
        return await self._store.exists(key)

    # ---------------------------------------------------------------------------- writing
    async def set(self, key: str, value: Buffer) -> None:
        perf.raise_zarr_concurrency(self.max_concurrency)
        if is_meta(key):
            data = value.to_bytes()
            if self._buffering:
                self._check_writable()
                self._cache[key] = data
                self._dirty[key] = data
                return
            await self._store.set(key, value)
            if self.cache_metadata:
                self._cache[key] = data
            return
        self._cache.pop(key, None)
        if self._resume is not None and await self._already_there(key, value.to_bytes()):
            self._written.add(key)
            return
        self.sent += 1
        if self._buffering:
            self._written.add(key)
            if self.background_bytes:
                await self._send_in_background(key, value)
                return
        async with self._sem():
            await self._put(key, value)

    def resume_from(self, known: dict[str, Any]) -> None:
        """Resume an interrupted write: objects in ``known`` (:class:`objstore.transfer.Item`
        by key) that are identical to what would be written are not sent again."""
        self._resume = {k: (i.size, i.md5, i.path) for k, i in known.items()}

    async def _already_there(self, key: str, data: bytes) -> bool:
        """Whether ``key`` is stored with exactly ``data``: same size, then the MD5 the store
        reports (S3/Swift ETag, GCS md5Hash, Azure Content-MD5), else the bytes themselves."""
        import hashlib

        size, md5, path = (self._resume or {}).get(key, (-1, None, None))
        if size != len(data):
            return False
        if md5 is None and path is not None:
            md5 = await asyncio.to_thread(_md5_of_file, path)
        if md5 is not None:
            same = hashlib.md5(data).hexdigest() == md5
        else:  # the store reports no checksum: read the object back (a GET, not a PUT)
            there = await self._fetch(key, default_buffer_prototype())
            same = there is not None and there.to_bytes() == data
        if same:
            self.skipped += 1
        return same

    def _sem(self) -> asyncio.Semaphore:
        """At most ``max_concurrency`` chunk requests in flight through this store, however many
        dask threads use it (each grouped task asks for up to ``max_concurrency`` at once)."""
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.max_concurrency)
        return self._semaphore

    async def _send_in_background(self, key: str, value: Buffer) -> None:
        """Queue ``value`` (the buffer itself, no copy) and return; wait while the queued bytes
        would pass ``background_bytes``, or twice ``max_concurrency`` sends are queued (enough to
        keep every request slot busy; for small chunks the bytes alone would let thousands wait,
        each costing the event loop). A send that failed is raised here, at once."""
        self._raise_failed()
        size = len(value)
        if self._bg_room is None:
            self._bg_room = asyncio.Event()
        while self._bg_tasks and (self._bg_bytes + size > self.background_bytes
                                  or len(self._bg_tasks) >= 2 * self.max_concurrency):
            self._bg_room.clear()
            await self._bg_room.wait()
            self._raise_failed()
        self._bg_bytes += size
        self._bg_data[key] = value

        async def send() -> None:
            try:
                async with self._sem():
                    await self._put(key, value)
            finally:
                self._bg_bytes -= size
                if self._bg_data.get(key) is value:
                    del self._bg_data[key]

        task = asyncio.ensure_future(send())
        self._bg_tasks.add(task)
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Future[None]) -> None:
        if task.cancelled() or task.exception() is None:
            self._bg_tasks.discard(task)
        else:
            self._bg_failed.append(task)
        if self._bg_room is not None:
            self._bg_room.set()

    def _raise_failed(self) -> None:
        """Raise the first failure among the finished background sends (the rest are drained)."""
        while self._bg_failed:
            failed = self._bg_failed.pop(0)
            if failed in self._bg_tasks:
                self._bg_tasks.discard(failed)
                raise failed.exception()  # type: ignore[misc]

    async def _put(self, key: str, value: Buffer) -> None:
        """One chunk to the wrapped store with the fewest copies: an fsspec filesystem gets the
        bytes the buffer wraps (:func:`_body`) instead of zarr's copy of them."""
        inner = self._store
        if not isinstance(inner, FsspecStore):
            await inner.set(key, value)
            return
        if not inner._is_open:
            await inner._open()
        inner._check_writable()
        takes_buffers = bool(getattr(inner.fs, "pipe_takes_buffers", False))
        await inner.fs._pipe_file(_dereference_path(inner.path, key), _body(value, takes_buffers))

    async def cancel_background(self) -> None:
        """Stop the chunks still queued or in flight (a write that failed sends no more)."""
        tasks, self._bg_tasks = list(self._bg_tasks), set()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _drain(self) -> None:
        """Wait for the chunks sent in the background; raise the first failure."""
        tasks, self._bg_tasks = list(self._bg_tasks), set()
        if tasks:
            await asyncio.gather(*tasks)

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        if is_meta(key) and self._buffering:
            if not await self.exists(key):
                await self.set(key, value)
            return
        await self._store.set_if_not_exists(key, value)

    async def _set_many(self, values: Iterable[tuple[str, Buffer]]) -> None:
        await asyncio.gather(*(self.set(k, v) for k, v in values))

    async def delete(self, key: str) -> None:
        if is_meta(key) and self._buffering:
            self._dirty.pop(key, None)
            known = self._cache.get(key, b"") is not None
            self._cache[key] = None
            if self._fresh or not known:
                return
        self._written.discard(key)
        self._cache.pop(key, None)
        if self._bg_tasks:
            await self._drain()
        await self._store.delete(key)

    async def delete_dir(self, prefix: str) -> None:
        p = prefix.strip("/")
        if self._bg_tasks:
            await self._drain()
        if not (self._fresh and not any(not p or k.startswith(p + "/") for k in self._written)):
            await self._delete_dir(prefix)  # (a fresh cube has nothing there to delete)
        under = [k for k in set(self._cache) | set(self._dirty)
                 if not p or k == p or k.startswith(p + "/")]
        for k in under:
            self._cache.pop(k, None)
            self._dirty.pop(k, None)
        self._written = {k for k in self._written if p and not k.startswith(p + "/")}
        if not p and self._buffering:
            self._fresh = True

    async def clear(self) -> None:
        """Delete everything under the store (the write marker stays, as with delete_dir)."""
        await self.delete_dir("")

    async def _delete_dir(self, prefix: str) -> None:
        """Delete everything under ``prefix`` but the write marker: the consolidated metadata
        first, so that a deletion stopped half-way never leaves something that looks complete."""
        self._check_writable()
        p = prefix.strip("/")
        try:
            keys = [k async for k in self._store.list_prefix(f"{p}/" if p else "")]
        except FileNotFoundError:
            return
        keys = [k for k in keys if k != MARKER]
        commit = {f"{p}/{n}" if p else n for n in COMMIT_NAMES}
        await self._delete_keys([k for k in keys if k in commit])
        await self._delete_keys([k for k in keys if k not in commit])
        inner = self._store
        if isinstance(inner, LocalStore):  # and the folders that held them
            import shutil

            root = inner.root / p
            if root.is_dir():
                for child in list(root.iterdir()):
                    if child.is_dir():
                        await asyncio.to_thread(shutil.rmtree, child, True)

    async def _delete_keys(self, keys: builtins.list[str]) -> None:
        """Delete ``keys`` in as few requests as the store allows (bulk deletes)."""
        if not keys:
            return
        inner = self._store
        if isinstance(inner, ObjectStore):
            import obstore

            with translated_errors():  # one DeleteObjects request per 1000 keys
                await obstore.delete_async(inner.store, keys)
        elif isinstance(inner, FsspecStore):
            if not inner._is_open:
                await inner._open()
            await inner.fs._rm([_dereference_path(inner.path, k) for k in keys])
        else:
            sem = self._sem()

            async def one(key: str) -> None:
                async with sem:
                    await inner.delete(key)

            await asyncio.gather(*(one(k) for k in keys))

    # ---------------------------------------------------------------------------- the marker
    async def put_marker(self, data: bytes) -> None:
        """Write the write marker (straight through, before anything else)."""
        await self._store.set(MARKER, default_buffer_prototype().buffer.from_bytes(data))

    async def remove_marker(self) -> None:
        inner = self._store
        if isinstance(inner, FsspecStore):  # one DELETE (adlfs's _rm would look first)
            if not inner._is_open:
                await inner._open()
            await inner.fs._rm_file(_dereference_path(inner.path, MARKER))
        else:
            await inner.delete(MARKER)

    async def undo_fresh_write(self) -> None:
        """Delete what a write into an empty place sent (its chunks so far), then its marker."""
        try:
            await self._drain()
        finally:
            await self._delete_dir("")
            await self.remove_marker()

    async def read_marker(self) -> bytes | None:
        buf = await self._fetch(MARKER, default_buffer_prototype())
        return None if buf is None else buf.to_bytes()

    # ---------------------------------------------------------------------------- listing
    def _local_keys(self) -> builtins.set[str]:
        return {k for k, v in self._cache.items() if v is not None} | self._written

    def _hidden(self) -> builtins.set[str]:
        return {k for k, v in self._cache.items() if v is None}

    async def list(self) -> AsyncIterator[str]:
        async for k in self.list_prefix(""):
            yield k

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        seen: set[str] = set()
        if not self._fresh:
            hidden = self._hidden()
            async for k in self._store.list_prefix(prefix):
                if k not in hidden and k != MARKER:
                    seen.add(k)
                    yield k
        for k in sorted(self._local_keys()):
            if k.startswith(prefix) and k not in seen:
                yield k

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        p = prefix.rstrip("/")
        seen: set[str] = set()
        if not self._fresh:
            hidden = self._hidden()
            async for name in self._store.list_dir(prefix):
                full = f"{p}/{name}" if p else name
                if full not in hidden and full != MARKER:
                    seen.add(name)
                    yield name
        for k in sorted(self._local_keys()):
            if p and not k.startswith(p + "/"):
                continue
            name = (k[len(p) + 1:] if p else k).split("/", 1)[0]
            if name and name not in seen:
                seen.add(name)
                yield name

    async def is_empty(self, prefix: str) -> bool:
        async for _ in self.list_prefix(prefix if not prefix or prefix.endswith("/")
                                        else prefix + "/"):
            return False
        return True

    # ---------------------------------------------------------------------------- buffering
    @contextmanager
    def buffered(self, *, fresh: bool) -> Iterator[CubeStore]:
        """Within the block, metadata writes stay in memory until :meth:`flush`; ``fresh``:
        nothing exists under the store yet. Leaving the block (also on error) stops buffering;
        what was not flushed is not written."""
        self.begin_write(fresh=fresh)
        try:
            yield self
        finally:
            self.end_write()

    @property
    def pending(self) -> builtins.list[str]:
        """The metadata keys written while buffering and not flushed yet, in write order."""
        return builtins.list(self._dirty)

    @property
    def resuming(self) -> bool:
        """Whether this store resumes an interrupted write (see :meth:`resume_from`)."""
        return self._resume is not None

    def begin_write(self, *, fresh: bool) -> None:
        """Keep metadata writes in memory until :meth:`flush`; ``fresh``: nothing exists yet."""
        self.cache_metadata = True
        self._buffering = True
        self._fresh = fresh
        if fresh:
            self._cache = {k: v for k, v in self._cache.items() if not is_meta(k)}

    async def flush(self, keys: Iterable[str] | None = None) -> int:
        """Write buffered metadata (all, or ``keys``), each object once, concurrently (after the
        chunks sent in the background)."""
        todo = list(self._dirty) if keys is None else [k for k in keys if k in self._dirty]
        proto = default_buffer_prototype()
        sem = self._sem()

        async def put(key: str) -> None:
            if self._resume is not None and await self._already_there(key, self._dirty[key]):
                return
            async with sem:
                await self._store.set(key, proto.buffer.from_bytes(self._dirty[key]))

        await asyncio.gather(self._drain(), *(put(k) for k in todo))
        for k in todo:
            self._dirty.pop(k, None)
        return len(todo)

    def end_write(self) -> None:
        self._buffering = False
        self._fresh = False
        self.background_bytes = 0

    def metadata(self) -> dict[str, bytes]:
        """Every metadata object this store knows (read, prefetched or written)."""
        return {k: v for k, v in self._cache.items() if v is not None and is_meta(k)}
