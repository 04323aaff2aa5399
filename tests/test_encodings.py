"""write_cube keeps every encoding plain ``ds.to_zarr`` keeps (dtype, packing, fill values,
compressors, filters, zarr 3 codecs), for numpy- and dask-backed data, formats 2 and 3."""

from __future__ import annotations

import json

import fsspec
import numpy as np
import pytest
import xarray as xr

import objstore

META = (".zarray", ".zattrs", ".zgroup", ".zmetadata", "zarr.json")


@pytest.fixture
def packed_netcdf(tmp_path):
    """A NetCDF file as agencies ship them: int16 packed with scale_factor/add_offset, a fill
    value for the gaps, and an int8 flag variable with its own fill value."""
    rng = np.random.default_rng(1)
    tas = 250 + 50 * rng.random((6, 4, 5))
    tas[0, 0, 0] = np.nan
    ds = xr.Dataset(
        {"tas": (("time", "lat", "lon"), tas, {"units": "K"}),
         "flag": (("time", "lat", "lon"), rng.integers(0, 3, (6, 4, 5)).astype("i1"))},
        coords={"time": np.arange(6), "lat": np.arange(4.0), "lon": np.arange(5.0)},
    )
    ds.tas.encoding = {"dtype": "int16", "scale_factor": 0.01, "add_offset": 275.0,
                       "_FillValue": -32767}
    ds.flag.encoding = {"_FillValue": -1}
    path = tmp_path / "packed.nc"
    ds.to_netcdf(path)
    return path


def _metadata(fs, root: str) -> dict[str, object]:
    """Every metadata object under ``root``, parsed."""
    return {p[len(root) + 1:]: json.loads(fs.cat_file(p)) for p in fs.find(root)
            if p.rsplit("/", 1)[-1] in META}


def _with_codecs(ds: xr.Dataset, fmt: int) -> xr.Dataset:
    """The same data with a user's codec choices in the variables' encodings."""
    ds = ds.copy()
    if fmt == 2:
        import numcodecs

        ds.tas.encoding.update(compressor=numcodecs.Zstd(level=5),
                               filters=[numcodecs.Delta(dtype="i2")])
    else:
        from zarr.codecs import ZstdCodec

        ds.tas.encoding.update(compressors=(ZstdCodec(level=5),))
    return ds


def _compare(ds: xr.Dataset, fmt: int, url: str, plain_url: str, profile=None,
             plain_options=None) -> None:  # type: ignore[no-untyped-def]
    plain_options = plain_options or {}
    ds.to_zarr(plain_url, storage_options=plain_options or None, zarr_format=fmt,
               consolidated=True)
    objstore.write_cube(ds, url, profile=profile, zarr_format=fmt)
    fs, root = fsspec.url_to_fs(plain_url, **plain_options)
    r = objstore.resolve(url, profile)
    expected, written = _metadata(fs, root), _metadata(r.fs, r.path)
    assert written == expected
    back = objstore.open_cube(url, profile=profile)
    assert back.tas.encoding["dtype"] == np.dtype("int16")
    assert back.tas.encoding["scale_factor"] == 0.01 and back.flag.encoding["_FillValue"] == -1
    plain = xr.open_zarr(plain_url, storage_options=plain_options or None, zarr_format=fmt)
    xr.testing.assert_identical(back.load(), plain.load())


@pytest.mark.filterwarnings("ignore:Consolidated metadata is currently not part")
@pytest.mark.parametrize("fmt", [2, 3])
@pytest.mark.parametrize("chunks", [None, {"time": 2}], ids=["numpy", "dask"])
def test_write_cube_stores_what_to_zarr_stores(packed_netcdf, tmp_path, fmt, chunks):
    ds = _with_codecs(xr.open_dataset(packed_netcdf, chunks=chunks), fmt)
    _compare(ds, fmt, str(tmp_path / "objstore.zarr"), str(tmp_path / "plain.zarr"))
    stored = tmp_path / "objstore.zarr" / "tas"
    meta = json.loads((stored / (".zarray" if fmt == 2 else "zarr.json")).read_text())
    assert (meta["dtype"] if fmt == 2 else meta["data_type"]) in ("<i2", "int16")  # not float64


@pytest.mark.filterwarnings("ignore:Consolidated metadata is currently not part")
def test_dask_backed_encodings_survive_on_every_backend(rig, packed_netcdf):
    ds = _with_codecs(xr.open_dataset(packed_netcdf, chunks={"time": 2}), 3)
    plain = dict(rig.plain_options)
    if rig.backend == "azure":  # else adlfs's listing cache makes to_zarr consolidate nothing
        plain["use_listings_cache"] = False
    _compare(ds, 3, rig.url("enc.zarr"), rig.plain_url("plain.zarr"), rig.profile, plain)
