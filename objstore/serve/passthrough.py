"""``/datasets/{id}/kerchunk``: kerchunk references whose targets are this server's own routes.

For a zarr format 2 cube the targets are ``/datasets/{id}/kerchunk/VAR/0.0``, answered with the
stored chunk bytes as they are (no decoding, no re-encoding; the credentials stay on the server).
For anything else (NetCDF, format 3 cubes) they point at the ``/zarr2`` endpoint's encoded chunks,
so the same client snippet works for every dataset."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import PrivateAttr
from starlette.responses import JSONResponse, Response
from xpublish import Dependencies, Plugin, hookimpl

from ..zarr_keys import ZATTRS_JSON, ZGROUP_JSON
from . import zarr2

if TYPE_CHECKING:
    import xarray as xr

    from .datasets import Datasets, Entry

__all__ = ["PassThroughPlugin", "references"]


def _stored_metadata(entry: Entry) -> dict[str, Any] | None:
    """The cube's own consolidated format-2 metadata, or None when it has none."""
    if "zmetadata" not in entry.extras:
        meta = None
        r = entry.resolved
        if entry.kind == "zarr" and r is not None:
            try:
                meta = json.loads(r.fs.cat_file(f"{r.path.rstrip('/')}/.zmetadata"))["metadata"]
            except (FileNotFoundError, KeyError, ValueError):
                meta = None
        entry.extras["zmetadata"] = meta
    return entry.extras["zmetadata"]


def _stored_bytes(entry: Entry, key: str) -> bytes | None:
    """The object at ``key`` in the cube, as stored, through the cube's zarr store (the same
    requests in flight and no HEAD before the GET, as for open_cube)."""
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.sync import sync

    store = entry.extras.get("store")
    if store is None:
        assert entry.resolved is not None
        store = entry.extras["store"] = entry.resolved.zarr_store(read_only=True)
    buf = sync(store.get(key, prototype=default_buffer_prototype()))
    return None if buf is None else buf.to_bytes()


def references(entry: Entry, ds: xr.Dataset, base: str) -> dict[str, Any]:
    """Kerchunk (version 1) references for ``ds``; chunk targets start with ``base``
    (``.../datasets/{id}``)."""
    stored = _stored_metadata(entry)
    names = [str(n) for n in ds.variables]
    refs: dict[str, str | list[str]]
    if stored is None:
        refs = {k: json.dumps(v) for k, v in zarr2.metadata(ds).items()}
        for name in names:
            refs.update({k: [f"{base}/zarr2/{k}"] for k in zarr2.v2_chunk_keys(ds, name)})
        return {"version": 1, "refs": refs}
    refs = {k: json.dumps(v) for k, v in stored.items() if k in (ZGROUP_JSON, ZATTRS_JSON)}
    for name in names:
        zarray = stored.get(f"{name}/.zarray")
        if zarray is None:
            continue
        refs[f"{name}/.zarray"] = json.dumps({**zarray, "dimension_separator": "."})
        refs[f"{name}/.zattrs"] = json.dumps(stored.get(f"{name}/.zattrs", {}))
        for key in stored_chunk_keys(name, zarray):
            refs[key] = [f"{base}/kerchunk/{key}"]
    return {"version": 1, "refs": refs}


def stored_chunk_keys(name: str, zarray: dict[str, Any]) -> list[str]:
    """Chunk keys of a stored format-2 array, ``.``-separated."""
    import itertools
    import math

    shape, chunks = zarray.get("shape") or [], zarray.get("chunks") or []
    if not shape:
        return [f"{name}/0"]
    grid = [range(math.ceil(s / max(c, 1))) for s, c in zip(shape, chunks, strict=True)]
    return [f"{name}/" + ".".join(map(str, idx)) for idx in itertools.product(*grid)]


class PassThroughPlugin(Plugin):
    """Kerchunk references and the stored chunk bytes they point at."""

    name: str = "objstore-kerchunk"
    _registry: Any = PrivateAttr(None)  # the served Datasets, set by bind()
    dataset_router_prefix: str = "/kerchunk"
    dataset_router_tags: Sequence[str] = ["kerchunk"]
    public_url: str | None = None

    def _datasets(self) -> Datasets:
        return self._registry

    def bind(self, datasets: Datasets) -> PassThroughPlugin:
        self._registry = datasets
        return self

    @hookimpl
    def dataset_router(self, deps: Dependencies) -> APIRouter:
        router = APIRouter(prefix=self.dataset_router_prefix, tags=list(self.dataset_router_tags))
        dataset_dep = Depends(deps.dataset)

        @router.get("")
        def kerchunk_references(request: Request,
                                dataset_id: str = Path(description="Dataset id"),
                                dataset: xr.Dataset = dataset_dep) -> JSONResponse:
            """References for ``xr.open_dataset(URL, engine="kerchunk")``."""
            entry = self._datasets().entry(dataset_id)
            root = (self.public_url or str(request.base_url)).rstrip("/")
            return JSONResponse(references(entry, dataset, f"{root}/datasets/{dataset_id}"))

        @router.get("/{var}/{key}")
        def stored_chunk(dataset_id: str = Path(description="Dataset id"),
                         var: str = Path(description="Variable"),
                         key: str = Path(description="Chunk key like 0.0.0"),
                         dataset: xr.Dataset = dataset_dep) -> Response:
            """The bytes the cube stores for this chunk, unchanged."""
            entry = self._datasets().entry(dataset_id)
            stored = _stored_metadata(entry)
            if stored is None or f"{var}/.zarray" not in stored or key.startswith("."):
                raise HTTPException(404, detail="this dataset is not passed through: read the "
                                                "chunk from its zarr2 endpoint")
            sep = stored[f"{var}/.zarray"].get("dimension_separator") or "."
            data = _stored_bytes(entry, f"{var}/{key.replace('.', sep)}")
            if data is None:
                raise HTTPException(404, detail=f"chunk {var}/{key} is not stored (it holds "
                                                "the fill value)")
            return Response(data, media_type="application/octet-stream")

        return router
