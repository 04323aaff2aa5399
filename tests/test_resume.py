"""Re-running an interrupted write_cube with resume=True finishes it, sending only the chunks that
are missing or differ; a dataset laid out differently is never mixed into it."""

from __future__ import annotations

import logging
import select
import shutil
import signal
import time
from pathlib import Path
from urllib.parse import unquote

import dask
import dask.array as da
import fsspec
import numpy as np
import pytest
import xarray as xr
from test_interrupted import _plain, _run

import objstore
from objstore.errors import CubeExistsError, InterruptedWriteError


def _source(n: int = 24) -> xr.Dataset:
    """What test_interrupted's writer writes (mode "w-", start 0): the same layout, same values."""
    values = np.arange(n * 4.0).reshape(n, 4)
    return xr.Dataset({"v": (("t", "x"), da.from_array(values, chunks=(1, 4)))},
                      coords={"t": np.arange(n)})


def _chunks_there(rig, key: str, var: str = "v") -> set[str]:  # type: ignore[no-untyped-def]
    fs, path = fsspec.url_to_fs(rig.plain_url(key), **rig.plain_options)
    fs.invalidate_cache()
    return {p.rsplit("/", 1)[-1] for p in fs.find(f"{path}/{var}")} - {".zarray", ".zattrs"}


def test_a_killed_write_resumes_sending_only_the_missing_chunks(counted, caplog):
    rig, px = counted.rig, counted.proxy
    url = rig.url("resumed.zarr")
    proc = _run(rig, url, "w-", 0, 24, 2, "slow")
    _stop_mid_write(proc, signal.SIGKILL, ready=lambda: len(_chunks_there(rig, "resumed.zarr"))
                    >= 12)
    there = _chunks_there(rig, "resumed.zarr")
    assert 0 < len(there) < 24

    with pytest.raises(CubeExistsError, match="resume=True finishes it"):
        objstore.write_cube(_source(), url, profile=counted.profile)
    px.reset_counts()
    with caplog.at_level(logging.WARNING, logger="objstore"), \
            dask.config.set({"array.chunk-size": "64B"}):
        objstore.write_cube(_source(), url, profile=counted.profile, resume=True)

    # the missing chunks and the consolidated metadata (the rest of the metadata is identical)
    coords = len(_chunks_there(rig, "resumed.zarr", "t"))
    writes = [unquote(t) for m, t in px.requests
              if m in ("PUT", "POST") and not t.endswith("?delete")  # bulk deletes (S3, Azure)
              and "comp=batch" not in t]
    assert len(writes) == (24 - len(there)) + (1 - coords) + 1, writes
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "resuming an interrupted write started 20" in said
    assert f"{len(there) + coords} of 25 chunks already there" in said
    expected = _source().load()
    xr.testing.assert_identical(objstore.open_cube(url, profile=rig.profile).load(), expected)
    xr.testing.assert_identical(_plain(rig, "resumed.zarr", 2).load(), expected)


def _stop_mid_write(proc, sig: int, ready) -> None:  # type: ignore[no-untyped-def]
    """Stop the writer once it stalls and ``ready()`` (enough chunks stored) holds."""
    ready_, _, _ = select.select([proc.stdout], [], [], 120)
    assert ready_ and proc.stdout.readline().strip() == "mid-write", proc.stderr.read()
    deadline = time.monotonic() + 60
    while not ready() and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    assert proc.returncode != 0


def _interrupted(tmp_path: Path, ds: xr.Dataset, lose: range) -> str:
    """A cube written by write_cube, then made to look stopped half-way: its consolidated
    metadata and some chunks gone, the marker of that write back in place."""
    from objstore.write_marker import MARKER, fingerprint, new_marker

    url = str(tmp_path / "half.zarr")
    objstore.write_cube(ds, url)
    (tmp_path / "half.zarr" / ".zmetadata").unlink()
    for i in lose:
        (tmp_path / "half.zarr" / "v" / f"{i}.0").unlink()
    (tmp_path / "half.zarr" / MARKER).write_bytes(new_marker("w-", fingerprint(ds, None, 2)))
    return url


def test_a_different_layout_is_refused_and_the_interrupted_write_kept(tmp_path):
    url = _interrupted(tmp_path, _source(), range(12, 24))
    for other in (_source().chunk({"t": 2}), _source(23), _source().rename({"v": "w"}),
                  _source().assign(v=_source().v.astype("f4"))):
        with pytest.raises(CubeExistsError, match="different dataset.*will not mix"):
            objstore.write_cube(other, url, resume=True)
    with pytest.raises(InterruptedWriteError):
        objstore.open_cube(url)
    objstore.write_cube(_source(), url, resume=True)
    xr.testing.assert_identical(objstore.open_cube(url).load(), _source().load())


def test_a_stored_chunk_that_differs_is_sent_again(tmp_path, caplog):
    url = _interrupted(tmp_path, _source(), range(20, 24))
    chunk = tmp_path / "half.zarr" / "v" / "3.0"
    good = chunk.read_bytes()
    chunk.write_bytes(bytes(b ^ 0xFF for b in good))  # same size, other bytes
    with caplog.at_level(logging.INFO, logger="objstore"):
        objstore.write_cube(_source(), url, resume=True)
    assert chunk.read_bytes() == good
    assert "21 of 25 chunks already there" in caplog.text and "5 chunks sent" in caplog.text
    xr.testing.assert_identical(objstore.open_cube(url).load(), _source().load())


def test_resume_on_a_complete_cube_or_another_mode_is_refused(tmp_path):
    url = str(tmp_path / "done.zarr")
    objstore.write_cube(_source(), url)
    with pytest.raises(CubeExistsError, match="mode='w' to replace"):
        objstore.write_cube(_source(), url, resume=True)
    with pytest.raises(ValueError, match="resume=True"):
        objstore.write_cube(_source(), url, mode="w", resume=True)
    shutil.rmtree(url)
    objstore.write_cube(_source(), url, resume=True)  # nothing to resume: a plain write
    xr.testing.assert_identical(objstore.open_cube(url).load(), _source().load())


#: ``objstore cp`` in a process of its own that stops half-way through the chunks (says so on
#: stdout), so the test can kill it there.
COPIER = """
import sys, threading
import objstore.transfer as t
from objstore.cli import app
real = t.send

def send(items, *args, **kwargs):
    items = list(items)
    if len(items) > 4:
        real(items[: len(items) // 2], *args, **kwargs)
        print("mid-write", flush=True)
        threading.Event().wait(60)
    return real(items, *args, **kwargs)

t.send = send
app(["cp", *sys.argv[1:]])
"""


def _chunked_source(tmp_path: Path, small_cube: xr.Dataset) -> Path:
    src = tmp_path / "src.zarr"
    small_cube.chunk({"time": 1}).to_zarr(src, consolidated=True, zarr_format=2)
    return src


def test_a_killed_cp_never_opens_and_the_same_cp_finishes_it(rig, tmp_path, small_cube):
    import os
    import subprocess
    import sys

    from objstore.transfer import copy

    src = _chunked_source(tmp_path, small_cube)
    url = rig.url("copied.zarr")
    proc = subprocess.Popen([sys.executable, "-c", COPIER, str(src), url],
                            env={**os.environ, **rig.env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _stop_mid_write(proc, signal.SIGKILL, ready=lambda: True)

    with pytest.raises(InterruptedWriteError, match="interrupted copy.*objstore cp again"):
        objstore.open_cube(url, profile=rig.profile)
    with pytest.raises((KeyError, FileNotFoundError, ValueError)):  # no consolidated metadata
        _plain(rig, "copied.zarr", 2)

    result = copy(str(src), url, rig.profile)
    assert result.skipped > 0 and result.copied < result.objects
    expected = xr.open_zarr(src).load()
    xr.testing.assert_identical(objstore.open_cube(url, profile=rig.profile).load(), expected)
    xr.testing.assert_identical(_plain(rig, "copied.zarr", 2).load(), expected)
    fs, path = fsspec.url_to_fs(rig.plain_url("copied.zarr"), **rig.plain_options)
    fs.invalidate_cache()
    assert not fs.exists(f"{path}/.objstore-write")


def test_cp_over_an_older_cube_removes_its_consolidated_metadata_before_any_chunk(
        tmp_path, small_cube, monkeypatch):
    import objstore.transfer as t

    src = _chunked_source(tmp_path, small_cube)
    dest = tmp_path / "dest.zarr"
    (small_cube + 1).chunk({"time": 1}).to_zarr(dest, consolidated=True, zarr_format=2)
    phases: list[list[str]] = []
    real = t.send

    def recording(items, *args, **kwargs):  # type: ignore[no-untyped-def]
        items = list(items)
        phases.append([i.rel for i in items])
        if len(phases) == 3:  # markers, chunks, then stop before the metadata
            raise KeyboardInterrupt
        return real(items, *args, **kwargs)

    monkeypatch.setattr(t, "send", recording)
    with pytest.raises(KeyboardInterrupt):
        t.copy(str(src), str(dest))
    assert phases[0] == [".objstore-write"]
    assert not any(r.rsplit("/", 1)[-1].startswith(".z") for r in phases[1])
    with pytest.raises(InterruptedWriteError, match="interrupted copy"):
        objstore.open_cube(str(dest))
    monkeypatch.setattr(t, "send", real)
    t.copy(str(src), str(dest))
    xr.testing.assert_identical(objstore.open_cube(str(dest)).load(), xr.open_zarr(src).load())


def test_an_interrupted_replacement_resumes_too(tmp_path, monkeypatch):
    """A mode="w" write stopped half-way (after its chunks, before the consolidated metadata)
    is finished by resume=True."""
    from objstore import cube_write

    url = str(tmp_path / "again.zarr")
    objstore.write_cube(_source(), url)

    def stop(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    monkeypatch.setattr(cube_write, "_write_consolidated", stop)
    with pytest.raises(KeyboardInterrupt):
        objstore.write_cube(_source() * 2, url, mode="w")
    monkeypatch.undo()
    with pytest.raises(InterruptedWriteError, match="resume=True"):
        objstore.open_cube(url)
    objstore.write_cube(_source() * 2, url, resume=True)
    xr.testing.assert_identical(objstore.open_cube(url).load(), (_source() * 2).load())
