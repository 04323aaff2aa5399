"""The catalog builders on datasets in memory: what a catalog says about a cube (no server)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml

from objstore.catalog import intake_catalog, intake_source, stac_collection, stac_item
from objstore.catalog.build import default_name
from objstore.catalog.stac_objects import NOTES


def grid(x: str = "lon", y: str = "lat", xs=(0.0, 1.0, 2.0), ys=(10.0, 20.0),
         **attrs) -> xr.Dataset:
    time = pd.date_range("2026-01-01", periods=2, freq="D")
    return xr.Dataset(
        {"tas": (("time", y, x), np.arange(2.0 * len(ys) * len(xs)).reshape(2, len(ys), len(xs)),
                 {"units": "K", "long_name": "air temperature", "actual_range": [0.0, 11.0]})},
        coords={"time": time, y: list(ys), x: list(xs)}, attrs=attrs)


def test_intake_source_carries_dims_variables_and_time_range():
    src = intake_source(grid(title="Air"), urlpath="s3://b/air.zarr",
                        storage_options={"anon": True})
    assert src["driver"] == "zarr" and src["description"] == "Air"
    assert src["args"] == {"urlpath": "s3://b/air.zarr", "storage_options": {"anon": True},
                           "consolidated": True}
    assert src["metadata"]["dims"] == {"time": 2, "lat": 2, "lon": 3}
    assert src["metadata"]["variables"]["tas"]["units"] == "K"
    assert src["metadata"]["time_range"] == ["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"]
    doc = yaml.safe_load(intake_catalog({"air": src}, description="cubes"))
    assert doc["description"] == "cubes" and doc["sources"]["air"] == src


def test_private_source_has_the_engine_and_profile_name_only():
    src = intake_source(grid(), urlpath="swift://c/air.zarr", engine="objstore", profile="dkrz")
    assert src["args"] == {"urlpath": "swift://c/air.zarr", "engine": "objstore",
                           "profile": "dkrz", "consolidated": True}


def test_stac_item_has_datacube_and_xarray_assets():
    item = stac_item(grid(), item_id="air", href="s3://b/air.zarr",
                     open_kwargs={"engine": "zarr"}, storage_options={"anon": True})
    assert item.bbox == [0.0, 10.0, 2.0, 20.0]
    assert item.properties["start_datetime"] == "2026-01-01T00:00:00Z"
    dims = item.properties["cube:dimensions"]
    assert dims["lon"] == {"type": "spatial", "axis": "x", "extent": [0.0, 2.0],
                           "reference_system": 4326}
    assert dims["time"]["extent"] == ["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"]
    assert item.properties["cube:variables"]["tas"]["extent"] == [0.0, 11.0]
    asset = item.assets["data"].to_dict()
    assert asset["xarray:open_kwargs"] == {"engine": "zarr"}
    assert asset["xarray:storage_options"] == {"anon": True}
    assert any("datacube" in e for e in item.stac_extensions)
    assert any("xarray-assets" in e for e in item.stac_extensions)
    assert NOTES not in item.properties


def test_longitudes_0_to_360_become_minus_180_to_180():
    item = stac_item(grid(xs=(0.0, 180.0, 350.0)), item_id="g", href="x")
    assert item.bbox == [-180.0, 10.0, 180.0, 20.0]  # crosses the antimeridian: whole globe


def test_projected_xy_bbox_needs_the_crs_and_says_so():
    ds = grid("x", "y", xs=(500000.0, 501000.0), ys=(4e6, 4.001e6))
    item = stac_item(ds, item_id="p", href="x")
    assert item.bbox is None and item.geometry is None
    assert "bbox unknown: x/y have no CRS" in item.properties[NOTES][0]
    ds["spatial_ref"] = xr.DataArray(0, attrs={"epsg_code": "EPSG:32633"})
    ds["tas"].attrs["grid_mapping"] = "spatial_ref"
    item = stac_item(ds, item_id="p", href="x")
    assert item.properties["cube:dimensions"]["x"]["reference_system"] == 32633
    try:
        import pyproj  # noqa: F401
    except ImportError:
        assert item.bbox is None and "install pyproj" in item.properties[NOTES][0]
    else:
        assert item.bbox is not None and 14 < item.bbox[0] < 16


def test_no_coordinates_and_no_time_are_said():
    ds = xr.Dataset({"v": (("a", "b"), np.zeros((2, 3)))})
    item = stac_item(ds, item_id="bare", href="x")
    notes = item.properties[NOTES]
    assert any("no lat/lon or x/y" in n for n in notes) and any("no time" in n for n in notes)
    assert item.properties["cube:dimensions"]["a"]["extent"] == [0, 1]


def test_collection_extent_is_the_union_of_its_items():
    a = stac_item(grid(), item_id="a", href="x")
    b = stac_item(grid(xs=(-10.0, 5.0), ys=(-5.0, 15.0)), item_id="b", href="y")
    coll = stac_collection([a, b], collection_id="c", title="Cubes")
    assert coll.extent.spatial.bboxes == [[-10.0, -5.0, 5.0, 20.0]]
    assert sorted(i.id for i in coll.get_items()) == ["a", "b"]


@pytest.mark.parametrize(("url", "name"), [("s3://b/era5/t2m.zarr", "t2m"),
                                           ("swift://c/my-cube.zarr/", "my_cube"),
                                           ("gs://b/x", "x")])
def test_default_names(url, name):
    assert default_name(url) == name


def test_local_cubes_get_a_path_entry_and_check_opens_them(tmp_path):
    import objstore
    import objstore.catalog
    from objstore.catalog.check import check

    objstore.write_cube(grid(title="Air"), str(tmp_path / "air.zarr"))
    out = tmp_path / "cat.yaml"
    objstore.catalog.intake([str(tmp_path / "air.zarr")], output=out)
    entry = yaml.safe_load(out.read_text())["sources"]["air"]
    assert entry["args"]["urlpath"] == str(tmp_path / "air.zarr")
    assert [(c.name, c.ok, c.access) for c in check(out)] == [("air", True, "public")]


def test_actual_ranges_are_read_smallest_first_within_the_budget():
    from objstore.catalog.describe import with_actual_ranges

    ds = grid()
    del ds["tas"].attrs["actual_range"]
    ds["small"] = ds["tas"].astype("float32") + 1
    out = with_actual_ranges(ds, max_bytes=ds["small"].nbytes)
    assert out["small"].attrs["actual_range"] == [1.0, 12.0]
    assert "actual_range" not in out["tas"].attrs and "actual_range" not in ds["small"].attrs


def test_adding_to_an_intake_2_catalog_is_refused_clearly(tmp_path):
    from objstore.catalog.intake_yaml import read_sources
    from objstore.errors import CatalogError

    with pytest.raises(CatalogError, match="intake 2 catalog"):
        read_sources("version: 2\nentries: {}\n", "v2.yaml")


def test_an_existing_catalog_is_replaced_only_when_asked(tmp_path):
    from typer.testing import CliRunner

    import objstore
    from objstore.cli import app

    cube = str(tmp_path / "air.zarr")
    objstore.write_cube(grid(), cube)
    out, stac_dir = tmp_path / "cat.yaml", tmp_path / "stac"
    out.write_text("sources: {}\n")
    (stac_dir).mkdir()
    (stac_dir / "collection.json").write_text("{}")
    runner = CliRunner()
    for args in (["intake", cube, "-o", str(out)], ["stac", cube, "-o", str(stac_dir)]):
        refused = runner.invoke(app, ["catalog", *args])
        assert refused.exit_code == 1 and "already exists; refusing to replace it" in refused.output
        assert "Traceback" not in refused.output
        done = runner.invoke(app, ["catalog", *args, "--overwrite"])
        assert done.exit_code == 0, done.output
    assert "air:" in out.read_text()
    assert '"id": "cubes"' in (stac_dir / "collection.json").read_text()


def test_check_reports_an_entry_whose_driver_is_missing(tmp_path):
    from objstore.catalog.check import check

    out = tmp_path / "cat.yaml"
    out.write_text("sources:\n  odd:\n    driver: no_such_driver\n    args: {}\n")
    [result] = check(out)
    assert not result.ok and result.name == "odd" and result.detail
