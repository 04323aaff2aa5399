"""publish without staging, on every backend: a source to convert goes straight to the store
(chunks leave while later ones are still being computed, no local copy), and a publish stopped
half-way is resumed, sending only what is missing."""

from __future__ import annotations

import tempfile
import threading

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from test_publish import cf_netcdf, remote

import objstore
import objstore.publish_stream as streamed
from objstore.errors import CubeExistsError, ObjstoreError
from objstore.publish import MARKER

N = 150  # chunks of the cube below: more than one write group, so groups overlap


def _slow_cube(first_sent: threading.Event) -> xr.Dataset:
    """A lazily computed cube whose last block is computed only once a chunk has been sent."""

    def block(x: np.ndarray, block_info=None) -> np.ndarray:  # type: ignore[no-untyped-def]
        (i, _), = [tuple(block_info[None]["chunk-location"])]
        if i == N - 1 and not first_sent.wait(60):
            raise AssertionError("nothing was sent before the last chunk was computed")
        return np.full(x.shape, float(i), dtype="f4")

    data = da.zeros((N, 8), chunks=(1, 8), dtype="f4").map_blocks(block, dtype="f4")
    return xr.Dataset({"v": (("t", "x"), data)}, coords={"t": np.arange(N)})


def test_chunks_are_sent_while_later_ones_are_computed_and_nothing_lands_on_disk(
        rig, monkeypatch):
    first_sent = threading.Event()
    real_put = streamed._put

    async def put(store, key, value):  # type: ignore[no-untyped-def]
        await real_put(store, key, value)
        if key.startswith("v/"):
            first_sent.set()

    folders: list[str] = []
    real_mkdtemp = tempfile.mkdtemp
    monkeypatch.setattr(streamed, "_put", put)
    monkeypatch.setattr(tempfile, "mkdtemp",
                        lambda *a, **k: folders.append(real_mkdtemp(*a, **k)) or folders[-1])
    ds = _slow_cube(first_sent)
    url = rig.url("stream/slow.zarr")
    result = objstore.publish(ds, url, rig.profile)

    assert folders == []  # no temporary copy of the cube
    assert result.uploaded == result.objects and result.skipped == 0
    assert MARKER not in remote(rig, "stream/slow.zarr")
    got = objstore.open_cube(url, rig.profile)
    np.testing.assert_array_equal(got.v.values[:, 0], np.arange(N, dtype="f4"))


def test_a_stopped_streamed_publish_resumes_sending_only_what_is_missing(rig, tmp_path,
                                                                          monkeypatch):
    nc = cf_netcdf(tmp_path / "src.nc", ntime=12)
    url = rig.url("stream/resumed.zarr")
    real_put = streamed._put
    sent: list[str] = []

    async def fail_after_five(store, key, value):  # type: ignore[no-untyped-def]
        sent.append(key)
        if len(sent) > 5:
            raise ConnectionResetError("the network went away")
        await real_put(store, key, value)

    monkeypatch.setattr(streamed, "_put", fail_after_five)
    with pytest.raises((ObjstoreError, OSError)):
        objstore.publish(nc, url, rig.profile, chunks="time=1")
    landed = remote(rig, "stream/resumed.zarr")
    assert MARKER in landed and ".zmetadata" not in landed  # interrupted, never half-published
    assert set(sent[:5]) <= set(landed)

    monkeypatch.setattr(streamed, "_put", real_put)
    result = objstore.publish(nc, url, rig.profile, chunks="time=1")
    assert result.skipped == len(landed) - 1 >= 5  # what had landed is not sent again
    assert result.uploaded == result.objects - result.skipped
    assert any(n.startswith("resuming:") for n in result.notes)
    assert MARKER not in remote(rig, "stream/resumed.zarr")
    xr.testing.assert_identical(objstore.open_cube(url, rig.profile).load(),
                                xr.open_dataset(nc).load())


def test_a_shorter_source_over_an_interrupted_publish_is_refused_then_replaced(rig, tmp_path):
    url = rig.url("stream/other.zarr")
    objstore.publish(cf_netcdf(tmp_path / "long.nc", ntime=8), url, rig.profile, chunks="time=1")
    r = objstore.resolve(url, rig.profile)
    r.fs.rm_file(f"{r.path}/.zmetadata")  # as if it had stopped before the commit
    r.fs.pipe_file(f"{r.path}/{MARKER}", b"{}")
    short = cf_netcdf(tmp_path / "short.nc", ntime=4)

    with pytest.raises(CubeExistsError, match="interrupted publish of a different cube.*"
                                               "--overwrite"):
        objstore.publish(short, url, rig.profile, chunks="time=1")
    assert ".zmetadata" not in remote(rig, "stream/other.zarr")  # still nobody's cube

    result = objstore.publish(short, url, rig.profile, chunks="time=1", overwrite=True)
    assert result.deleted > 0 and not any(k.startswith("tas/7.") for k in
                                          remote(rig, "stream/other.zarr"))
    xr.testing.assert_identical(objstore.open_cube(url, rig.profile).load(),
                                xr.open_dataset(short).load())
