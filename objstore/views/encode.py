"""A computed result as JSON, NetCDF or a zipped zarr store, for HTTP responses and files."""

from __future__ import annotations

import io
import math
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BackendNotInstalledError, ViewTooLargeError

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["MAX_JSON_VALUES", "MEDIA_TYPES", "to_json", "to_netcdf", "to_zarr_zip"]

MAX_JSON_VALUES = 100_000
MEDIA_TYPES = {"json": "application/json", "netcdf": "application/x-netcdf",
               "zarr": "application/zip", "png": "image/png"}


def to_json(da: xr.DataArray, *, max_values: int = MAX_JSON_VALUES) -> dict[str, Any]:
    """Name, dims, coordinates, attributes and values (NaN as null) of a small result."""
    if da.size > max_values:
        raise ViewTooLargeError(f"the result has {da.size} values, over the JSON limit of "
                                f"{max_values}: ask for format=zarr or format=netcdf")
    return {
        "name": da.name,
        "dims": [str(d) for d in da.dims],
        "shape": list(da.shape),
        "coords": {str(k): _plain(da[k].values) for k in da.coords if da[k].ndim <= 1},
        "attrs": {str(k): _plain(v) for k, v in da.attrs.items()},
        "data": _plain(da.values),
    }


def to_netcdf(da: xr.DataArray) -> bytes:
    """The result as a NetCDF-4 file."""
    try:
        import netCDF4  # noqa: F401
    except ImportError:
        raise BackendNotInstalledError("NetCDF output needs netCDF4: pip install "
                                       "'objstore[netcdf]'", status=501) from None
    with tempfile.TemporaryDirectory(prefix="objstore-view-") as tmp:
        path = Path(tmp) / "result.nc"
        _dataset(da).to_netcdf(path, engine="netcdf4")
        return path.read_bytes()


def to_zarr_zip(da: xr.DataArray) -> bytes:
    """The result as a zarr store (format 3) in a zip file: ``zarr.storage.ZipStore`` reads it."""
    import zipfile

    with tempfile.TemporaryDirectory(prefix="objstore-view-") as tmp:
        folder = Path(tmp) / "result.zarr"
        _dataset(da).to_zarr(folder, mode="w", zarr_format=3, consolidated=False)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
            for file in sorted(p for p in folder.rglob("*") if p.is_file()):
                zf.write(file, file.relative_to(folder).as_posix())
        return buf.getvalue()


def _dataset(da: xr.DataArray) -> xr.Dataset:
    ds = da.to_dataset(name=str(da.name or "result"))
    for name in ds.variables:  # stored encodings belong to the source, not to the result
        ds[name].encoding = {}
    return ds


def _plain(value: Any) -> Any:
    """JSON-ready: lists, numbers, strings; NaN and infinities as null; dates as ISO text."""
    import numpy as np

    if isinstance(value, np.ndarray):
        if value.dtype.kind == "M":
            return np.datetime_as_string(value, unit="s").tolist()
        if value.dtype.kind == "m":
            return value.astype(str).tolist()
        return _plain(value.tolist())
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)
