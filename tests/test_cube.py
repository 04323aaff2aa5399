"""open_cube / write_cube on every backend (one parametrized rig over the real servers)."""

from __future__ import annotations

import os
import sys

import fsspec
import numpy as np
import pytest
import xarray as xr

import objstore
from objstore.errors import (
    CubeExistsError,
    CubeNotFoundError,
    InterruptedWriteError,
    ProfileNotFoundError,
)


def test_round_trip_with_profile_also_read_by_plain_xarray(rig, small_cube):
    url = rig.url("cubes/tas.zarr")
    objstore.write_cube(small_cube, url, profile=rig.profile)

    back = objstore.open_cube(url, profile=rig.profile)
    xr.testing.assert_identical(back.load(), small_cube.load())
    assert back["tas"].attrs["units"] == "K" and back.attrs["title"] == "test cube"

    plain = xr.open_zarr(fsspec.get_mapper(rig.plain_url("cubes/tas.zarr"), **rig.plain_options),
                         consolidated=True)
    xr.testing.assert_identical(plain.load(), small_cube.load())


def test_ambient_credentials_from_the_environment(rig, small_cube, monkeypatch):
    for k, v in rig.env.items():
        monkeypatch.setenv(k, v)
    url = rig.url("ambient.zarr")
    objstore.write_cube(small_cube, url)
    assert objstore.open_cube(url)["pr"].shape == (8, 4, 5)


def test_refuses_to_overwrite_and_keeps_the_data(rig, small_cube):
    url = rig.url("keep.zarr")
    objstore.write_cube(small_cube, url, profile=rig.profile)
    with pytest.raises(CubeExistsError, match="already holds a zarr cube.*mode='w'"):
        objstore.write_cube(small_cube * 0, url, profile=rig.profile)
    kept = objstore.open_cube(url, profile=rig.profile).load()
    xr.testing.assert_identical(kept, small_cube.load())


def test_mode_w_replaces_and_mode_a_appends(rig, small_cube):
    url = rig.url("grow.zarr")
    objstore.write_cube(small_cube.isel(time=slice(0, 4)), url, profile=rig.profile)
    objstore.write_cube(small_cube.isel(time=slice(4, 8)), url, profile=rig.profile, mode="a",
                        append_dim="time")
    grown = objstore.open_cube(url, profile=rig.profile)
    assert grown.sizes["time"] == 8
    xr.testing.assert_identical(grown.load(), small_cube.load())

    objstore.write_cube(small_cube.isel(time=[0]), url, profile=rig.profile, mode="w")
    assert objstore.open_cube(url, profile=rig.profile).sizes["time"] == 1


def test_zarr_format_3(rig, small_cube):
    url = rig.url("v3.zarr")
    objstore.write_cube(small_cube, url, profile=rig.profile, zarr_format=3)
    names = {p.rsplit("/", 1)[-1] for p in objstore.filesystem(url, rig.profile).ls(
        objstore.resolve(url, rig.profile).path, detail=False)}
    assert "zarr.json" in names and ".zmetadata" not in names
    xr.testing.assert_identical(objstore.open_cube(url, profile=rig.profile).load(),
                                small_cube.load())


def test_default_is_format_2_with_zmetadata(rig, small_cube):
    url = rig.url("v2.zarr")
    r = objstore.write_cube(small_cube, url, profile=rig.profile)
    assert r.fs.exists(f"{r.path}/.zmetadata")


def test_half_written_cube_never_looks_complete(rig, small_cube):
    import dask.array as da

    def boom(block):
        raise RuntimeError("disk on fire")

    broken = small_cube.copy()
    broken["pr"] = broken["pr"].copy(data=da.map_blocks(boom, broken["pr"].data, dtype="f8"))
    url = rig.url("broken.zarr")
    with pytest.raises(RuntimeError, match="disk on fire"):
        objstore.write_cube(broken, url, profile=rig.profile)
    r = objstore.resolve(url, rig.profile)
    assert not r.fs.exists(f"{r.path}/.zmetadata")
    with pytest.raises(InterruptedWriteError, match="interrupted write.*mode='w'"):
        objstore.open_cube(url, profile=rig.profile)


def test_missing_cube_is_a_clear_error(rig):
    with pytest.raises(CubeNotFoundError, match="no cube at"):
        objstore.open_cube(rig.url("nothing-here.zarr"), profile=rig.profile)


def test_unknown_profile_names_what_exists(rig):
    with pytest.raises(ProfileNotFoundError) as info:
        objstore.open_cube(rig.url("x.zarr"), profile="nope")
    msg = str(info.value)
    assert "'nope'" in msg and "osn" in msg and "Searched" in msg and "profiles.toml" in msg


@pytest.fixture(scope="session")
def dask_cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        # not the default scheduler: other tests must keep running their dask work in-process
        with distributed.Client(cluster, set_as_default=False) as client:
            yield client


def test_dask_distributed_write(rig, small_cube, dask_cluster):
    """Chunks are written by worker processes: the store must pickle and authenticate there."""
    url = rig.url("dist.zarr")
    big = small_cube.chunk({"time": 1})
    big["pid"] = big["tas"].copy(data=big["tas"].data.map_blocks(
        lambda b: np.full(b.shape, __import__("os").getpid(), "f4")))
    import dask

    with dask.config.set(scheduler=dask_cluster.get):
        objstore.write_cube(big, url, profile=rig.profile)
    back = objstore.open_cube(url, profile=rig.profile).load()
    assert (back["pid"].values != __import__("os").getpid()).all()  # written in the workers
    xr.testing.assert_identical(back[["tas", "pr", "mask"]], small_cube.load())


SCRIPT = """
import sys, numpy as np, xarray as xr, objstore
url = sys.argv[1]
objstore.write_cube(xr.Dataset({"a": (("x",), np.arange(10.0))}), url)
print(objstore.open_cube(url).load().a.values.sum())
"""


def test_a_users_script_ends_quietly(rig):
    """No "Unclosed client session" or exit-time traceback after the script's own output."""
    import subprocess

    env = {**os.environ, **rig.env}
    done = subprocess.run([sys.executable, "-W", "ignore:Conditional creates are not atomic",
                           "-c", SCRIPT, rig.url("script.zarr")], env=env,  # Swift, GCS emulator
                          capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "45.0", "")
