"""What a catalog says about a cube, read from an opened dataset without I/O: its dimensions and
their roles (time, x/y, z), variables, time range, bounding box and CRS.

Extents come from index coordinates (already in memory) and from the CF attribute
``actual_range`` (or ``valid_min``/``valid_max``); :func:`with_actual_ranges` fills that attribute
in from the data for callers that may read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["Spatial", "dim_role", "time_range", "spatial", "value_range", "with_actual_ranges",
           "plain"]

_LAT = {"lat", "latitude", "nav_lat", "rlat"}
_LON = {"lon", "longitude", "nav_lon", "rlon"}


@dataclass
class Spatial:
    """Horizontal extent: a WGS84 ``bbox`` when it can be known, else ``why`` it cannot."""

    x: str | None = None  # dimension names
    y: str | None = None
    crs: int | str | None = None  # EPSG code, or WKT/PROJ text
    bbox: list[float] | None = None
    notes: list[str] = field(default_factory=list)


def plain(value: Any) -> Any:
    """A JSON/YAML-ready Python value (numbers, strings, ISO dates)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.datetime64 | np.timedelta64):
        value = str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _is_time(ds: xr.Dataset, dim: str) -> bool:
    if dim not in ds.coords:
        return dim.lower() in ("time", "t")
    coord = ds[dim]
    if coord.dtype.kind == "M":
        return True
    return coord.dtype.kind == "O" and hasattr(ds.indexes.get(dim), "calendar")  # cftime


def dim_role(ds: xr.Dataset, dim: str) -> str:
    """``"time"``, ``"x"``, ``"y"``, ``"z"`` or ``"other"``, from CF attributes, then names."""
    if _is_time(ds, dim):
        return "time"
    attrs = ds[dim].attrs if dim in ds.coords else {}
    name = dim.lower()
    axis = str(attrs.get("axis", "")).upper()
    standard = str(attrs.get("standard_name", "")).lower()
    units = str(attrs.get("units", "")).lower()
    if axis == "Z" or "positive" in attrs or standard in ("height", "depth", "altitude",
                                                          "air_pressure") or name in (
            "z", "lev", "level", "depth", "height", "plev"):
        return "z"
    if (axis == "Y" or standard in ("latitude", "projection_y_coordinate", "grid_latitude")
            or units.startswith("degrees_n") or name in _LAT | {"y"}):
        return "y"
    if (axis == "X" or standard in ("longitude", "projection_x_coordinate", "grid_longitude")
            or units.startswith("degrees_e") or name in _LON | {"x"}):
        return "x"
    return "other"


def _minmax(values: Any) -> tuple[Any, Any] | None:
    arr = np.asarray(values)
    if arr.size == 0:
        return None
    if arr.dtype.kind in "fc":
        if not np.isfinite(arr).any():
            return None
        return np.nanmin(arr), np.nanmax(arr)
    if arr.dtype.kind == "M":
        arr = arr[~np.isnat(arr)]
        return (arr.min(), arr.max()) if arr.size else None
    try:
        return min(arr.ravel()), max(arr.ravel())
    except TypeError:
        return None


def time_range(ds: xr.Dataset) -> tuple[str, str] | None:
    """First and last time over every time dimension, ISO 8601 (UTC assumed)."""
    found: list[Any] = []
    for dim in ds.dims:
        if dim in ds.indexes and _is_time(ds, str(dim)):
            mm = _minmax(ds.indexes[dim].values)
            if mm:
                found.extend(mm)
    if not found:
        return None
    return _iso(min(found)), _iso(max(found))


def _iso(value: Any) -> str:
    text = str(np.datetime_as_string(value, unit="s")) if isinstance(value, np.datetime64) \
        else value.isoformat()
    return text if text.endswith("Z") or "+" in text[10:] else text + "Z"


def value_range(ds: xr.Dataset, name: str) -> list[Any] | None:
    """``[min, max]`` of a variable: its index (in memory), else ``actual_range``,
    ``valid_range`` or ``valid_min``/``valid_max``; None when unknown without reading data."""
    var = ds[name]
    if name in ds.indexes:
        mm = _minmax(ds.indexes[name].values)
        return [plain(v) for v in mm] if mm else None
    for key in ("actual_range", "valid_range"):
        if key in var.attrs and np.size(var.attrs[key]) == 2:
            lo, hi = np.ravel(var.attrs[key])
            return [plain(lo), plain(hi)]
    if "valid_min" in var.attrs and "valid_max" in var.attrs:
        return [plain(var.attrs["valid_min"]), plain(var.attrs["valid_max"])]
    return None


def with_actual_ranges(ds: xr.Dataset, max_bytes: int = 256 * 2**20) -> xr.Dataset:
    """A copy of ``ds`` whose numeric variables carry ``actual_range`` computed from the data
    (this reads them), smallest first while their sizes add up to at most ``max_bytes``; the
    others keep the attributes they have."""
    import dask

    out = ds.copy()
    candidates = sorted(
        (v.nbytes, str(n)) for n, v in ds.variables.items()
        if n not in ds.indexes and v.dtype.kind in "iuf" and v.size
        and "actual_range" not in v.attrs)
    todo, total = [], 0
    for nbytes, name in candidates:
        if total + nbytes > max_bytes:
            break
        todo.append(name)
        total += nbytes
    if not todo:
        return out
    lows_highs = dask.compute(*[(ds[n].min(), ds[n].max()) for n in todo])
    for n, (lo, hi) in zip(todo, lows_highs, strict=True):
        if np.isfinite(lo.values) and np.isfinite(hi.values):
            out[n].attrs["actual_range"] = [plain(lo.values), plain(hi.values)]
    return out


def _crs(ds: xr.Dataset) -> int | str | None:
    """The CRS from a CF grid-mapping variable (``crs_wkt``/``spatial_ref``/EPSG) or ``crs``
    attributes; 4326 for plain lat/lon."""
    names = {str(v.attrs["grid_mapping"]).split(":")[0].split()[0]
             for v in ds.variables.values() if "grid_mapping" in v.attrs}
    names |= {n for n in ("spatial_ref", "crs") if n in ds.variables}
    for n in names:
        attrs = ds[n].attrs if n in ds.variables else {}
        for key in ("epsg_code", "epsg"):
            if key in attrs:
                return int(str(attrs[key]).upper().removeprefix("EPSG:"))
        for key in ("crs_wkt", "spatial_ref", "proj4", "proj4text"):
            if attrs.get(key):
                return _epsg_of(str(attrs[key]))
        if attrs.get("grid_mapping_name") == "latitude_longitude":
            return 4326
    crs = ds.attrs.get("crs")
    if isinstance(crs, str) and crs.upper().startswith("EPSG:"):
        return int(crs.split(":")[1])
    return None


def _epsg_of(text: str) -> int | str:
    try:
        from pyproj import CRS

        return CRS.from_user_input(text).to_epsg() or text
    except ImportError:
        return 4326 if text.strip().upper() in ("EPSG:4326", "+PROJ=LONGLAT") else text
    except Exception:
        return text


def spatial(ds: xr.Dataset) -> Spatial:
    """x/y dimensions, CRS and WGS84 bbox (from lat/lon, or from x/y through the CRS)."""
    out = Spatial()
    for dim in ds.dims:
        role = dim_role(ds, str(dim))
        if role == "x" and out.x is None:
            out.x = str(dim)
        elif role == "y" and out.y is None:
            out.y = str(dim)
    lat = next((n for n in ds.coords if _is_lat_lon(ds, str(n), "y")), None)
    lon = next((n for n in ds.coords if _is_lat_lon(ds, str(n), "x")), None)
    out.crs = _crs(ds)
    if lat and lon:
        out.crs = out.crs or 4326
        ys, xs = value_range(ds, str(lat)), value_range(ds, str(lon))
        if ys is None or xs is None:  # 2-D lat/lon not in memory
            out.notes.append("bbox unknown: the lat/lon coordinates are not loaded")
            return out
        west, east = (x - 360 if x > 180 else x for x in xs)
        if west > east:  # a 0..360 grid crossing the antimeridian: the whole globe
            west, east = -180.0, 180.0
        out.bbox = [float(west), float(ys[0]), float(east), float(ys[1])]
        return out
    if out.x and out.y and out.x in ds.indexes and out.y in ds.indexes:
        if out.crs is None:
            out.notes.append(f"bbox unknown: {out.x}/{out.y} have no CRS (add a CF grid_mapping "
                             "variable with crs_wkt)")
            return out
        out.bbox = _projected_bbox(ds, out)
        return out
    out.notes.append("bbox unknown: no lat/lon or x/y coordinates")
    return out


def _is_lat_lon(ds: xr.Dataset, name: str, axis: str) -> bool:
    attrs = ds[name].attrs
    names = _LAT if axis == "y" else _LON
    standard = "latitude" if axis == "y" else "longitude"
    unit = "degrees_n" if axis == "y" else "degrees_e"
    return (name.lower() in names or attrs.get("standard_name") == standard
            or str(attrs.get("units", "")).lower().startswith(unit))


def _projected_bbox(ds: xr.Dataset, sp: Spatial) -> list[float] | None:
    xs, ys = value_range(ds, str(sp.x)), value_range(ds, str(sp.y))
    if xs is None or ys is None:
        return None
    if sp.crs == 4326:
        return [float(xs[0]), float(ys[0]), float(xs[1]), float(ys[1])]
    try:
        from pyproj import Transformer
    except ImportError:
        sp.notes.append(f"bbox unknown: {sp.x}/{sp.y} are in CRS {sp.crs}; install pyproj to "
                        "transform them to longitude/latitude")
        return None
    t = Transformer.from_crs(sp.crs, 4326, always_xy=True)
    west, south, east, north = t.transform_bounds(xs[0], ys[0], xs[1], ys[1])
    return [float(west), float(south), float(east), float(north)]
