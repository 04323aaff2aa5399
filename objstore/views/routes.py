"""xpublish plugins: plots and group-by diagnostics of every served dataset.

    GET /datasets/{id}/plot/{var}/{kind}/{cmap}[/{selection}]   ?format=png|svg&width=&height=&dpi=
    GET /datasets/{id}/groupby/{var}/{coord}/{action}[/{selection}]   ?format=json|zarr|netcdf|png

Images carry an ETag and Cache-Control (304 on If-None-Match); reading and computing run in worker
threads with dask's current scheduler (a ``dask.distributed`` client when the server has one).
"""


import re
from collections.abc import Sequence
from typing import Annotated, Any

import xarray as xr
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from xpublish import Dependencies, Plugin, hookimpl

from ..errors import ViewError
from . import encode
from .groupby import MAX_READ_BYTES, MAX_RESULT_BYTES, compute, prepare_groupby
from .http import CACHE_CONTROL, etag_of, http_errors, not_modified, off_loop
from .plot import FORMATS, Prepared, check_size, draw, prepare, visible

__all__ = ["PlotPlugin", "GroupByPlugin"]

ID_ATTR = "_xpublish_id"
GROUPBY_FORMATS = ("json", "zarr", "netcdf", "png")
#: an SVG drawn from dataset attributes is shown, never run: no scripts, no outside resources
IMAGE_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                 "X-Content-Type-Options": "nosniff"}


def dataset_name(ds: xr.Dataset) -> str:
    """What a plot title calls the dataset: its title attribute, else its id."""
    return str(ds.attrs.get("title") or ds.attrs.get(ID_ATTR) or "")


def _token(da: xr.DataArray) -> str:
    from dask.base import tokenize

    return tokenize(da)


class PlotPlugin(Plugin):
    """``/datasets/{id}/plot/{var}/{kind}/{cmap}/{selection}``: PNG or SVG images."""

    name: str = "objstore-plot"
    dataset_router_prefix: str = "/plot"
    dataset_router_tags: Sequence[str] = ["views"]

    @hookimpl
    def dataset_router(self, deps: Dependencies) -> APIRouter:
        router = APIRouter(prefix=self.dataset_router_prefix, tags=list(self.dataset_router_tags))

        async def plot(request: Request, dataset: Annotated[xr.Dataset, Depends(deps.dataset)],
                       cache: Annotated[Any, Depends(deps.cache)], var: str, kind: str,
                       cmap: str, selection: str = "", format: str = "png", width: int = 800,
                       height: int = 500, dpi: int = 100) -> Response:
            """A plot of ``var``: kind map|pcolormesh|contourf|line|hist, any matplotlib
            colormap, a selection such as ``time=2020-01-15/lat=30:60`` or ``time=[0]``."""
            with http_errors():
                if format not in FORMATS:
                    raise ViewError(f"unknown image format {format[:20]!r}: use png or svg")
                check_size(width, height, dpi)

            def check() -> tuple[Prepared, str]:
                p = prepare(dataset, var, kind, cmap, selection)
                tag = etag_of(dataset.attrs.get(ID_ATTR), dataset_name(dataset), var, kind, cmap,
                              p.selection, format, width, height, dpi, _token(p.data))
                return p, tag

            p, tag = await off_loop(check)
            if (hit := not_modified(request, tag)) is not None:
                return hit
            image = cache.get(f"objstore-plot/{tag}")
            if image is None:
                image = await off_loop(lambda: draw(
                    p, visible(p, width, height).load(), fmt=format, width=width,
                    height=height, dpi=dpi, dataset=dataset_name(dataset)))
                cache.put(f"objstore-plot/{tag}", image, 1)
            media = "image/svg+xml" if format == "svg" else "image/png"
            return Response(image, media_type=media, headers={
                "ETag": tag, "Cache-Control": CACHE_CONTROL, **IMAGE_HEADERS})

        router.get("/{var}/{kind}/{cmap}", name="plot")(plot)
        router.get("/{var}/{kind}/{cmap}/{selection:path}", name="plot_selection")(plot)
        return router


class GroupByPlugin(Plugin):
    """``/datasets/{id}/groupby/{var}/{coord}/{action}/{selection}``: diagnostics on the server."""

    name: str = "objstore-groupby"
    dataset_router_prefix: str = "/groupby"
    dataset_router_tags: Sequence[str] = ["views"]
    max_read_bytes: int = MAX_READ_BYTES
    max_result_bytes: int = MAX_RESULT_BYTES

    @hookimpl
    def dataset_router(self, deps: Dependencies) -> APIRouter:
        router = APIRouter(prefix=self.dataset_router_prefix, tags=list(self.dataset_router_tags))
        limits = {"max_read_bytes": self.max_read_bytes,
                  "max_result_bytes": self.max_result_bytes}

        async def groupby(request: Request,
                          dataset: Annotated[xr.Dataset, Depends(deps.dataset)], var: str,
                          coord: str, action: str, selection: str = "",
                          format: str = "json") -> Response:
            """``var`` grouped by a coordinate or a date part (``time.month``, ``time.season``,
            ``time.year``) and reduced with mean|sum|min|max|std|var|median|count."""
            with http_errors():
                if format not in GROUPBY_FORMATS:
                    raise ViewError(f"unknown format {format[:20]!r}: use one of "
                                    f"{', '.join(GROUPBY_FORMATS)}")
            g = await off_loop(lambda: prepare_groupby(dataset, var, coord, action, selection,
                                                       **limits))
            tag = etag_of(dataset.attrs.get(ID_ATTR), var, coord, action, g.selection, format,
                          await off_loop(lambda: _token(g.data)))
            if (hit := not_modified(request, tag)) is not None:
                return hit
            result = await off_loop(lambda: compute(g))
            headers = {"ETag": tag, "Cache-Control": CACHE_CONTROL, **IMAGE_HEADERS}
            if format == "json":
                body = await off_loop(lambda: encode.to_json(result))
                body.update(dataset=dataset.attrs.get(ID_ATTR), variable=var, coord=coord,
                            action=action, selection=str(g.selection))
                return JSONResponse(body, headers=headers)
            stem = _filename(f"{var}-{coord}-{action}")
            if format == "png":
                image = await off_loop(lambda: _plot_result(result, dataset, g.var))
                return Response(image, media_type="image/png", headers=headers)
            if format == "netcdf":
                data = await off_loop(lambda: encode.to_netcdf(result))
                name = f"{stem}.nc"
            else:
                data = await off_loop(lambda: encode.to_zarr_zip(result))
                name = f"{stem}.zarr.zip"
            headers["Content-Disposition"] = f'attachment; filename="{name}"'
            return Response(data, media_type=encode.MEDIA_TYPES[format], headers=headers)

        router.get("/{var}/{coord}/{action}", name="groupby")(groupby)
        router.get("/{var}/{coord}/{action}/{selection:path}", name="groupby_selection")(groupby)
        return router


def _plot_result(result: xr.DataArray, dataset: xr.Dataset, var: str) -> bytes:
    """A line (1-D result) or a map (2-D result) of a group-by result."""
    dims = result.squeeze().ndim
    if dims not in (1, 2):
        raise ViewError(f"a plot of the result needs 1 or 2 dimensions, it has "
                        f"{', '.join(str(d) for d in result.dims)}: add a selection, or ask "
                        f"for format=json|zarr|netcdf")
    ds = result.squeeze().to_dataset(name=var)
    p = prepare(ds, var, "line" if dims == 1 else "map")
    return draw(p, p.data, fmt="png", width=800, height=500, dpi=100,
                dataset=dataset_name(dataset))


def _filename(text: str) -> str:
    return re.sub(r"[^\w.\-]+", "_", text)[:100]
