"""Publishing the same NetCDF (or Dataset) again is harmless, on every backend: nothing is sent.
A different source at the same URL is still refused without --overwrite, and the cube there is
left as it was."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import xarray as xr
from test_publish import cf_netcdf, remote
from typer.testing import CliRunner

import objstore
from objstore.cli import app
from objstore.errors import CubeExistsError

publish_module = importlib.import_module("objstore.publish")  # objstore.publish is the function


def md5s(rig, key: str) -> dict[str, str | None]:
    return {k: v.md5 for k, v in remote(rig, key).items()}


def test_the_same_netcdf_again_sends_nothing(rig, tmp_path, monkeypatch):
    nc = cf_netcdf(tmp_path / "tas.nc")
    url = rig.url("pub/tas.zarr")
    first = objstore.publish(nc, url, rig.profile, chunks="time=2")
    before = md5s(rig, "pub/tas.zarr")
    sent = []
    real_send = publish_module.send
    monkeypatch.setattr(publish_module, "send",
                        lambda items, *a, **k: sent.extend(items) or real_send(items, *a, **k))
    again = objstore.publish(nc, url, rig.profile, chunks="time=2")
    assert sent == [] and again.uploaded == 0 and again.skipped == again.objects == first.objects
    assert any("already there and identical" in n for n in again.notes)
    assert md5s(rig, "pub/tas.zarr") == before

    monkeypatch.setenv("OBJSTORE_CONFIG", str(tmp_path / "none.toml"))
    for k, v in rig.env.items():
        monkeypatch.setenv(k, v)
    cli = CliRunner().invoke(app, ["publish", str(nc), url, "--chunks", "time=2", "--json"])
    assert cli.exit_code == 0, cli.output
    assert sent == []


def test_a_different_source_is_still_refused_and_the_cube_kept(rig, tmp_path, monkeypatch):
    nc = cf_netcdf(tmp_path / "tas.nc")
    url = rig.url("pub/tas.zarr")
    objstore.publish(nc, url, rig.profile)
    before = md5s(rig, "pub/tas.zarr")

    longer = cf_netcdf(tmp_path / "longer.nc", ntime=9)  # other shapes: refused before converting
    converted = []
    real_open = publish_module.open_source
    monkeypatch.setattr(publish_module, "open_source",
                        lambda *a, **k: converted.append(1) or real_open(*a, **k))
    with pytest.raises(CubeExistsError, match="already holds a zarr cube.*--overwrite"):
        objstore.publish(longer, url, rig.profile)
    assert converted == []

    changed = xr.open_dataset(nc).load()  # same shapes, other values: refused after converting
    changed["tas"] = changed["tas"] + np.float32(1)
    with pytest.raises(CubeExistsError, match="already holds a zarr cube.*--overwrite"):
        objstore.publish(changed, url, rig.profile)
    assert md5s(rig, "pub/tas.zarr") == before
    xr.testing.assert_identical(objstore.open_cube(url, rig.profile).load(),
                                xr.open_dataset(nc).load())
