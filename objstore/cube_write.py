"""Write a cube through a :class:`~objstore.cubestore.CubeStore`: chunks with ``max_concurrency``
in flight, metadata once per object, consolidated metadata last."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from zarr.core.buffer import default_buffer_prototype
from zarr.core.sync import sync
from zarr.storage import MemoryStore

from . import allocator, format_memo, perf

if TYPE_CHECKING:
    import xarray as xr
    from zarr.core.buffer import Buffer

    from .api import Resolved


from .cube_open import NoConsolidatedMetadata, _prefetch
from .cubestore import CubeStore
from .transfer import list_tree
from .write_marker import MARKER, describe, interrupted_error, new_marker
from .zarr_keys import ZARR_JSON, ZMETADATA_V2_JSON, consolidated_key, is_meta

__all__ = ["write_dataset"]

log = logging.getLogger("objstore")


def _chunk_count(ds: xr.Dataset, encoding: Mapping[str, Any]) -> int:
    """How many chunk objects a write of ``ds`` lays out (fewer go out where a chunk holds only
    the fill value)."""
    total = 0
    for key, var in ds.variables.items():
        stored = (encoding.get(str(key), {}).get("chunks") or var.encoding.get("chunks")
                  or (tuple(c[0] for c in var.chunks) if var.chunks else var.shape))
        total += math.prod(math.ceil(n / max(int(c), 1)) for n, c in zip(var.shape, stored,
                                                                          strict=False))
    return total


def _start_resume(store: CubeStore, r: Resolved, marker: bytes, total: int) -> None:
    """Tell ``store`` what is already stored (one listing), and the user what is resumed."""
    known = {k: v for k, v in list_tree(r).items() if k and k != MARKER}
    store.resume_from(known)
    there = sum(1 for k in known if not is_meta(k))
    log.warning("resuming an interrupted write %s at %s: %d of %d chunks already there; "
                "sending only what is missing", describe(marker), r.url.url, there, total)


def _largest_chunk_bytes(ds: xr.Dataset, encoding: Mapping[str, Any]) -> int:
    """The bytes of the largest stored chunk a write of ``ds`` sends (before compression)."""
    largest = 0
    for key, var in ds.variables.items():
        stored = (encoding.get(str(key), {}).get("chunks") or var.encoding.get("chunks")
                  or (tuple(c[0] for c in var.chunks) if var.chunks else var.shape))
        cells = math.prod(min(int(c), n) for n, c in zip(var.shape, stored, strict=False))
        largest = max(largest, cells * var.dtype.itemsize)
    return largest


#: The most a grouped dask task holds: small stored chunks are grouped up to this (so that one
#: task sends many); a chunk this big or bigger is one task of its own, kept in flight by the
#: background queue rather than by a group (a group costs two copies of itself in dask and zarr).
WRITE_GROUP_BYTES = 4 * 2**20


def _group_for_write(ds: xr.Dataset, encoding: Mapping[str, Any], n: int) -> tuple[Any, dict]:
    """Regroup dask-backed variables so that a dask task writes up to ``n`` stored chunks.

    The stored (zarr) chunks stay what they would have been; only the dask chunks grow, by whole
    stored chunks, up to dask's ``array.chunk-size``. The stored chunks go into the variable's own
    encoding (keeping its dtype, packing, fill value and codecs, as ``to_zarr`` would), or into
    the ``encoding`` returned for the variables the caller gave an encoding for (which replaces
    the variable's, as in ``to_zarr``).
    """
    max_bytes = min(perf._dask_chunk_bytes(), WRITE_GROUP_BYTES)
    new_encoding: dict[str, dict[str, Any]] = {}
    rechunk: dict[str, tuple[dict[str, int], tuple[int, ...]]] = {}
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
        rechunk[name] = ({str(d): c for d, c in zip(var.dims, new, strict=True)}, stored)
        if name in encoding:
            new_encoding[name] = {**enc, "chunks": stored}
    if not rechunk:
        return ds, {}
    ds = ds.copy()
    for name, (sizes, stored) in rechunk.items():
        var = ds.variables[name]
        grouped = var.chunk(sizes)
        grouped.encoding = {**var.encoding, "chunks": stored}
        ds[name] = grouped
    return ds, new_encoding


def write_dataset(ds: xr.Dataset, r: Resolved, *, mode: str, zarr_format: int,
                  consolidated: bool, fresh: bool, claimed: bool = False,
                  resuming: bytes | None = None, layout: str | None = None,
                  store: CubeStore | None = None, **kwargs: Any) -> None:
    """Write ``ds`` through a :class:`CubeStore`: the write marker first (unless the caller
    ``claimed`` the place with it), then chunks with ``max_concurrency`` in flight, metadata once
    per object, the consolidated metadata, and last the marker's removal. A write that stops
    half-way leaves the marker (see :mod:`objstore.write_marker`). ``resuming`` (the marker of
    an interrupted write of the same dataset) skips what is already stored and identical;
    ``layout`` (its :func:`~objstore.write_marker.fingerprint`) goes into the marker; ``store``
    (default ``r.zarr_store()``) is where it goes."""
    store = r.zarr_store() if store is None else store
    if not isinstance(store, CubeStore):
        store = CubeStore(store, max_concurrency=perf.max_concurrency(r.profile))
    n = store.max_concurrency
    perf.raise_zarr_concurrency(n)
    allocator.fix_mmap_threshold()
    appending = mode not in ("w", "w-")

    if kwargs.get("compute", True) is False or not consolidated:
        fast = False
    elif not appending:
        fast = True
    else:  # appending/region writes: start from the cube's consolidated metadata
        try:
            sync(_prefetch(store, [zarr_format], None))
            fast = True
        except NoConsolidatedMetadata:
            fast = False
            marker = sync(store.read_marker())
            if marker is not None:
                raise interrupted_error(r.url.url, marker, r.profile.name) from None

    encoding = dict(kwargs.pop("encoding", None) or {})
    chunk = _largest_chunk_bytes(ds, encoding)
    in_flight = perf.write_in_flight(chunk, n)
    if not appending:
        ds, grouped = _group_for_write(ds, encoding, n)
        encoding.update(grouped)
    if encoding:
        kwargs["encoding"] = encoding
    if resuming is not None:
        if not fast:
            raise ValueError("resume=True needs consolidated=True and compute=True")
        _start_resume(store, r, resuming, _chunk_count(ds, encoding))

    if not claimed:
        sync(store.put_marker(new_marker(mode, layout)))
    if fast:
        _write_fast(ds, store, mode=mode, zarr_format=zarr_format, fresh=fresh,
                    appending=appending, queued=in_flight * max(chunk, 1), **kwargs)
        if resuming is not None:
            log.info("resumed %s: %d objects were already there and identical, %d chunks sent", r.url.url,
                     store.skipped, store.sent)
    else:
        _write_plain(ds, store, mode=mode, zarr_format=zarr_format, consolidated=consolidated,
                     **kwargs)
    if kwargs.get("compute", True) is not False:
        sync(store.remove_marker())
    format_memo.remember(r.url, r.profile.name, zarr_format)


def _write_plain(ds: xr.Dataset, store: CubeStore, *, mode: str, zarr_format: int,
                 consolidated: bool, **kwargs: Any) -> None:
    import zarr

    cast(Any, ds).to_zarr(store, mode=mode, consolidated=False, zarr_format=zarr_format, **kwargs)
    if consolidated and kwargs.get("compute", True) is not False:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
            zarr.consolidate_metadata(store, zarr_format=cast(Any, zarr_format))


def _write_fast(ds: xr.Dataset, store: CubeStore, *, mode: str, zarr_format: int, fresh: bool,
                appending: bool, queued: int, **kwargs: Any) -> None:
    """Chunks go out in the background, at most ``queued`` bytes of them queued or in flight:
    a dask task (or xarray's variable-by-variable write of in-memory data) hands a chunk over and
    goes on, so few dask threads keep many requests in flight, holding each chunk once."""
    # format 3 keeps the consolidated metadata in the root zarr.json: write that one at the end
    root = ZARR_JSON if zarr_format == 3 else None
    kwargs.pop("compute", None)
    flushed = False
    with store.buffered(fresh=fresh):  # the marker stays on error: the cube is incomplete
        try:
            store.background_bytes = queued
            delayed = cast(Any, ds).to_zarr(store, mode=mode, consolidated=False,
                                            zarr_format=zarr_format, compute=False, **kwargs)
            # a new cube's array metadata goes out with its chunks; an append's grown shapes
            # only after its chunks, so that the cube keeps its old length until it completes
            early = [] if appending else [k for k in store.pending if k != root]
            sync(store.flush(early))
            flushed = True
            delayed.compute()
            store.background_bytes = 0
        except BaseException:
            sync(store.cancel_background())  # nothing more goes out for a write that failed
            # xarray refused the dataset (a bad encoding, say) while only coordinates had gone
            # out, into a place that was empty: take them back
            if fresh and not flushed and not store.resuming:
                store.end_write()
                try:
                    sync(store.undo_fresh_write())
                except Exception:  # noqa: BLE001 - the first error is the one to report
                    pass
            raise
        sync(_write_consolidated(store, zarr_format))


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
        if k == ZMETADATA_V2_JSON:
            continue
        await mem.set(k, proto.buffer.from_bytes(v))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        await za.consolidate_metadata(mem, zarr_format=cast(Any, zarr_format))
    changed: dict[str, Buffer] = {}
    async for k in mem.list():
        buf = await mem.get(k, proto)
        if buf is not None and not _same_json(known.get(k), buf.to_bytes()):
            changed[k] = buf
    for k, new in changed.items():
        await store.set(k, new)  # buffered: goes out with the flushes below
    last = consolidated_key(zarr_format)
    await store.flush([k for k in store.pending if k != last])
    # Read one metadata object back while the commit point goes out: proves the cube opens with
    # these credentials, which a profile that may write but not read (write-only keys, anonymous
    # on a permissive bucket) would otherwise only find out at the first open.
    probe = next((k for k in sorted(known) if k not in (last, ZMETADATA_V2_JSON)), None)
    checks = [store.read(probe)] if probe else []
    await asyncio.gather(store.flush([last]), *checks)
