"""make_public / make_private and `objstore public` on every backend: readers use plain fsspec."""

from __future__ import annotations

import aiohttp
import fsspec
import pytest
import xarray as xr
from typer.testing import CliRunner

import objstore
from objstore.cli import app


def plain_read(url: str) -> xr.Dataset:
    fs = fsspec.filesystem("http", skip_instance_cache=True)
    return xr.open_zarr(fs.get_mapper(url), consolidated=True).load()


def test_public_then_private(rig, small_cube, monkeypatch):
    url = rig.url("pub/cube.zarr")
    objstore.write_cube(small_cube, url, profile=rig.profile)
    for k, v in rig.env.items():
        monkeypatch.setenv(k, v)
    out = CliRunner().invoke(app, ["public", url], env={"COLUMNS": "300"})
    assert out.exit_code == 0, out.output
    https = out.stdout.splitlines()[0]
    assert https.startswith("http") and https.endswith("/pub/cube.zarr")
    assert "objstore.open_cube(" in out.stdout and "fsspec.get_mapper(" in out.stdout
    xr.testing.assert_identical(plain_read(https), small_cube.load())

    objstore.make_private(url)
    if rig.backend == "gcs":
        return  # the GCS emulator enforces no access control: nothing to observe
    with pytest.raises(aiohttp.ClientResponseError) as denied:
        plain_read(https)
    assert denied.value.status in (401, 403)
