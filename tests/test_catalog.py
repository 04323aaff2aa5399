"""Catalogs on every backend: engine="objstore", intake (v1 and v2) and STAC, public and private."""

from __future__ import annotations

import pytest
import xarray as xr

import objstore
from objstore.errors import CubeNotFoundError


def named_profile(tmp_path, monkeypatch, rig, name="team") -> str:
    """The reader's profiles.toml holds the rig's profile under ``name``."""
    from test_publish import write_profile_toml

    config = tmp_path / "reader" / "profiles.toml"
    write_profile_toml(config, name, rig.profile)
    monkeypatch.setenv("OBJSTORE_CONFIG", str(config))
    return name


# ------------------------------------------------------------------------ engine="objstore"
def test_engine_objstore_opens_what_open_cube_opens(rig, small_cube, tmp_path, monkeypatch):
    url = rig.url("eng/cube.zarr")
    objstore.write_cube(small_cube, url, profile=rig.profile)
    name = named_profile(tmp_path, monkeypatch, rig)
    ds = xr.open_dataset(url, engine="objstore", profile=name, chunks={})
    assert ds.tas.chunks is not None  # dask-backed, as intake's to_dask expects
    xr.testing.assert_identical(ds.load(), objstore.open_cube(url, name).load())
    xr.testing.assert_identical(ds.load(), small_cube.load())


def test_engine_objstore_raises_what_open_cube_raises(rig, tmp_path, monkeypatch):
    name = named_profile(tmp_path, monkeypatch, rig)
    with pytest.raises(CubeNotFoundError) as err:
        xr.open_dataset(rig.url("nothing/here.zarr"), engine="objstore", profile=name)
    assert "nothing/here.zarr" in str(err.value)
