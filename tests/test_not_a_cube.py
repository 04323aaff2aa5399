"""open_cube / ``objstore open`` on something that is not a cube say what is there instead."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

import objstore
from objstore.cli import app
from objstore.errors import BucketNotFoundError, CubeNotFoundError, NotACubeError


def _netcdf_bytes(tmp_path) -> bytes:  # type: ignore[no-untyped-def]
    path = tmp_path / "obs.nc"
    xr.Dataset({"a": (("x",), np.arange(3.0))}).to_netcdf(path)
    return path.read_bytes()


def _open_line(url: str, monkeypatch=None, env=None) -> str:  # type: ignore[no-untyped-def]
    for k, v in (env or {}).items():
        monkeypatch.setenv(k, v)
    result = CliRunner().invoke(app, ["open", url], env={"COLUMNS": "250"})
    out = result.output.strip()
    assert result.exit_code == 1, out
    assert out.startswith("error:") and out.count("error:") == 1 and "Traceback" not in out, out
    return " ".join(out.split())


def _refused(exc_type, url: str, profile=None, **kw) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(exc_type) as info:
        objstore.open_cube(url, profile=profile, **kw)
    msg = str(info.value)
    assert "consolidated metadata" not in msg  # not the fix for any of these
    return msg


def test_a_netcdf_object_is_named_as_such(rig, tmp_path, monkeypatch):
    fs = objstore.filesystem(rig.url(""), rig.profile)
    fs.pipe_file(f"{rig.bucket}/obs/obs.nc", _netcdf_bytes(tmp_path))
    url = rig.url("obs/obs.nc")
    msg = _refused(NotACubeError, url, rig.profile)
    assert "is a NetCDF file" in msg and "not a zarr cube" in msg and "xarray.open_dataset" in msg
    _refused(NotACubeError, url, rig.profile, consolidated=False)
    assert "NetCDF file" in _open_line(url, monkeypatch, rig.env)


def test_a_plain_prefix_lists_what_it_holds(rig, tmp_path, monkeypatch):
    fs = objstore.filesystem(rig.url(""), rig.profile)
    fs.pipe_file(f"{rig.bucket}/runs/obs.nc", _netcdf_bytes(tmp_path))
    fs.pipe_file(f"{rig.bucket}/runs/notes.txt", b"notes")
    msg = _refused(NotACubeError, rig.url("runs"), rig.profile)
    assert "folder of 2 entries" in msg and "notes.txt" in msg and "NetCDF files among them" in msg
    assert "not a zarr cube" in _open_line(rig.url("runs"), monkeypatch, rig.env)


def test_nothing_there_and_a_missing_bucket(rig, monkeypatch):
    msg = _refused(CubeNotFoundError, rig.url("nothing.zarr"), rig.profile)
    assert "no cube at" in msg and "nothing is there" in msg
    missing = f"{rig.scheme}://no-such-bucket-{rig.bucket}/cube.zarr"
    msg = _refused(BucketNotFoundError, missing, rig.profile)
    assert "does not exist" in msg and f"no-such-bucket-{rig.bucket}" in msg
    assert "no cube at" in _open_line(rig.url("nothing.zarr"), monkeypatch, rig.env)


def test_local_netcdf_folder_and_missing_path(tmp_path):
    nc = tmp_path / "obs.nc"
    nc.write_bytes(_netcdf_bytes(tmp_path))
    assert "is a NetCDF file" in _refused(NotACubeError, str(nc))
    assert "NetCDF file" in _open_line(str(nc))

    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "readme.md").write_text("hi")
    assert "folder of 1 entry" in _refused(NotACubeError, str(folder))
    assert "not a zarr cube" in _open_line(str(folder))

    missing = str(tmp_path / "missing.zarr")
    assert "no such file or folder" in _refused(CubeNotFoundError, missing)
    assert "no such file or folder" in _open_line(missing)
    assert not (tmp_path / "missing.zarr").exists()  # opening created nothing


def test_an_unconsolidated_cube_still_says_the_fix(tmp_path, small_cube):
    url = str(tmp_path / "loose.zarr")
    small_cube.to_zarr(url, consolidated=False)
    with pytest.warns(UserWarning, match="publish it with consolidated metadata"):
        objstore.open_cube(url)
