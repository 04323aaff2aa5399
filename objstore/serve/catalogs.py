"""``/intake.yaml`` (intake v1: one entry per dataset, ``method`` zarr or kerchunk) and
``/stac-collection-all.json`` (one STAC Item per dataset) describing what this server serves.
Unavailable datasets are left out of both. The entries and Items come from objstore.catalog's
builders; the routes add the `method` parameter and the zarr2 and kerchunk assets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from pydantic import PrivateAttr
from starlette.responses import JSONResponse, Response
from xpublish import Dependencies, Plugin, hookimpl

from ..catalog import intake_catalog as catalog_of
from ..catalog import intake_source
from ..catalog import stac_collection as collection_of
from ..catalog import stac_item as item_of
from .datasets import Unavailable

if TYPE_CHECKING:
    import pystac
    import xarray as xr

    from .datasets import Datasets, Entry

__all__ = ["CatalogPlugin", "intake_yaml", "stac_collection", "stac_item"]


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
    sources: dict[str, Any] = {}
    for e, ds in _available(datasets):
        sid = e.spec.id
        src = intake_source(ds, urlpath=f"{root}/datasets/{sid}/{{{{ method }}}}", driver="zarr",
                            engine="{{ method }}", description=_description(e, ds),
                            extra_args={"chunks": {}})
        src["args"].pop("consolidated", None)  # the kerchunk engine sets it itself
        src["parameters"] = {"method": {
            "description": "zarr (format 3, computed by the server) or kerchunk (the stored "
                           "chunks passed through)",
            "type": "str", "default": "zarr", "allowed": ["zarr", "kerchunk"]}}
        sources[sid] = src
    return catalog_of(sources, description="datasets served by objstore serve")


def _item(e: Entry, ds: xr.Dataset, root: str) -> pystac.Item:
    """One Item: a ``data`` asset (zarr format 3), ``zarr2`` and ``kerchunk`` assets."""
    import pystac

    sid = e.spec.id
    base = f"{root}/datasets/{sid}"
    item = item_of(ds, item_id=sid, href=f"{base}/zarr", open_kwargs={"engine": "zarr",
                                                                          "chunks": {}},
                     title=e.spec.title or ds.attrs.get("title") or sid,
                     description=_description(e, ds))
    item.add_asset("zarr2", pystac.Asset(
        href=f"{base}/zarr2", media_type="application/vnd+zarr", roles=["data"],
        title="zarr format 2", extra_fields={"xarray:open_kwargs": {"engine": "zarr",
                                                                   "chunks": {}},
                                             "zarr:zarr_format": 2, "zarr:consolidated": True}))
    item.add_asset("kerchunk", pystac.Asset(
        href=f"{base}/kerchunk", media_type=pystac.MediaType.JSON, roles=["references"],
        title="kerchunk references (stored chunks passed through)",
        extra_fields={"xarray:open_kwargs": {"chunks": {}}}))
    return item


def stac_collection(datasets: Datasets, root: str, title: str) -> dict[str, Any]:
    """A STAC Collection with one Item per available dataset, as JSON."""
    items = [_item(e, ds, root) for e, ds in _available(datasets)]
    coll = collection_of(items, collection_id="objstore-serve", title=title,
                      description=f"{title}: every served dataset")
    coll.set_self_href(f"{root}/stac-collection-all.json")
    for item in items:
        item.set_self_href(f"{root}/stac/{item.id}.json")
    return coll.to_dict(transform_hrefs=False)


def stac_item(datasets: Datasets, dataset_id: str, root: str) -> dict[str, Any]:
    """The STAC Item of one dataset (404 when unknown or unavailable)."""
    import pystac
    from fastapi import HTTPException

    for e, ds in _available(datasets):
        if e.spec.id == dataset_id:
            item = _item(e, ds, root)
            item.set_self_href(f"{root}/stac/{dataset_id}.json")
            item.add_link(pystac.Link("collection", f"{root}/stac-collection-all.json",
                                      media_type=pystac.MediaType.JSON))
            return item.to_dict(transform_hrefs=False)
    raise HTTPException(404, detail=f"no available dataset {dataset_id!r}")


class CatalogPlugin(Plugin):
    """The intake and STAC catalogs of the served datasets."""

    name: str = "objstore-catalogs"
    _registry: Any = PrivateAttr(None)  # the served Datasets, set by bind()
    public_url: str | None = None
    app_router_tags: Sequence[str] = ["catalogs"]

    def bind(self, datasets: Datasets) -> CatalogPlugin:
        self._registry = datasets
        return self

    @hookimpl
    def app_router(self, deps: Dependencies) -> APIRouter:
        router = APIRouter(tags=list(self.app_router_tags))

        def root(request: Request) -> str:
            return (self.public_url or str(request.base_url)).rstrip("/")

        @router.get("/intake.yaml")
        def intake_catalog(request: Request) -> Response:
            """intake v1 catalog: ``intake.open_catalog(URL)[id](method="kerchunk")``."""
            text = intake_yaml(self._registry, root(request))
            return Response(text, media_type="application/x-yaml")

        @router.get("/stac-collection-all.json")
        def stac_all(request: Request) -> JSONResponse:
            """A STAC Collection with one Item per served dataset."""
            title = request.app.title
            return JSONResponse(stac_collection(self._registry, root(request), title))

        @router.get("/stac/{dataset_id}.json")
        def stac_one(dataset_id: str, request: Request) -> JSONResponse:
            """The STAC Item of one dataset."""
            return JSONResponse(stac_item(self._registry, dataset_id, root(request)))

        return router
