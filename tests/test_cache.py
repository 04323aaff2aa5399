"""The local chunk cache (objstore/cache.py): a second read of a cube sends no chunk request, a cube
rewritten in place is read again, the folder stays within its size, on every backend and engine
(request counts through the counting proxy; no timings)."""

from __future__ import annotations

import os
import re
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import objstore
from objstore.cache import evict

CHUNK = re.compile(r"^\d+(\.\d+)*$")  # a format-2 chunk key's last part: "0.0.0"


def _cube(seed: int) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    return xr.Dataset(
        {"tas": (("time", "lat", "lon"), rng.standard_normal((6, 8, 16)).astype("f4"))},
        coords={"time": pd.date_range("2001-01-01", periods=6), "lat": np.arange(8.0),
                "lon": np.arange(16.0)})


def _chunk_gets(proxy) -> list[str]:
    names = [unquote(t.split("?")[0]).rsplit("/", 1)[-1] for m, t in proxy.requests
             if m == "GET"]
    return [n for n in names if CHUNK.match(n)]


def test_a_second_read_sends_no_chunk_requests_and_a_rewrite_is_read_again(counted, tmp_path):
    url = counted.rig.url("cached.zarr")
    folder = tmp_path / "chunks"
    enc = {"tas": {"chunks": (1, 8, 16)}}
    objstore.write_cube(_cube(0), url, profile=counted.rig.profile, encoding=enc)

    counted.proxy.reset_counts()
    first = objstore.open_cube(url, profile=counted.profile, cache=folder).load()
    assert len(_chunk_gets(counted.proxy)) == 6 + 3  # tas, then time, lat, lon

    counted.proxy.reset_counts()
    again = objstore.open_cube(url, profile=counted.profile, cache=folder).load()
    assert _chunk_gets(counted.proxy) == []
    xr.testing.assert_identical(again, first)

    # rewritten in place (same layout, other values): never served stale
    objstore.write_cube(_cube(1), url, profile=counted.rig.profile, encoding=enc, mode="w")
    counted.proxy.reset_counts()
    new = objstore.open_cube(url, profile=counted.profile, cache=folder).load()
    np.testing.assert_array_equal(new["tas"].values, _cube(1)["tas"].values)
    gets = _chunk_gets(counted.proxy)
    assert len([n for n in gets if n.count(".") == 2]) == 6  # every tas chunk, read again
    assert len(gets) <= 6 + 3  # (the coordinates too where the store lists no content MD5)


def test_the_profile_turns_the_cache_on(s3_rig, tmp_path):
    url = s3_rig.url("profile-cache.zarr")
    objstore.write_cube(_cube(0), url, profile=s3_rig.profile)
    prof = s3_rig.profile.model_copy(update={"cache": str(tmp_path / "c"), "cache_size": "1MB"})
    objstore.open_cube(url, profile=prof).load()
    assert any((tmp_path / "c").rglob("*"))
    objstore.open_cube(url, profile=prof, cache=False).load()  # the argument wins


def test_the_folder_stays_within_its_size_and_other_files_are_left_alone(tmp_path):
    entry = "e" * 64
    for i in range(20):
        sub = tmp_path / f"{i:02x}"
        sub.mkdir()
        (sub / entry).write_bytes(b"x" * 1000)
        os.utime(sub / entry, (i, i))  # entry 0 is the least recently used
    (tmp_path / "00" / "notes.txt").write_bytes(b"mine" * 1000)  # not the cache's
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / entry).write_bytes(b"y" * 5000)
    assert evict(tmp_path, 8000) <= 8000
    left = sorted(p.parent.name for p in tmp_path.rglob(entry))
    assert left == sorted(["mine", *(f"{i:02x}" for i in range(13, 20))])  # the newest 7
    assert (tmp_path / "00" / "notes.txt").exists()


def test_the_folder_holds_no_url_or_secret(s3_rig, tmp_path):
    url = s3_rig.url("private.zarr")
    objstore.write_cube(_cube(0), url, profile=s3_rig.profile)
    objstore.open_cube(url, profile=s3_rig.profile, cache=tmp_path / "c").load()
    names = " ".join(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert s3_rig.bucket not in names and "testing" not in names
    assert (tmp_path / "c").stat().st_mode & 0o077 == 0


def test_a_cube_that_cannot_be_listed_is_read_without_the_cache(s3_rig, tmp_path, monkeypatch):
    from objstore import cache

    url = s3_rig.url("unlisted.zarr")
    objstore.write_cube(_cube(0), url, profile=s3_rig.profile)

    def refused(self):
        raise PermissionError("AccessDenied: ListObjectsV2")

    async def refused_async(self):
        refused(self)

    monkeypatch.setattr(cache.ChunkCache, "_list", refused)  # the fsspec engine's listing
    monkeypatch.setattr(cache.ChunkCache, "_list_obstore", refused_async)
    with pytest.warns(UserWarning, match="chunk cache is off for this cube"):
        ds = objstore.open_cube(url, profile=s3_rig.profile, cache=tmp_path / "c").load()
    xr.testing.assert_identical(ds, objstore.open_cube(url, profile=s3_rig.profile).load())


@pytest.mark.parametrize("size", [0])
def test_no_cache_without_asking(s3_rig, tmp_path, size, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    url = s3_rig.url("nocache.zarr")
    objstore.write_cube(_cube(0), url, profile=s3_rig.profile)
    objstore.open_cube(url, profile=s3_rig.profile).load()
    assert not (tmp_path / "objstore" / "chunks").exists()


def test_a_damaged_body_is_never_kept(s3_rig, tmp_path, monkeypatch):
    from objstore import cache

    url = s3_rig.url("damaged.zarr")
    objstore.write_cube(_cube(0), url, profile=s3_rig.profile,
                        encoding={"tas": {"chunks": (1, 8, 16)}})
    intact = cache._intact
    monkeypatch.setattr(cache, "_intact", lambda data, ident: False)  # every body looks damaged
    objstore.open_cube(url, profile=s3_rig.profile, cache=tmp_path / "c").load()
    assert not [p for p in (tmp_path / "c").rglob("*") if p.is_file()]
    assert intact(b"abc", "md5=900150983cd24fb0d6963f7d28e17f72|3")
    assert not intact(b"abd", "md5=900150983cd24fb0d6963f7d28e17f72|3")
    assert intact(b"abd", "etag=0x8D1|3")  # nothing to check against


def test_a_bad_cache_size_is_a_clear_error(s3_rig, tmp_path):
    url = s3_rig.url("size.zarr")
    objstore.write_cube(_cube(0), url, profile=s3_rig.profile)
    with pytest.raises(objstore.ConfigError, match="cache_size 'lots' is not a size"):
        objstore.open_cube(url, profile=s3_rig.profile, cache=tmp_path / "c", cache_size="lots")


READER = """
import sys
import numpy as np
import objstore
from objstore.profiles import S3Profile
url, endpoint, folder = sys.argv[1:4]
profile = S3Profile(name="r", key="testing", secret="testing", endpoint_url=endpoint)
for _ in range(3):
    ds = objstore.open_cube(url, profile=profile, cache=folder).load()
    print(float(ds["tas"].sum()))
"""


def test_processes_share_one_folder_safely(s3_rig, tmp_path):
    import subprocess
    import sys

    url = s3_rig.url("shared.zarr")
    cube = _cube(3)
    objstore.write_cube(cube, url, profile=s3_rig.profile,
                        encoding={"tas": {"chunks": (1, 8, 16)}})
    folder = tmp_path / "shared"
    args = [sys.executable, "-c", READER, url, s3_rig.server.endpoint_url, str(folder)]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    want = float(cube["tas"].sum())
    sums = [float(x) for out in outs for x in out.split()]
    assert len(sums) == 9 and all(s == pytest.approx(want, rel=1e-5) for s in sums)
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert files and not [p for p in files if p.name.startswith(".")]  # no temporary left
    assert len(files) == 6 + 3  # one entry per chunk, however many processes wrote it


def test_the_benchmark_child_reads_from_the_cache_in_two_requests(rig, tmp_path):
    """``benchmarks/bench_cache.py``'s fresh process, counted: a second read of a cube sends the
    consolidated metadata's GET and one listing, on every backend."""
    from _proc import run_child  # benchmarks/, on sys.path from conftest
    from latency_proxy import LatencyProxy
    from rigs import profile_via, server_port
    from test_bench_children import _spec

    with LatencyProxy("127.0.0.1", server_port(rig), delay_s=0.0, record=True) as px:
        objstore.write_cube(_cube(0), rig.url("cube.zarr"), profile=profile_via(rig, px.url),
                            encoding={"tas": {"chunks": (1, 8, 16)}})
        job = {"spec": _spec(rig, px.url), "key": "cube.zarr", "folder": str(tmp_path / "c")}
        counts = []
        for _ in range(2):
            out = run_child("_cache_child.py", job, on_ready=px.reset_counts, timeout=300)
            assert "error" not in out, out.get("stderr", out["error"])
            counts.append(px.counts["total"])
    assert counts[0] >= 2 + 9 and counts[1] == 2  # metadata, listing (+ every chunk, once)
