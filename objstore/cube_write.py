"""Write a cube through a :class:`~objstore.cubestore.CubeStore`: chunks with ``max_concurrency``
in flight, metadata once per object, consolidated metadata last."""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from zarr.core.buffer import default_buffer_prototype
from zarr.core.sync import sync
from zarr.storage import MemoryStore

from . import format_memo, perf

if TYPE_CHECKING:
    import xarray as xr

    from .api import Resolved


from .cube_open import NoConsolidatedMetadata, _prefetch
from .cubestore import CubeStore

__all__ = ["write_dataset"]


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
            sync(_prefetch(store, [zarr_format], None))
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
    format_memo.remember(r.url, r.profile.name, zarr_format)


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
