"""Open a cube in two round trips: consolidated metadata, then every index coordinate at once,
served to zarr and xarray from a :class:`~objstore.cubestore.CubeStore`."""

from __future__ import annotations

import asyncio
import json
import math
import warnings
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from zarr.core.sync import sync

from . import allocator, format_memo, perf

if TYPE_CHECKING:
    import xarray as xr

    from .api import Resolved


from .cache import cache_for
from .cubestore import CubeStore
from .zarr_keys import (
    ZARR_JSON,
    ZARRAY_JSON,
    ZATTRS_JSON,
    ZMETADATA_V2_JSON,
    chunk_keys,
    consolidated_key,
    key_encoding,
)

__all__ = ["NoConsolidatedMetadata", "open_dataset"]


class NoConsolidatedMetadata(Exception):
    """The cube has no consolidated metadata (``.zmetadata`` / ``consolidated_metadata``)."""

    def __init__(self, found: bool) -> None:
        super().__init__("no consolidated metadata")
        self.found = found  # some metadata exists (an unconsolidated cube)


async def _prefetch(store: CubeStore, order: list[int], group: str | None) -> tuple[int, dict]:
    """Fetch the consolidated metadata (formats tried in ``order``), then every index
    coordinate's chunks; prime ``store`` with them.

    Returns ``(zarr_format, arrays)`` where ``arrays`` maps array paths to their parsed metadata
    (``{"dims", "shape", "chunks", "itemsize", "keys"}``). Raises NoConsolidatedMetadata.
    """
    fmt = None
    raw: bytes | None = None
    found_any = False
    for f in order:
        raw = await store.read(consolidated_key(f))
        if raw is None:
            continue
        found_any = True
        if f == 3 and not (json.loads(raw).get("consolidated_metadata") or {}).get("metadata"):
            store.prime({ZARR_JSON: raw})
            raise NoConsolidatedMetadata(found=True)
        fmt = f
        break
    if fmt is None or raw is None:
        raise NoConsolidatedMetadata(found=found_any)

    cache: dict[str, bytes | None] = {}
    arrays: dict[str, dict[str, Any]] = {}
    if fmt == 2:
        cache[ZMETADATA_V2_JSON] = raw
        cache[ZARR_JSON] = None
        flat = json.loads(raw).get("metadata", {})
        for k, v in flat.items():
            cache[k] = json.dumps(v).encode()
        for k, v in flat.items():
            parent, _, name = k.rpartition("/")
            if name == ZARRAY_JSON:
                attrs = flat.get(f"{parent}/{ZATTRS_JSON}" if parent else ZATTRS_JSON, {})
                arrays[parent] = _info_v2(parent, v, attrs)
    else:
        doc = json.loads(raw)
        cache[ZARR_JSON] = raw
        cache[ZMETADATA_V2_JSON] = None
        for path, meta in _flatten_v3(doc.get("consolidated_metadata", {}).get("metadata", {})):
            cache[f"{path}/{ZARR_JSON}"] = json.dumps(meta).encode()
            if meta.get("node_type") == "array":
                arrays[path] = _info_v3(path, meta)
    store.prime(cache, authoritative=True)

    # index coordinates of the group being opened: 1-D arrays named like their dimension
    gp = (group or "").strip("/")
    wanted: list[str] = []
    for path, info in arrays.items():
        parent, _, name = path.rpartition("/")
        if parent == gp and info["dims"] == (name,):
            wanted.extend(info["keys"])

    async def one(key: str) -> None:  # (the store keeps max_concurrency requests in flight)
        store.prime({key: await store.read(key)})

    await asyncio.gather(*(one(k) for k in wanted))
    return fmt, arrays


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
    dims = tuple(attrs.get("_ARRAY_DIMENSIONS") or ())
    n = len(shape)
    dims = dims if len(dims) == n else tuple(f"dim_{i}" for i in range(n))
    keys = chunk_keys(path, shape, chunks, key_encoding(zarray, 2))
    return {"dims": dims, "shape": tuple(shape), "chunks": tuple(chunks),
            "itemsize": _itemsize(zarray.get("dtype", "<f8")), "keys": keys}


def _info_v3(path: str, meta: Mapping[str, Any]) -> dict[str, Any]:
    shape = list(meta.get("shape", []))
    grid = meta.get("chunk_grid", {}).get("configuration", {})
    chunks = list(grid.get("chunk_shape", shape))
    names = meta.get("dimension_names") or []
    n = len(shape)
    dims = tuple(d or f"dim_{i}" for i, d in enumerate(names)) if len(names) == n else tuple(
        f"dim_{i}" for i in range(n))
    dtype = meta.get("data_type", "float64")
    if isinstance(dtype, Mapping):
        dtype = dtype.get("name", "float64")
    dtype = {"numpy.datetime64": "M8[ns]", "numpy.timedelta64": "m8[ns]"}.get(str(dtype), dtype)
    return {"dims": dims, "shape": tuple(shape), "chunks": tuple(chunks),
            "itemsize": _itemsize(dtype), "keys": chunk_keys(path, shape, chunks,
                                                              key_encoding(meta, 3))}


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


def probe_order(r: Resolved, zarr_format: int | None) -> list[int]:
    """Formats to look for, in order: the one given, else the one last seen for this cube (or its
    bucket), then the other; format 2 first when nothing is known (objstore's default, and most
    published cubes)."""
    if zarr_format in (2, 3):
        return [zarr_format]
    first = format_memo.known(r.url, r.profile.name) or 2
    return [first, 5 - first]


def open_dataset(r: Resolved, *, consolidated: bool | None = None,
                 **kwargs: Any) -> xr.Dataset:
    """Open the cube of ``r`` (see :func:`objstore.open_cube`). Raises NoConsolidatedMetadata
    when ``consolidated`` is None/True and there is none (the caller decides how to fall back)."""
    import xarray as xr

    store = r.zarr_store(read_only=True)
    if not isinstance(store, CubeStore):
        store = CubeStore(store, max_concurrency=perf.max_concurrency(r.profile))
    store.cache_metadata = True
    allocator.fix_mmap_threshold()
    store.local_cache = cache_for(r, kwargs.pop("cache", None), kwargs.pop("cache_size", None),
                                  store.inner)
    if consolidated is False:
        return xr.open_zarr(store, consolidated=False, **kwargs)

    fmt, arrays = sync(_prefetch(store, probe_order(r, kwargs.get("zarr_format")),
                                 kwargs.get("group")))
    format_memo.remember(r.url, r.profile.name, fmt)
    store.bound_read_memory(max((math.prod(a["chunks"]) * a["itemsize"] for a in arrays.values()),
                                default=0))
    if "chunks" not in kwargs:
        drop = kwargs.get("drop_variables") or ()
        drop = [drop] if isinstance(drop, str) else list(drop)
        kwargs["chunks"] = _default_chunks(arrays, kwargs.get("group"), drop,
                                           store.max_concurrency)
    kwargs.setdefault("zarr_format", fmt)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        return xr.open_zarr(store, consolidated=True, **kwargs)
