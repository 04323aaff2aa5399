"""Say what is at a URL that is not a cube: nothing, a missing bucket, a file, a plain folder."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import BucketNotFoundError, CubeNotFoundError, NotACubeError, ObjstoreError
from .transfer import human_bytes

if TYPE_CHECKING:
    from .api import Resolved

__all__ = ["not_a_cube"]

#: File name endings of data files people mistake for cubes, and what they are
DATA_FILES = {".nc": "NetCDF", ".nc4": "NetCDF", ".cdf": "NetCDF", ".h5": "HDF5",
              ".hdf5": "HDF5", ".he5": "HDF5", ".grib": "GRIB", ".grib2": "GRIB", ".grb": "GRIB",
              ".tif": "GeoTIFF", ".tiff": "GeoTIFF", ".csv": "CSV", ".parquet": "Parquet"}

_CONVERT = ("open it with xarray.open_dataset, or make a cube of it with "
            "`objstore publish SOURCE DEST` / objstore.write_cube")


def _kind(name: str) -> str | None:
    low = name.lower()
    return next((k for end, k in DATA_FILES.items() if low.endswith(end)), None)


def _info(r: Resolved) -> dict[str, Any] | None:
    try:
        return dict(r.fs.info(r.path))
    except (FileNotFoundError, NotADirectoryError, OSError, ValueError):
        return None


def _bucket_missing(r: Resolved) -> bool:
    if not r.url.bucket or not r.backend.has_buckets:
        return False
    try:
        return not r.fs.exists(r.url.bucket)
    except Exception:  # noqa: BLE001 - only a better message is at stake
        return False


def not_a_cube(r: Resolved, names: list[str]) -> ObjstoreError:
    """The error for ``r`` holding no zarr cube; ``names`` are the entries directly under it."""
    url = r.url.url
    fields: dict[str, Any] = {"url": url, "profile": r.profile.name}
    info = _info(r)
    if info is not None and info.get("type") == "file":
        kind = _kind(r.path) or "file"
        size = human_bytes(int(info.get("size") or 0))
        return NotACubeError(f"{url} is a {kind} file ({size}), not a zarr cube. Fix: {_CONVERT}",
                             **fields)
    if names:
        shown = ", ".join(sorted(names)[:8]) + (", ..." if len(names) > 8 else "")
        data = sorted({k for n in names if (k := _kind(n))})
        what = f" ({' and '.join(data)} files among them)" if data else ""
        fix = (f"give the URL of one {data[0]} file, or {_CONVERT}" if data else
               "give the URL of the cube itself (the folder holding .zmetadata or zarr.json)")
        return NotACubeError(
            f"{url} is a folder of {len(names)} {'entry' if len(names) == 1 else 'entries'} "
            f"with no zarr metadata{what}: {shown}; "
            f"it is not a zarr cube. Fix: {fix}", **fields)
    if _bucket_missing(r):
        return BucketNotFoundError(
            f"no cube at {url}: the bucket {r.url.bucket!r} does not exist (profile "
            f"{r.profile.name!r}). Fix: check the name, or create the bucket first", **fields)
    where = "no such file or folder" if r.backend.on_disk else "nothing is there"
    parent = url.rstrip("/").rsplit("/", 1)[0]
    parent = url if parent.endswith(":/") or not parent else parent + "/"
    return CubeNotFoundError(f"no cube at {url}: {where}. Fix: check the URL (objstore ls "
                             f"{parent} lists what is next to it)", **fields)
