"""A write_cube stopped for real (SIGKILL, Ctrl-C) never opens as a complete cube, on every
backend; running it again finishes it; an interrupted append leaves the previous cube as it was."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys

import fsspec
import numpy as np
import pytest
import xarray as xr
from racing import race_two_writes
from typer.testing import CliRunner

import objstore
from objstore.cli import app
from objstore.cube import cube_contents
from objstore.errors import CubeExistsError, InterruptedWriteError

#: A user's script writing a dask-backed cube; with "slow", one block stalls half-way through (it
#: says so on stdout) so the test can stop the process while chunks are being written.
WRITER = """
import sys, threading, time
import dask, dask.array as da, numpy as np, xarray as xr, objstore
url, mode, start, n, fmt, slow = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6]), sys.argv[6]
stop = threading.Event()

def stall(block, block_info=None):
    if slow == "slow" and block_info[0]["chunk-location"][0] == n - 3:
        print("mid-write", flush=True)
        stop.wait(60)
    return block

values = np.arange(start * 4.0, (start + n) * 4.0).reshape(n, 4)
data = da.from_array(values, chunks=(1, 4)).map_blocks(stall, dtype="f8")
ds = xr.Dataset({"v": (("t", "x"), data)}, coords={"t": np.arange(start, start + n)})
extra = {"append_dim": "t"} if mode == "a" else {}
with dask.config.set({"array.chunk-size": "64B"}):  # many small dask tasks, written as they come
    try:
        objstore.write_cube(ds, url, mode=mode, zarr_format=fmt, **extra)
    except KeyboardInterrupt:
        stop.set()
        raise
print("done", flush=True)
"""


def _expected(start: int, n: int) -> xr.Dataset:
    values = np.arange(start * 4.0, (start + n) * 4.0).reshape(n, 4)
    return xr.Dataset({"v": (("t", "x"), values)}, coords={"t": np.arange(start, start + n)})


def _run(rig, url: str, mode: str, start: int, n: int, fmt: int, slow: str):  # type: ignore[no-untyped-def]
    env = {**os.environ, **rig.env}
    args = [sys.executable, "-c", WRITER, url, mode, str(start), str(n), str(fmt), slow]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _stop_mid_write(proc, sig: int) -> None:  # type: ignore[no-untyped-def]
    ready, _, _ = select.select([proc.stdout], [], [], 120)
    assert ready, "the writer never reached the middle of its write"
    line = proc.stdout.readline()
    if line.strip() != "mid-write":
        _, err = proc.communicate(timeout=60)
        pytest.fail(f"the writer ended early: {line}{err}")
    proc.send_signal(sig)
    proc.communicate(timeout=60)  # and close its pipes
    assert proc.returncode != 0


def _finish(rig, url: str, mode: str, start: int, n: int, fmt: int) -> None:  # type: ignore[no-untyped-def]
    proc = _run(rig, url, mode, start, n, fmt, "fast")
    out, err = proc.communicate(timeout=180)
    assert (proc.returncode, out.strip()) == (0, "done"), err


def _plain(rig, key: str, fmt: int) -> xr.Dataset:  # type: ignore[no-untyped-def]
    return xr.open_zarr(fsspec.get_mapper(rig.plain_url(key), **rig.plain_options),
                        consolidated=True, zarr_format=fmt)


@pytest.mark.parametrize(("sig", "fmt"), [(signal.SIGKILL, 2), (signal.SIGINT, 3)],
                         ids=["sigkill-v2", "ctrl-c-v3"])
def test_stopped_write_is_refused_by_every_reader_until_written_again(rig, sig, fmt,
                                                                      monkeypatch):
    url = rig.url("stopped.zarr")
    _stop_mid_write(_run(rig, url, "w-", 0, 24, fmt, "slow"), sig)

    with pytest.raises(InterruptedWriteError) as info:
        objstore.open_cube(url, profile=rig.profile)
    msg = str(info.value)
    assert "interrupted write" in msg and "started 20" in msg and "UTC" in msg
    assert "mode='w'" in msg and "did not finish" in msg
    with pytest.raises(InterruptedWriteError):
        objstore.open_cube(url, profile=rig.profile, consolidated=False)

    for k, v in rig.env.items():
        monkeypatch.setenv(k, v)
    result = CliRunner().invoke(app, ["open", url], env={"COLUMNS": "250"})
    out = result.output.strip()
    assert result.exit_code == 1 and out.startswith("error:") and "Traceback" not in out, out
    assert out.count("error:") == 1 and "interrupted write" in " ".join(out.split())

    with pytest.raises((KeyError, FileNotFoundError, ValueError)):  # zarr's "no group/metadata"
        _plain(rig, "stopped.zarr", fmt)

    with pytest.raises(CubeExistsError, match="interrupted write.*started.*mode='w'.*finishes it"):
        objstore.write_cube(_expected(0, 24), url, profile=rig.profile)

    _finish(rig, url, "w", 0, 24, fmt)
    xr.testing.assert_identical(objstore.open_cube(url, profile=rig.profile).load(),
                                _expected(0, 24))
    xr.testing.assert_identical(_plain(rig, "stopped.zarr", fmt).load(), _expected(0, 24))
    assert ".objstore-write" not in cube_contents(objstore.resolve(url, rig.profile))


@pytest.mark.filterwarnings("ignore:Object at .objstore-write is not recognized")  # plain zarr
def test_stopped_append_leaves_the_previous_cube_unchanged(rig):
    url = rig.url("growing.zarr")
    objstore.write_cube(_expected(0, 8).chunk({"t": 1}), url, profile=rig.profile)
    _stop_mid_write(_run(rig, url, "a", 8, 16, 2, "slow"), signal.SIGKILL)

    xr.testing.assert_identical(objstore.open_cube(url, profile=rig.profile).load(),
                                _expected(0, 8))
    xr.testing.assert_identical(_plain(rig, "growing.zarr", 2).load(), _expected(0, 8))
    mapper = fsspec.get_mapper(rig.plain_url("growing.zarr"), **rig.plain_options)
    assert xr.open_zarr(mapper, consolidated=False).sizes["t"] == 8  # the new length comes last

    _finish(rig, url, "a", 8, 16, 2)
    xr.testing.assert_identical(objstore.open_cube(url, profile=rig.profile).load(),
                                _expected(0, 24))


def test_an_interrupted_publish_is_named_too(tmp_path, small_cube):
    """publish's own marker (it resumes on a re-run): open_cube does not open what it left."""
    url = tmp_path / "pub.zarr"
    small_cube.to_zarr(url, consolidated=False)
    (url / ".objstore-publishing").write_text("{}")
    with pytest.raises(InterruptedWriteError, match="interrupted publish.*resume"):
        objstore.open_cube(str(url))


def test_a_dataset_refused_before_anything_was_written_leaves_nothing(tmp_path, small_cube):
    url = str(tmp_path / "typo.zarr")
    with pytest.raises(ValueError, match="unexpected encoding"):
        objstore.write_cube(small_cube, url, encoding={"tas": {"compresion": None}})
    objstore.write_cube(small_cube, url)  # mode="w-" again: nothing is in the way
    xr.testing.assert_identical(objstore.open_cube(url).load(), small_cube.load())


def test_replacing_deletes_the_old_consolidated_metadata_first(tmp_path, small_cube,
                                                               monkeypatch):
    from objstore.cubestore import CubeStore

    url = str(tmp_path / "old.zarr")
    objstore.write_cube(small_cube, url)
    batches: list[list[str]] = []
    delete_keys = CubeStore._delete_keys

    async def recording(self, keys):  # type: ignore[no-untyped-def]
        batches.append(sorted(keys))
        await delete_keys(self, keys)

    monkeypatch.setattr(CubeStore, "_delete_keys", recording)
    objstore.write_cube(small_cube.isel(time=[0]), url, mode="w")
    assert batches[0] == [".zmetadata"] and ".objstore-write" not in sum(batches, [])
    assert objstore.open_cube(url).sizes["time"] == 1


@pytest.mark.parametrize("backend", ["s3", "azure", "local"])
def test_two_writers_racing_for_one_place_cannot_both_succeed(backend, request, tmp_path,
                                                              small_cube, monkeypatch):
    """Both look at an empty place at the same moment; the marker's conditional create lets
    exactly one of them write (``mode="w-"``). Where the server makes that create atomic: moto,
    Azurite and local disk (the Swift all-in-one checks If-None-Match before a PUT, not
    atomically; the GCS emulator ignores ifGenerationMatch)."""
    if backend == "local":
        url, profile = str(tmp_path / "race.zarr"), None
    else:
        rig = request.getfixturevalue(f"{backend}_rig")
        url, profile = rig.url("race.zarr"), rig.profile
    outcomes = race_two_writes(monkeypatch, small_cube, url, profile)
    winners = [o for o in outcomes if isinstance(o, float)]
    losers = [o for o in outcomes if isinstance(o, CubeExistsError)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert "still running" in str(losers[0])
    xr.testing.assert_identical(objstore.open_cube(url, profile=profile).load(),
                                (small_cube + winners[0]).load())
