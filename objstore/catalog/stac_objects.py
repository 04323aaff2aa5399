"""STAC Items and Collections for cubes, built with pystac from an opened dataset (no I/O).

Each Item has one ``data`` asset (zarr media type) with the xarray-assets extension
(``xarray:open_kwargs``, ``xarray:storage_options``), so ``xr.open_dataset(asset, engine="stac")``
(xpystac) opens it, and the datacube extension (``cube:dimensions``, ``cube:variables``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from .describe import dim_role, plain, spatial, time_range, value_range

if TYPE_CHECKING:
    import pystac
    import xarray as xr

__all__ = ["stac_item", "stac_collection", "NOTES"]

#: Item property listing what could not be known (bbox, datetime), for people and for the CLI
NOTES = "objstore:notes"


def stac_item(
    ds: xr.Dataset, *, item_id: str, href: str, media_type: str = "application/vnd+zarr",
    open_kwargs: dict[str, Any] | None = None, storage_options: dict[str, Any] | None = None,
    title: str | None = None, description: str | None = None,
) -> pystac.Item:
    """A STAC Item describing ``ds``, whose ``data`` asset at ``href`` opens with
    ``open_kwargs``/``storage_options``."""
    import pystac
    from pystac.extensions.datacube import DatacubeExtension
    from pystac.extensions.xarray_assets import AssetXarrayAssetsExtension, XarrayAssetsExtension

    notes: list[str] = []
    sp = spatial(ds)
    notes += sp.notes
    geometry = _polygon(sp.bbox) if sp.bbox else None
    tr = time_range(ds)
    props: dict[str, Any] = {}
    when: datetime | None = None
    if tr:
        props["start_datetime"], props["end_datetime"] = tr
    else:
        when = datetime.now(UTC).replace(microsecond=0)
        notes.append("no time coordinate: datetime is when this item was written")
    text = title or ds.attrs.get("title")
    if text:
        props["title"] = str(text)
    if description or ds.attrs.get("summary"):
        props["description"] = str(description or ds.attrs.get("summary"))
    if notes:
        props[NOTES] = notes
    item = pystac.Item(id=item_id, geometry=geometry, bbox=sp.bbox, datetime=when,
                       properties=props)

    asset = pystac.Asset(href=href, media_type=media_type, roles=["data"],
                         title=str(text) if text else None)
    item.add_asset("data", asset)
    xa = XarrayAssetsExtension.ext(asset, add_if_missing=True)
    assert isinstance(xa, AssetXarrayAssetsExtension)
    xa.open_kwargs = dict(open_kwargs) if open_kwargs else None
    xa.storage_options = dict(storage_options) if storage_options else None
    cube = DatacubeExtension.ext(item, add_if_missing=True)
    cube.apply(_dimensions(ds, sp.crs), _variables(ds))
    return item


def _polygon(b: list[float]) -> dict[str, Any]:
    w, s, e, n = b
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def _dimensions(ds: xr.Dataset, crs: int | str | None) -> dict[str, Any]:
    from pystac.extensions.datacube import Dimension

    dims = {}
    for dim in map(str, ds.dims):
        role = dim_role(ds, dim)
        has_coord = dim in ds.indexes
        extent = value_range(ds, dim) if has_coord else [0, int(ds.sizes[dim]) - 1]
        d: dict[str, Any]
        if role == "time":
            tr = time_range(ds[[dim]]) if has_coord else None
            d = {"type": "temporal", "extent": list(tr) if tr else [None, None]}
        elif role in ("x", "y", "z"):
            d = {"type": "spatial", "axis": role}
            if extent and not isinstance(extent[0], str):
                d["extent"] = extent
            else:
                d["values"] = _values(ds, dim)
            if role != "z" and crs is not None:
                d["reference_system"] = crs
        else:
            d = {"type": "other" if has_coord else "index"}
            if extent and not isinstance(extent[0], str):
                d["extent"] = extent
            else:
                d["values"] = _values(ds, dim)
        if not has_coord:
            d["description"] = "no coordinate: positions 0 to size - 1"
        else:
            units = ds[dim].attrs.get("units")
            if units and role != "time":
                d["unit"] = str(units)
            if text := ds[dim].attrs.get("long_name"):
                d["description"] = str(text)
        dims[dim] = Dimension.from_dict(d)
    return dims


def _values(ds: xr.Dataset, dim: str) -> list[Any]:
    return [plain(v) for v in np.asarray(ds.indexes[dim].values)[:1000]]


def _variables(ds: xr.Dataset) -> dict[str, Any]:
    from pystac.extensions.datacube import Variable

    out = {}
    for name in map(str, ds.variables):
        if name in ds.dims:
            continue
        var = ds[name]
        v: dict[str, Any] = {"dimensions": [str(d) for d in var.dims],
                             "type": "data" if name in ds.data_vars else "auxiliary"}
        if text := var.attrs.get("long_name"):
            v["description"] = str(text)
        if units := var.attrs.get("units"):
            v["unit"] = str(units)
        if (extent := value_range(ds, name)) is not None:
            v["extent"] = extent
        out[name] = Variable.from_dict(v)
    return out


def stac_collection(items: Iterable[pystac.Item], *, collection_id: str,
                    title: str | None = None, description: str | None = None) -> pystac.Collection:
    """A Collection holding ``items``, its extent the union of theirs."""
    import pystac

    items = list(items)
    boxes = [i.bbox for i in items if i.bbox]
    bbox = ([min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
             max(b[3] for b in boxes)] if boxes else [-180.0, -90.0, 180.0, 90.0])
    starts, ends = [], []
    for i in items:
        start = i.common_metadata.start_datetime or i.datetime
        end = i.common_metadata.end_datetime or i.datetime
        if start:
            starts.append(start)
        if end:
            ends.append(end)
    interval = [[min(starts) if starts else None, max(ends) if ends else None]]
    coll = pystac.Collection(
        id=collection_id, title=title,
        description=description or f"{len(items)} data cube(s)",
        extent=pystac.Extent(pystac.SpatialExtent([bbox]), pystac.TemporalExtent(interval)),
        license="other",
    )
    for i in items:
        coll.add_item(i)
    return coll
