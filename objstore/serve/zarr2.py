"""``/datasets/{id}/zarr2``: the dataset as a zarr format 2 store with consolidated ``.zmetadata``
(the route xpublish 0.5 dropped), for zarr-python 2 clients and plain fsspec mappers. Chunks are
computed and encoded on request."""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, HTTPException, Path
from starlette.responses import Response
from xpublish import Dependencies, Plugin, hookimpl

from ..zarr_keys import ZATTRS_JSON, ZGROUP_JSON, ZMETADATA_V2_JSON
from .guard import chunk_grid

if TYPE_CHECKING:
    import xarray as xr
    from zarr.storage import MemoryStore

__all__ = ["Zarr2Plugin", "metadata_store", "encode_chunk", "v2_chunk_keys"]

_STORES: dict[int, Any] = {}


def metadata_store(ds: xr.Dataset) -> MemoryStore:
    """A format-2 MemoryStore holding the metadata of ``ds`` (and its small numpy variables),
    built once per served dataset object."""
    key = id(ds)
    cached = _STORES.get(key)
    if cached is not None and cached[0] is ds:
        return cached[1]
    from zarr.storage import MemoryStore

    store = MemoryStore()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.to_zarr(store, zarr_format=2, compute=False, consolidated=True)
    if len(_STORES) > 256:
        _STORES.clear()
    _STORES[key] = (ds, store)
    return store


def _get(store: MemoryStore, key: str) -> bytes | None:
    from zarr.core.buffer import default_buffer_prototype

    buf = asyncio.run(store.get(key, prototype=default_buffer_prototype()))
    return None if buf is None else buf.to_bytes()


def metadata(ds: xr.Dataset) -> dict[str, Any]:
    """The consolidated metadata (``.zmetadata``'s ``metadata`` table)."""
    return json.loads(_get(metadata_store(ds), ZMETADATA_V2_JSON) or b"{}")["metadata"]


def v2_chunk_keys(ds: xr.Dataset, name: str) -> list[str]:
    """Every chunk key of variable ``name`` (``name/0.0``, ...)."""
    import itertools

    _, grid = chunk_grid(ds.variables[name])
    if not grid:
        return [f"{name}/0"]
    return [f"{name}/" + ".".join(map(str, idx)) for idx in itertools.product(*map(range, grid))]


def encode_chunk(ds: xr.Dataset, name: str, coords: tuple[int, ...]) -> bytes:
    """Chunk ``coords`` of ``name``, computed and encoded as the format-2 store's codecs say."""
    import numpy as np
    from xarray.backends.zarr import encode_zarr_variable

    store = metadata_store(ds)
    stored = _get(store, f"{name}/" + (".".join(map(str, coords)) or "0"))
    if stored is not None:  # numpy variables were written with the metadata
        return stored
    var = encode_zarr_variable(ds.variables[name], name=name)
    chunks, _ = chunk_grid(var)
    slices = tuple(slice(c * n, min((c + 1) * n, s))
                   for c, n, s in zip(coords, chunks, var.shape, strict=True))
    data = np.asarray(var[slices].values) if slices else np.asarray(var.values)
    zarray = _get(store, f"{name}/.zarray")
    return asyncio.run(_encode(zarray or b"{}", name, slices, data, coords))


async def _encode(zarray: bytes, name: str, slices: tuple[slice, ...], data: Any,
                  coords: tuple[int, ...]) -> bytes:
    import zarr.api.asynchronous
    from zarr.core.buffer import default_buffer_prototype
    from zarr.storage import MemoryStore

    scratch = MemoryStore()
    await scratch.set(f"{name}/.zarray", default_buffer_prototype().buffer.from_bytes(zarray))
    arr = await zarr.api.asynchronous.open_array(store=scratch, path=name, mode="r+",
                                                 zarr_format=2)
    await arr.setitem(slices or ..., data)
    key = f"{name}/" + (".".join(map(str, coords)) or "0")
    buf = await scratch.get(key, prototype=default_buffer_prototype())
    if buf is None:  # zarr skips chunks that equal the fill value: encode it anyway
        arr = await zarr.api.asynchronous.open_array(
            store=scratch, path=name, mode="r+", zarr_format=2,
            config={"write_empty_chunks": True})
        await arr.setitem(slices or ..., data)
        buf = await scratch.get(key, prototype=default_buffer_prototype())
    assert buf is not None
    return buf.to_bytes()


class Zarr2Plugin(Plugin):
    """Zarr format 2 endpoints with consolidated metadata."""

    name: str = "objstore-zarr2"
    dataset_router_prefix: str = "/zarr2"
    dataset_router_tags: Sequence[str] = ["zarr2"]

    @hookimpl
    def dataset_router(self, deps: Dependencies) -> APIRouter:
        router = APIRouter(prefix=self.dataset_router_prefix, tags=list(self.dataset_router_tags))
        dataset_dep = Depends(deps.dataset)

        def json_key(key: str, ds: xr.Dataset) -> Response:
            payload = _get(metadata_store(ds), key)
            if payload is None:
                raise HTTPException(404, detail=f"no key {key!r} in this store")
            return Response(payload, media_type="application/json")

        @router.get("/.zmetadata")
        def zmetadata(dataset: xr.Dataset = dataset_dep) -> Response:
            """Consolidated metadata of the whole store."""
            return json_key(ZMETADATA_V2_JSON, dataset)

        @router.get("/.zgroup")
        def zgroup(dataset: xr.Dataset = dataset_dep) -> Response:
            return json_key(ZGROUP_JSON, dataset)

        @router.get("/.zattrs")
        def zattrs(dataset: xr.Dataset = dataset_dep) -> Response:
            return json_key(ZATTRS_JSON, dataset)

        @router.get("/{var}/{key}")
        def array_key(var: str = Path(description="Variable"),
                      key: str = Path(description=".zarray, .zattrs or a chunk key like 0.0.0"),
                      dataset: xr.Dataset = dataset_dep) -> Response:
            """Array metadata or one encoded chunk (the path was checked by the dataset guard)."""
            if key.startswith("."):
                return json_key(f"{var}/{key}", dataset)
            coords = tuple(int(p) for p in key.split(".")) if dataset.variables[var].ndim else ()
            return Response(encode_chunk(dataset, var, coords),
                            media_type="application/octet-stream")

        return router
