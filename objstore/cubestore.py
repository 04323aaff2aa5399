"""CubeStore: the zarr store objstore reads and writes cubes through, and the fast open/write paths.

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
"""

from __future__ import annotations

import asyncio
import builtins
import inspect
import json
import math
import threading
import warnings
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from zarr.abc.store import ByteRequest, OffsetByteRequest, RangeByteRequest, SuffixByteRequest
from zarr.core.buffer import Buffer, BufferPrototype, default_buffer_prototype
from zarr.core.sync import sync
from zarr.storage import FsspecStore, MemoryStore, ObjectStore
from zarr.storage._common import _dereference_path
from zarr.storage._wrapper import WrapperStore

from . import perf

if TYPE_CHECKING:
    import xarray as xr
    from zarr.abc.store import Store

    from .api import Resolved

__all__ = ["CubeStore", "open_dataset", "write_dataset", "NoConsolidatedMetadata"]

META_NAMES = frozenset({".zarray", ".zattrs", ".zgroup", ".zmetadata", "zarr.json"})


def is_meta(key: str) -> bool:
    return key.rsplit("/", 1)[-1] in META_NAMES


def _slice(data: bytes | None, prototype: BufferPrototype,
           byte_range: ByteRequest | None) -> Buffer | None:
    if data is None:
        return None
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


def _cat_kwargs(fs: Any) -> dict[str, Any]:
    """Keyword arguments that make ``fs._cat_file`` a single GET (s3fs: no HEAD first)."""
    try:
        params = inspect.signature(fs._cat_file).parameters
    except (TypeError, ValueError, AttributeError):
        return {}
    return {"max_concurrency": 1} if "max_concurrency" in params else {}


class CubeStore(WrapperStore["Store"]):
    """A zarr store wrapper for high-latency object stores (see the module docstring).

    ``cache_metadata=True`` (set by :func:`open_dataset` / :func:`write_dataset`, whose stores live
    as long as one dataset) keeps metadata objects in memory once read; a plain
    ``objstore.store(url)`` never caches, so it always sees other writers' changes.
    """

    def __init__(self, store: Store, *, max_concurrency: int | None = None,
                 cache_metadata: bool = False) -> None:
        super().__init__(store)
        self.max_concurrency = int(max_concurrency or perf.DEFAULT_MAX_CONCURRENCY)
        self.cache_metadata = cache_metadata
        self._reset_state()

    def _reset_state(self) -> None:
        # key -> bytes (present) or None (known absent); exact answers, served without a request
        self._cache: dict[str, bytes | None] = {}
        # metadata keys missing from _cache are absent (set after reading consolidated metadata,
        # or while writing a fresh cube)
        self._authoritative = False
        self._buffering = False  # metadata writes go to _dirty until flush()
        self._dirty: OrderedDict[str, bytes] = OrderedDict()
        # while > 0, chunk writes return at once and go out in the background, at most this many
        # bytes at a time (flush() waits for them)
        self._background_bytes = 0
        self._bg_bytes = 0
        self._bg_tasks: set[asyncio.Future[None]] = set()
        self._bg_data: dict[str, bytes] = {}
        self._semaphore: asyncio.Semaphore | None = None
        self._written: set[str] = set()  # non-metadata keys written through this store
        self._fresh = False  # nothing existed under the store when this write began
        self._cat_kw: dict[str, Any] | None = None

    def _with_store(self, store: Store) -> CubeStore:
        new = type(self)(store, max_concurrency=self.max_concurrency,
                         cache_metadata=self.cache_metadata)
        new._cache = self._cache  # same cube, same knowledge
        new._authoritative = self._authoritative
        return new

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_cat_kw"] = None
        # a copy in a dask worker writes chunks only, straight through
        state["_buffering"] = False
        state["_dirty"] = OrderedDict()
        state["_background_bytes"] = 0
        state["_bg_bytes"] = 0
        state["_bg_tasks"] = set()
        state["_bg_data"] = {}
        state["_semaphore"] = None
        state["_written"] = set()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return f"CubeStore({self._store!r}, max_concurrency={self.max_concurrency})"

    def __eq__(self, value: object) -> bool:
        return isinstance(value, CubeStore) and self._store == value._store

    # ---------------------------------------------------------------------------- reading
    async def _fetch(self, key: str, prototype: BufferPrototype,
                     byte_range: ByteRequest | None = None) -> Buffer | None:
        inner = self._store
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
        perf.raise_zarr_concurrency(self.max_concurrency)
        if key in self._cache:
            return _slice(self._cache[key], prototype, byte_range)
        if key in self._dirty:
            return _slice(self._dirty[key], prototype, byte_range)
        if key in self._bg_data:
            return _slice(self._bg_data[key], prototype, byte_range)
        meta = is_meta(key)
        if meta and (self._authoritative or self._fresh):
            return None
        value = await self._fetch(key, prototype, byte_range)
        if meta and byte_range is None and self.cache_metadata:
            self._cache[key] = None if value is None else value.to_bytes()
        return value

    async def get_partial_values(self, prototype: BufferPrototype,
                                 key_ranges: Iterable[tuple[str, ByteRequest | None]]
                                 ) -> list[Buffer | None]:
        key_ranges = list(key_ranges)
        if any(k in self._cache for k, _ in key_ranges):
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
        if self._buffering:
            self._written.add(key)
            if self._background_bytes:
                await self._send_in_background(key, value)
                return
        await self._store.set(key, value)

    def _sem(self) -> asyncio.Semaphore:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.max_concurrency)
        return self._semaphore

    async def _send_in_background(self, key: str, value: Buffer) -> None:
        size = len(value)
        while self._bg_tasks and self._bg_bytes + size > self._background_bytes:
            await asyncio.wait(self._bg_tasks, return_when=asyncio.FIRST_COMPLETED)
        data = value.to_bytes()
        self._bg_bytes += size
        self._bg_data[key] = data

        async def send() -> None:
            try:
                async with self._sem():
                    await self._store.set(key, value)
            finally:
                self._bg_bytes -= size
                if self._bg_data.get(key) is data:
                    del self._bg_data[key]

        task = asyncio.ensure_future(send())
        self._bg_tasks.add(task)
        task.add_done_callback(lambda t: self._bg_tasks.discard(t) if t.exception() is None
                               else None)

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

    async def _delete_dir(self, prefix: str) -> None:
        inner = self._store
        if isinstance(inner, ObjectStore):
            import obstore

            self._check_writable()
            p = prefix.strip("/")
            keys = [k async for k in inner.list_prefix(f"{p}/" if p else "")]
            if keys:  # one DeleteObjects request per 1000 keys, not one request per key
                try:
                    await obstore.delete_async(inner.store, keys)
                except Exception as exc:
                    raise _translate(exc) from None
            return
        await inner.delete_dir(prefix)

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
                if k not in hidden:
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
                if full not in hidden:
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
            async with sem:
                await self._store.set(key, proto.buffer.from_bytes(self._dirty[key]))

        await asyncio.gather(self._drain(), *(put(k) for k in todo))
        for k in todo:
            self._dirty.pop(k, None)
        return len(todo)

    def end_write(self) -> None:
        self._buffering = False
        self._fresh = False
        self._background_bytes = 0

    def metadata(self) -> dict[str, bytes]:
        """Every metadata object this store knows (read, prefetched or written)."""
        return {k: v for k, v in self._cache.items() if v is not None and is_meta(k)}


def obstore_store(protocol: str, path: str, options: Mapping[str, Any], n: int,
                  read_only: bool = False) -> Store:
    """zarr's ``ObjectStore`` over an obstore ``S3Store`` built from the s3fs storage options."""
    from obstore.store import S3Store

    from .errors import ConfigError

    if protocol not in perf.OBSTORE_PROTOCOLS:
        raise ConfigError(f"the obstore engine is offered for S3 only, not {protocol}://")
    bucket, _, prefix = path.strip("/").partition("/")
    opts = dict(options)
    kw: dict[str, Any] = {}
    endpoint = opts.pop("endpoint_url", None) or (opts.get("client_kwargs") or {}).get(
        "endpoint_url")
    if endpoint:
        kw["endpoint"] = endpoint
        kw["virtual_hosted_style_request"] = False
    region = (opts.get("client_kwargs") or {}).get("region_name")
    kw["region"] = region or "us-east-1"
    if opts.get("anon"):
        kw["skip_signature"] = True
    elif opts.get("key"):
        kw["access_key_id"] = opts["key"]
        kw["secret_access_key"] = opts.get("secret") or ""
        if opts.get("token"):
            kw["session_token"] = opts["token"]
    else:  # AWS profile, SSO, instance roles ...: let botocore find the credentials
        import boto3
        from obstore.auth.boto3 import Boto3CredentialProvider

        kw["credential_provider"] = Boto3CredentialProvider(
            boto3.Session(profile_name=opts.get("profile")))
    if opts.get("requester_pays"):
        kw["request_payer"] = True
    client: Any = {"pool_max_idle_per_host": str(n)}
    if endpoint and endpoint.startswith("http://"):
        client["allow_http"] = "true"
    s3 = S3Store(bucket, prefix=prefix or None, client_options=client, **kw)
    return ObstoreStore(s3, read_only=read_only)


def _translate(exc: BaseException) -> BaseException:
    """obstore's exceptions as the builtin ones fsspec raises (which objstore maps to its own)."""
    if not type(exc).__module__.startswith("obstore"):
        return exc
    name = type(exc).__name__
    text = (str(exc).splitlines() or [name])[0]
    if name in ("PermissionDeniedError", "UnauthenticatedError"):
        return PermissionError(text)
    if name == "NotFoundError":
        return FileNotFoundError(text)
    if name == "AlreadyExistsError":
        return FileExistsError(text)
    return OSError(text)


_TRANSLATING: dict[type, type] = {}


def _translating(cls: type) -> type:
    """A subclass of zarr's ``ObjectStore`` whose calls raise builtin exceptions."""
    if cls in _TRANSLATING:
        return _TRANSLATING[cls]

    def wrap(name: str) -> Any:
        method = getattr(cls, name)

        async def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return await method(self, *args, **kwargs)
            except Exception as exc:
                new = _translate(exc)
                if new is exc:
                    raise
                raise new from None

        call.__name__ = name
        return call

    def wrap_iter(name: str) -> Any:
        method = getattr(cls, name)

        async def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                async for item in method(self, *args, **kwargs):
                    yield item
            except Exception as exc:
                new = _translate(exc)
                if new is exc:
                    raise
                raise new from None

        call.__name__ = name
        return call

    ns: dict[str, Any] = {n: wrap(n) for n in ("get", "get_partial_values", "exists", "set",
                                               "set_if_not_exists", "delete", "delete_dir",
                                               "getsize")}
    ns.update({n: wrap_iter(n) for n in ("list", "list_prefix", "list_dir")})
    ns["__module__"] = __name__
    ns["__qualname__"] = "ObstoreStore"
    sub = type("ObstoreStore", (cls,), ns)
    _TRANSLATING[cls] = sub
    return sub


#: zarr's ``ObjectStore`` raising builtin exceptions (picklable: a module-level class).
ObstoreStore = _translating(ObjectStore)


# ================================================================================ opening
class NoConsolidatedMetadata(Exception):
    """The cube has no consolidated metadata (``.zmetadata`` / ``consolidated_metadata``)."""

    def __init__(self, found: bool) -> None:
        super().__init__("no consolidated metadata")
        self.found = found  # some metadata exists (an unconsolidated cube)


# (url, profile name) -> zarr format seen last time: later opens ask for one key, not two.
_formats: OrderedDict[tuple[str, str], int] = OrderedDict()
_formats_lock = threading.Lock()


def _remember_format(key: tuple[str, str], fmt: int) -> None:
    with _formats_lock:
        _formats[key] = fmt
        _formats.move_to_end(key)
        while len(_formats) > 512:
            _formats.popitem(last=False)


def _known_format(key: tuple[str, str]) -> int | None:
    with _formats_lock:
        return _formats.get(key)


async def _prefetch(store: CubeStore, zarr_format: int | None, group: str | None) -> tuple[int, dict]:
    """Fetch the consolidated metadata, then every index coordinate's chunks; cache them.

    Returns ``(zarr_format, arrays)`` where ``arrays`` maps array paths to their parsed metadata
    (``{"dims", "shape", "chunks", "itemsize", "keys"}``). Raises NoConsolidatedMetadata.
    """
    proto = default_buffer_prototype()
    order = [zarr_format] if zarr_format in (2, 3) else [2, 3]
    fmt = None
    raw: bytes | None = None
    found_any = False
    for f in order:  # format 2 first: objstore's default and most published cubes
        key = ".zmetadata" if f == 2 else "zarr.json"
        buf = await store._fetch(key, proto)
        if buf is None:
            continue
        raw = buf.to_bytes()
        found_any = True
        if f == 3 and not (json.loads(raw).get("consolidated_metadata") or {}).get("metadata"):
            store._cache["zarr.json"] = raw
            raise NoConsolidatedMetadata(found=True)
        fmt = f
        break
    if fmt is None or raw is None:
        raise NoConsolidatedMetadata(found=found_any)

    cache: dict[str, bytes | None] = {}
    arrays: dict[str, dict[str, Any]] = {}
    if fmt == 2:
        cache[".zmetadata"] = raw
        cache["zarr.json"] = None
        flat = json.loads(raw).get("metadata", {})
        for k, v in flat.items():
            cache[k] = json.dumps(v).encode()
        for k, v in flat.items():
            if k.endswith(".zarray"):
                path = k[: -len(".zarray")].rstrip("/")
                attrs = flat.get(f"{path}/.zattrs" if path else ".zattrs", {})
                arrays[path] = _info_v2(path, v, attrs)
    else:
        doc = json.loads(raw)
        cache["zarr.json"] = raw
        cache[".zmetadata"] = None
        for path, meta in _flatten_v3(doc.get("consolidated_metadata", {}).get("metadata", {})):
            cache[f"{path}/zarr.json"] = json.dumps(meta).encode()
            if meta.get("node_type") == "array":
                arrays[path] = _info_v3(path, meta)
    store._cache.update(cache)
    store._authoritative = True

    # index coordinates of the group being opened: 1-D arrays named like their dimension
    gp = (group or "").strip("/")
    wanted: list[str] = []
    for path, info in arrays.items():
        parent, _, name = path.rpartition("/")
        if parent == gp and info["dims"] == (name,):
            wanted.extend(info["keys"])
    sem = asyncio.Semaphore(store.max_concurrency)

    async def one(key: str) -> None:
        async with sem:
            buf = await store._fetch(key, proto)
        store._cache[key] = None if buf is None else buf.to_bytes()

    await asyncio.gather(*(one(k) for k in wanted))
    return fmt, arrays


def _chunk_keys(path: str, shape: list[int], chunks: list[int], encode: Any) -> list[str]:
    if not shape:
        return [f"{path}/{encode(())}" if path else encode(())]
    if any(s == 0 for s in shape):
        return []
    grid = [range(math.ceil(s / c)) for s, c in zip(shape, chunks, strict=True)]
    import itertools

    prefix = f"{path}/" if path else ""
    return [prefix + encode(idx) for idx in itertools.product(*grid)]


def _itemsize(dtype: Any) -> int:
    import numpy as np

    try:
        return int(np.dtype(dtype).itemsize) or 8
    except TypeError:
        try:
            return int(np.dtype([tuple(f) for f in dtype]).itemsize) or 8
        except Exception:  # noqa: BLE001
            return 8


def _info_v2(path: str, zarray: Mapping[str, Any], attrs: Mapping[str, Any]) -> dict[str, Any]:
    shape = list(zarray.get("shape", []))
    chunks = list(zarray.get("chunks", shape))
    sep = zarray.get("dimension_separator") or "."
    dims = tuple(attrs.get("_ARRAY_DIMENSIONS") or ())
    n = len(shape)
    dims = dims if len(dims) == n else tuple(f"dim_{i}" for i in range(n))
    keys = _chunk_keys(path, shape, chunks, lambda idx: sep.join(map(str, idx)) if idx else "0")
    return {"dims": dims, "shape": tuple(shape), "chunks": tuple(chunks),
            "itemsize": _itemsize(zarray.get("dtype", "<f8")), "keys": keys}


def _info_v3(path: str, meta: Mapping[str, Any]) -> dict[str, Any]:
    shape = list(meta.get("shape", []))
    grid = meta.get("chunk_grid", {}).get("configuration", {})
    chunks = list(grid.get("chunk_shape", shape))
    enc = meta.get("chunk_key_encoding", {"name": "default"})
    sep = enc.get("configuration", {}).get("separator")
    if enc.get("name") == "v2":
        sep = sep or "."
        encode = lambda idx: sep.join(map(str, idx)) if idx else "0"  # noqa: E731
    else:
        sep = sep or "/"
        encode = lambda idx: "c" + "".join(sep + str(i) for i in idx)  # noqa: E731
    names = meta.get("dimension_names") or []
    n = len(shape)
    dims = tuple(d or f"dim_{i}" for i, d in enumerate(names)) if len(names) == n else tuple(
        f"dim_{i}" for i in range(n))
    dtype = meta.get("data_type", "float64")
    if isinstance(dtype, Mapping):
        dtype = dtype.get("name", "float64")
    dtype = {"numpy.datetime64": "M8[ns]", "numpy.timedelta64": "m8[ns]"}.get(str(dtype), dtype)
    return {"dims": dims, "shape": tuple(shape), "chunks": tuple(chunks),
            "itemsize": _itemsize(dtype), "keys": _chunk_keys(path, shape, chunks, encode)}


def _flatten_v3(nodes: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, dict]]:
    for name, meta in nodes.items():
        path = f"{prefix}/{name}" if prefix else name
        inner = (meta.get("consolidated_metadata") or {}).get("metadata") or {}
        yield path, meta
        if inner:
            yield from _flatten_v3(inner, path)


def _default_chunks(arrays: Mapping[str, dict[str, Any]], group: str | None,
                    drop: Iterable[str], n: int) -> dict[str, int]:
    """Grouped dask chunks for the arrays of ``group`` that xarray makes dask arrays of."""
    gp = (group or "").strip("/")
    dropped = set(drop)
    infos = []
    for path, a in arrays.items():
        parent, _, name = path.rpartition("/")
        if parent != gp or name in dropped or a["dims"] == (name,) or not a["shape"]:
            continue
        infos.append(perf.ArrayInfo(a["dims"], a["shape"], a["chunks"], a["itemsize"]))
    return perf.group_chunks(infos, n)


def open_dataset(r: Resolved, *, consolidated: bool | None = None,
                 **kwargs: Any) -> xr.Dataset:
    """Open the cube of ``r`` (see :func:`objstore.open_cube`). Raises NoConsolidatedMetadata
    when ``consolidated`` is None/True and there is none (the caller decides how to fall back)."""
    import xarray as xr

    store = r.zarr_store(read_only=True)
    if not isinstance(store, CubeStore):
        store = CubeStore(store, max_concurrency=perf.max_concurrency(r.profile))
    store.cache_metadata = True
    perf.raise_zarr_concurrency(store.max_concurrency)
    if consolidated is False:
        return xr.open_zarr(store, consolidated=False, **kwargs)

    memo_key = (r.url.url, r.profile.name)
    hint = kwargs.get("zarr_format") or _known_format(memo_key)
    try:
        fmt, arrays = sync(_prefetch(store, hint, kwargs.get("group")))
    except NoConsolidatedMetadata:
        if hint and not kwargs.get("zarr_format"):  # the remembered format may be stale
            fmt, arrays = sync(_prefetch(store, None, kwargs.get("group")))
        else:
            raise
    _remember_format(memo_key, fmt)
    if "chunks" not in kwargs:
        drop = kwargs.get("drop_variables") or ()
        drop = [drop] if isinstance(drop, str) else list(drop)
        kwargs["chunks"] = _default_chunks(arrays, kwargs.get("group"), drop,
                                           store.max_concurrency)
    kwargs.setdefault("zarr_format", fmt)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        return xr.open_zarr(store, consolidated=True, **kwargs)


# ================================================================================ writing
def _group_for_write(ds: xr.Dataset, encoding: Mapping[str, Any], n: int) -> tuple[Any, dict]:
    """Regroup dask-backed variables so that a dask task writes up to ``n`` stored chunks.

    The stored (zarr) chunks stay what they would have been (set in the encoding); only the dask
    chunks grow, by whole stored chunks, up to dask's ``array.chunk-size``.
    """
    max_bytes = perf._dask_chunk_bytes()
    new_encoding: dict[str, dict[str, Any]] = {}
    rechunk: dict[str, Any] = {}
    for key, var in ds.variables.items():
        name = str(key)
        chunks = getattr(var, "chunks", None)
        if chunks is None or not var.ndim:
            continue
        enc = encoding.get(name, {})
        stored = enc.get("chunks") or var.encoding.get("chunks")
        if stored is None or len(stored) != var.ndim:
            stored = tuple(c[0] for c in chunks)
        stored = tuple(int(s) for s in stored)
        new = perf.write_chunks(chunks, stored, n, max_bytes, var.dtype.itemsize)
        if new is None:
            continue
        rechunk[name] = dict(zip(var.dims, new, strict=True))
        new_encoding[name] = {**enc, "chunks": stored}
    if not rechunk:
        return ds, {}
    ds = ds.copy()
    for name, sizes in rechunk.items():
        ds[name] = ds[name].variable.chunk(sizes)
    return ds, new_encoding


#: While xarray prepares a write, chunks of in-memory variables go out in the background, at most
#: this many bytes in flight (xarray would otherwise write them one variable after another).
BACKGROUND_BYTES = 256 * 2**20


def write_dataset(ds: xr.Dataset, r: Resolved, *, mode: str, zarr_format: int,
                  consolidated: bool, fresh: bool, **kwargs: Any) -> None:
    """Write ``ds`` through a :class:`CubeStore`: chunks with ``max_concurrency`` in flight,
    metadata once per object, consolidated metadata last."""
    import zarr

    store = r.zarr_store()
    if not isinstance(store, CubeStore):
        store = CubeStore(store, max_concurrency=perf.max_concurrency(r.profile))
    n = store.max_concurrency
    perf.raise_zarr_concurrency(n)

    if kwargs.get("compute", True) is False or not consolidated:
        fast = False
    elif fresh or mode == "w":
        fast = True
    else:  # appending/region writes: start from the cube's consolidated metadata
        try:
            sync(_prefetch(store, zarr_format, None))
            fast = True
        except NoConsolidatedMetadata:
            fast = False

    encoding = dict(kwargs.pop("encoding", None) or {})
    if mode in ("w", "w-"):
        ds, grouped = _group_for_write(ds, encoding, n)
        encoding.update(grouped)
    if encoding:
        kwargs["encoding"] = encoding

    if not fast:
        cast(Any, ds).to_zarr(store, mode=mode, consolidated=False, zarr_format=zarr_format,
                              **kwargs)
        if consolidated:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
                zarr.consolidate_metadata(store, zarr_format=cast(Any, zarr_format))
        return

    store.begin_write(fresh=fresh)
    # format 3 keeps the consolidated metadata in the root zarr.json: write that one at the end
    root = "zarr.json" if zarr_format == 3 else None
    kwargs.pop("compute", None)
    try:
        # xarray writes in-memory variables one after another, each a round trip or more: send
        # their chunks in the background (at most BACKGROUND_BYTES at a time) and go on
        store._background_bytes = BACKGROUND_BYTES
        delayed = cast(Any, ds).to_zarr(store, mode=mode, consolidated=False, zarr_format=zarr_format,
                             compute=False, **kwargs)
        store._background_bytes = 0
        sync(store.flush([k for k in list(store._dirty) if k != root]))
        delayed.compute()
    except BaseException:
        store._background_bytes = 0
        try:  # a half-written cube: readable object by object, never consolidated
            sync(store.flush())
        except Exception:  # noqa: BLE001 - the first error is the one to report
            pass
        store.end_write()
        raise
    sync(_write_consolidated(store, zarr_format))
    store.end_write()
    _remember_format((r.url.url, r.profile.name), zarr_format)


def _same_json(a: bytes | None, b: bytes) -> bool:
    if a is None:
        return False
    try:
        return bool(json.loads(a) == json.loads(b))
    except ValueError:
        return a == b


async def _write_consolidated(store: CubeStore, zarr_format: int) -> None:
    """Build the consolidated metadata in memory from what the store knows; write what changed."""
    import zarr.api.asynchronous as za

    known = store.metadata()
    mem = MemoryStore()
    proto = default_buffer_prototype()
    for k, v in known.items():
        if k == ".zmetadata":
            continue
        await mem.set(k, proto.buffer.from_bytes(v))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        await za.consolidate_metadata(mem, zarr_format=cast(Any, zarr_format))
    changed = {}
    async for k in mem.list():
        buf = await mem.get(k, proto)
        data = buf.to_bytes() if buf is not None else None
        before = store._dirty.get(k, known.get(k))
        if data is not None and not _same_json(before, data):
            changed[k] = data
    for k, v in changed.items():
        store._dirty[k] = v
        store._cache[k] = v
    last = ".zmetadata" if zarr_format == 2 else "zarr.json"
    await store.flush([k for k in store._dirty if k != last])
    # Read one metadata object back while the commit point goes out: proves the cube opens with
    # these credentials, which a profile that may write but not read (write-only keys, anonymous
    # on a permissive bucket) would otherwise only find out at the first open.
    probe = next((k for k in sorted(known) if k not in (last, ".zmetadata")), None)
    checks = [store._fetch(probe, proto)] if probe else []
    await asyncio.gather(store.flush([last]), *checks)
