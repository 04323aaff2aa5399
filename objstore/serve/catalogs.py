"""``/intake.yaml`` (intake v1: one entry per dataset, ``method`` zarr or kerchunk) and
``/stac-collection-all.json`` (one STAC Item per dataset) describing what this server serves.
Unavailable datasets are left out of both."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response
from xpublish import Dependencies, Plugin, hookimpl

from .datasets import Unavailable

if TYPE_CHECKING:
    import pystac
    import xarray as xr

    from .datasets import Datasets, Entry

__all__ = ["CatalogPlugin", "intake_yaml", "stac_collection"]

log = logging.getLogger("objstore.serve")


def _available(datasets: Datasets) -> list[tuple[Entry, xr.Dataset]]:
    out = []
    for e in datasets.entries():
        try:
            out.append((e, e.dataset()))
        except Unavailable:
            continue
    return out


def _description(e: Entry, ds: xr.Dataset) -> str:
    return e.spec.description or e.spec.title or str(ds.attrs.get("title") or e.spec.id)


def intake_yaml(datasets: Datasets, root: str) -> str:
    """An intake v1 catalog: ``cat[id](method="kerchunk").to_dask()``."""
    import yaml

    sources: dict[str, Any] = {}
    for e, ds in _available(datasets):
        sid = e.spec.id
        sources[sid] = {
            "description": _description(e, ds),
            "driver": "zarr",
            "parameters": {"method": {
                "description": "zarr (format 3, computed by the server) or kerchunk (the "
                               "stored chunks passed through)",
                "type": "str", "default": "zarr", "allowed": ["zarr", "kerchunk"]}},
            "args": {"urlpath": f"{root}/datasets/{sid}/{{{{ method }}}}",
                     "engine": "{{ method }}", "chunks": {}},
            "metadata": {"title": e.spec.title or ds.attrs.get("title") or sid,
                         "variables": sorted(map(str, ds.data_vars))},
        }
    doc = {"metadata": {"version": 1, "description": "datasets served by objstore serve"},
           "sources": sources}
    return yaml.safe_dump(doc, sort_keys=False)


def _extent(ds: xr.Dataset) -> tuple[list[float], Any, Any]:
    """(bbox, start, end) from lat/lon and time coordinates where present."""
    import numpy as np
    import pandas as pd

    bbox = [-180.0, -90.0, 180.0, 90.0]
    lat = next((ds[n] for n in ("lat", "latitude", "y") if n in ds.coords), None)
    lon = next((ds[n] for n in ("lon", "longitude", "x") if n in ds.coords), None)
    if lat is not None and lon is not None and lat.ndim == 1 and lon.ndim == 1:
        try:
            bbox = [float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())]
        except (TypeError, ValueError):
            pass
    start = end = None
    if "time" in ds.coords and ds["time"].ndim == 1 and ds.sizes.get("time"):
        t = ds["time"].values
        if np.issubdtype(t.dtype, np.datetime64):
            start, end = pd.Timestamp(t.min()).to_pydatetime(), pd.Timestamp(t.max()).to_pydatetime()
    return bbox, start, end


def _item(e: Entry, ds: xr.Dataset, root: str) -> pystac.Item:
    import datetime as dt

    import pystac

    sid = e.spec.id
    bbox, start, end = _extent(ds)
    w, s, east, n = bbox
    geometry = {"type": "Polygon",
                "coordinates": [[[w, s], [east, s], [east, n], [w, n], [w, s]]]}
    when = None if start else dt.datetime.now(dt.UTC)
    item = pystac.Item(id=sid, geometry=geometry, bbox=bbox, datetime=when,
                       start_datetime=start, end_datetime=end,
                       properties={"title": e.spec.title or ds.attrs.get("title") or sid,
                                   "description": _description(e, ds)})
    base = f"{root}/datasets/{sid}"
    item.add_asset("zarr", pystac.Asset(
        href=f"{base}/zarr", media_type="application/vnd+zarr", roles=["data"],
        title="zarr format 3", extra_fields={"xarray:open_kwargs": {"engine": "zarr",
                                                                   "chunks": {}},
                                             "zarr:zarr_format": 3, "zarr:consolidated": True}))
    item.add_asset("zarr2", pystac.Asset(
        href=f"{base}/zarr2", media_type="application/vnd+zarr", roles=["data"],
        title="zarr format 2", extra_fields={"xarray:open_kwargs": {"engine": "zarr",
                                                                   "chunks": {}},
                                             "zarr:zarr_format": 2, "zarr:consolidated": True}))
    item.add_asset("kerchunk", pystac.Asset(
        href=f"{base}/kerchunk", media_type=pystac.MediaType.JSON, roles=["references"],
        title="kerchunk references (stored chunks passed through)",
        extra_fields={"xarray:open_kwargs": {"chunks": {}}}))
    _datacube(item, ds)
    return item


def _datacube(item: pystac.Item, ds: xr.Dataset) -> None:
    """The datacube extension's dimensions and variables, best effort."""
    try:
        from pystac.extensions.datacube import DatacubeExtension, Dimension, Variable
    except ImportError:
        return
    cube = DatacubeExtension.ext(item, add_if_missing=True)
    dims = {}
    for d in ds.dims:
        kind = "temporal" if d == "time" else "spatial" if d in ("lat", "lon", "latitude",
                                                                 "longitude", "x", "y") else "other"
        props: dict[str, Any] = {"type": kind}
        if kind == "spatial":
            props["axis"] = "y" if d in ("lat", "latitude", "y") else "x"
        dims[str(d)] = Dimension(props)
    cube.dimensions = dims
    cube.variables = {str(n): Variable({"type": "data", "dimensions": [str(d) for d in v.dims],
                                        **({"unit": str(v.attrs["units"])}
                                           if "units" in v.attrs else {})})
                      for n, v in ds.data_vars.items()}


def stac_collection(datasets: Datasets, root: str, title: str) -> dict[str, Any]:
    """A STAC Collection with one Item per available dataset, as JSON."""
    import pystac

    items = [_item(e, ds, root) for e, ds in _available(datasets)]
    bboxes = [i.bbox for i in items if i.bbox] or [[-180.0, -90.0, 180.0, 90.0]]
    spatial = pystac.SpatialExtent([[min(b[0] for b in bboxes), min(b[1] for b in bboxes),
                                     max(b[2] for b in bboxes), max(b[3] for b in bboxes)]])
    coll = pystac.Collection(id="objstore-serve", description=f"{title}: every served dataset",
                             title=title, extent=pystac.Extent(
                                 spatial, pystac.TemporalExtent([[None, None]])))
    coll.set_self_href(f"{root}/stac-collection-all.json")
    for item in items:
        coll.add_item(item)
        item.set_self_href(f"{root}/stac/{item.id}.json")
    return coll.to_dict(transform_hrefs=False)


def stac_item(datasets: Datasets, dataset_id: str, root: str) -> dict[str, Any]:
    """The STAC Item of one dataset (404 when unknown or unavailable)."""
    from fastapi import HTTPException

    for e, ds in _available(datasets):
        if e.spec.id == dataset_id:
            item = _item(e, ds, root)
            item.set_self_href(f"{root}/stac/{dataset_id}.json")
            item.add_link(pystac_link("collection", f"{root}/stac-collection-all.json"))
            return item.to_dict(transform_hrefs=False)
    raise HTTPException(404, detail=f"no available dataset {dataset_id!r}")


def pystac_link(rel: str, href: str) -> Any:
    import pystac

    return pystac.Link(rel, href, media_type=pystac.MediaType.JSON)


class CatalogPlugin(Plugin):
    """The intake and STAC catalogs of the served datasets."""

    name: str = "objstore-catalogs"
    public_url: str | None = None
    app_router_tags: Sequence[str] = ["catalogs"]

    def bind(self, datasets: Datasets) -> CatalogPlugin:
        self.__dict__["_registry"] = datasets
        return self

    @hookimpl
    def app_router(self, deps: Dependencies) -> APIRouter:
        router = APIRouter(tags=list(self.app_router_tags))

        def root(request: Request) -> str:
            return (self.public_url or str(request.base_url)).rstrip("/")

        @router.get("/intake.yaml")
        def intake_catalog(request: Request) -> Response:
            """intake v1 catalog: ``intake.open_catalog(URL)[id](method="kerchunk")``."""
            text = intake_yaml(self.__dict__["_registry"], root(request))
            return Response(text, media_type="application/x-yaml")

        @router.get("/stac-collection-all.json")
        def stac_all(request: Request) -> JSONResponse:
            """A STAC Collection with one Item per served dataset."""
            title = request.app.title
            return JSONResponse(stac_collection(self.__dict__["_registry"], root(request), title))

        @router.get("/stac/{dataset_id}.json")
        def stac_one(dataset_id: str, request: Request) -> JSONResponse:
            """The STAC Item of one dataset."""
            return JSONResponse(stac_item(self.__dict__["_registry"], dataset_id, root(request)))

        return router
