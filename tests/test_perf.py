"""Performance behaviour that can be asserted exactly: request counts through the counting proxy,
which objects are written and in what order, dask chunk grouping, connection pools, memory.

No timings here: times are printed by ``benchmarks/`` (see docs/performance.md).
"""

from __future__ import annotations

import tracemalloc
from collections import Counter
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from latency_proxy import LatencyProxy  # benchmarks/, on sys.path from conftest

import objstore
from objstore import perf
from objstore.profiles import AzureProfile, S3Profile, Source
from objstore.urls import parse

ENGINES = ["fsspec", "obstore"]


@pytest.fixture
def proxy(s3_rig):
    with LatencyProxy("127.0.0.1", s3_rig.server.port, delay_s=0.0, record=True) as px:
        yield px


@pytest.fixture(params=ENGINES)
def engine(request, monkeypatch):
    monkeypatch.setenv("OBJSTORE_ENGINE", request.param)
    return request.param


def _profile(proxy, **kw) -> S3Profile:
    return S3Profile(name="counted", key="testing", secret="testing", endpoint_url=proxy.url,
                     source=Source(kind="test"), **kw)


def _cube(n_time: int = 12) -> xr.Dataset:
    rng = np.random.default_rng(0)
    return xr.Dataset(
        {"tas": (("time", "lat", "lon"), rng.standard_normal((n_time, 8, 16)).astype("f4"))},
        coords={"time": pd.date_range("2001-01-01", periods=n_time),
                "lat": np.arange(8.0), "lon": np.arange(16.0)},
    )


ONE_PER_STEP = {"tas": {"chunks": (1, 8, 16)}}


def _names(proxy, method: str | None = None) -> list[str]:
    return [t.split("?")[0].rsplit("/", 1)[-1] for m, t in proxy.requests
            if method is None or m == method]


def _written(c, cube: str) -> list[str]:
    """Keys (relative to ``cube``) of the objects written through ``c.proxy``, in order."""
    if c.rig.backend == "gcs":  # gcsfs names the object in the multipart body, not the URL
        names = c.rig.server.uploaded_names()
    else:
        names = [unquote(t.split("?")[0]) for m, t in c.proxy.requests if m == "PUT"]
    return [n.split(f"{cube}/", 1)[1] for n in names if f"{cube}/" in n]


@pytest.mark.parametrize("fmt", [2, 3])
def test_open_reaches_the_data_in_four_requests(counted, fmt):
    url = counted.rig.url(f"open{fmt}.zarr")
    objstore.write_cube(_cube(), url, profile=counted.rig.profile, zarr_format=fmt,
                        encoding=ONE_PER_STEP)
    counted.proxy.reset_counts()
    ds = objstore.open_cube(url, profile=counted.profile, zarr_format=fmt)
    assert counted.proxy.counts == {"GET": 4, "total": 4}  # metadata, then time, lat, lon at once
    assert ds["tas"].shape == (12, 8, 16) and ds.time.size == 12


@pytest.mark.filterwarnings("ignore:Consolidated metadata is currently not part")  # plain to_zarr
@pytest.mark.parametrize("fmt", [2, 3])
def test_open_without_the_format_given(s3_rig, proxy, engine, fmt):
    url = s3_rig.url(f"open{fmt}.zarr")
    objstore.write_cube(_cube(), url, profile=s3_rig.profile, zarr_format=fmt,
                        encoding=ONE_PER_STEP)
    proxy.reset_counts()
    objstore.open_cube(url, profile=_profile(proxy))
    assert proxy.counts["total"] == 4 + (fmt == 3)  # format 3 never seen under this profile
    if fmt == 3:
        _opening_a_format3_cube_costs_four_requests_once_its_bucket_is_known(s3_rig, proxy, url)


def _opening_a_format3_cube_costs_four_requests_once_its_bucket_is_known(s3_rig, proxy, url):
    from objstore import format_memo

    prof = _profile(proxy)

    def requests_to_open(u: str) -> int:
        proxy.reset_counts()
        objstore.open_cube(u, profile=prof)
        return proxy.counts["total"]

    format_memo.clear(disk=True)  # a machine that never saw this store: format 2 is asked first
    assert requests_to_open(url) == 5
    assert requests_to_open(url) == 4
    format_memo.clear()  # a new process: the format comes from the user cache
    assert requests_to_open(url) == 4
    # a sibling cube written by another tool: the bucket's format is tried first
    other = s3_rig.url("by-xarray.zarr")
    _cube().to_zarr(s3_rig.plain_url("by-xarray.zarr"), storage_options=s3_rig.plain_options,
                    zarr_format=3, consolidated=True)
    assert requests_to_open(other) == 4
    # a stale memo (the cube was rewritten in format 2) costs one request, no error
    objstore.write_cube(_cube(), url, profile=s3_rig.profile, mode="w", zarr_format=2)
    format_memo.remember(parse(url), prof.name, 3)
    assert requests_to_open(url) == 5


def test_full_read_sends_one_get_per_chunk_and_no_head(counted):
    url = counted.rig.url("read.zarr")
    cube = _cube()
    objstore.write_cube(cube, url, profile=counted.rig.profile, encoding=ONE_PER_STEP)
    prof, px = counted.profile, counted.proxy
    px.reset_counts()
    back = objstore.open_cube(url, profile=prof).load()
    xr.testing.assert_identical(back, cube)
    assert px.counts == {"GET": 4 + 12, "total": 4 + 12}

    px.reset_counts()
    objstore.open_cube(url, profile=prof, chunks=None).load()
    assert px.counts == {"GET": 4 + 12, "total": 4 + 12}

    px.reset_counts()  # a slice of a grouped dask chunk still reads only its own chunk
    one = objstore.open_cube(url, profile=prof)["tas"].isel(time=3).values
    np.testing.assert_array_equal(one, cube["tas"].values[3])
    assert px.counts == {"GET": 4 + 1, "total": 4 + 1}


@pytest.mark.parametrize("fmt", [2, 3])
def test_write_puts_each_metadata_object_once_consolidated_last(counted, fmt):
    url = counted.rig.url(f"write{fmt}.zarr")
    if counted.rig.backend == "gcs":
        counted.rig.server.clear_request_log()
    counted.proxy.reset_counts()
    objstore.write_cube(_cube().chunk({"time": 1}), url, profile=counted.profile, zarr_format=fmt)
    assert "HEAD" not in counted.proxy.counts
    keys = _written(counted, f"write{fmt}.zarr")
    assert Counter(keys).most_common(1)[0][1] == 1  # every object written once
    meta = [k for k in keys if k.rsplit("/", 1)[-1] in (".zarray", ".zattrs", ".zgroup",
                                                        ".zmetadata", "zarr.json")]
    assert keys[0] == ".objstore-write"  # the in-progress marker, first
    assert keys[-1] == (".zmetadata" if fmt == 2 else "zarr.json")  # the commit point, last
    deleted = {unquote(t.split("?")[0]).rsplit("/", 1)[-1] for m, t in counted.proxy.requests
               if m == "DELETE" and ".objstore-probe-" not in unquote(t)}  # conditional.py's
    assert deleted <= {".objstore-write"}  # nothing but the marker is deleted (obstore: a POST)
    assert ".objstore-write" not in objstore.cube.cube_contents(objstore.resolve(url, counted.profile))
    n_chunks = 12 + 3
    assert len(keys) == 1 + n_chunks + len(meta)
    xr.testing.assert_identical(objstore.open_cube(url, profile=counted.profile).load(), _cube())


def test_unconsolidated_cube_opens_with_a_warning_that_says_the_fix(s3_rig, small_cube):
    url = s3_rig.url("loose.zarr")
    objstore.write_cube(small_cube, url, profile=s3_rig.profile, consolidated=False)
    with pytest.warns(UserWarning, match="no consolidated metadata.*publish it with consolidated"):
        ds = objstore.open_cube(url, profile=s3_rig.profile)
    xr.testing.assert_identical(ds.load(), small_cube.load())


def test_dask_chunks_group_stored_chunks_up_to_max_concurrency(s3_rig, proxy):
    url = s3_rig.url("grouped.zarr")
    objstore.write_cube(_cube(40), url, profile=s3_rig.profile, encoding=ONE_PER_STEP)
    ds = objstore.open_cube(url, profile=_profile(proxy, max_concurrency=16))
    assert ds["tas"].chunks == ((16, 16, 8), (8,), (16,))
    assert ds["tas"].encoding["chunks"] == (1, 8, 16)  # what is stored is unchanged
    assert objstore.open_cube(url, profile=s3_rig.profile, chunks={})["tas"].chunks[0] == (1,) * 40


def test_dask_writes_group_chunks_but_store_the_users_chunking(s3_rig, proxy):
    url = s3_rig.url("wgroup.zarr")
    prof = _profile(proxy, max_concurrency=8)
    objstore.write_cube(_cube(20).chunk({"time": 1}), url, profile=prof)
    back = objstore.open_cube(url, profile=prof)
    assert back["tas"].encoding["chunks"] == (1, 8, 16)
    assert sum(1 for n in _names(proxy, "PUT") if n.endswith(".0.0")) == 20


def test_connection_pool_matches_max_concurrency(monkeypatch):
    monkeypatch.setenv("OBJSTORE_ENGINE", "fsspec")
    prof = S3Profile(name="p", key="k", secret="s", endpoint_url="http://127.0.0.1:9",
                     max_concurrency=24)
    store = objstore.resolve("s3://b/c.zarr", prof).zarr_store()
    assert store.max_concurrency == 24
    assert store._store.fs.config_kwargs["max_pool_connections"] == 24
    default = objstore.resolve("s3://b/c.zarr", S3Profile(name="q", key="k", secret="s"))
    assert default.zarr_store().max_concurrency == perf.DEFAULT_MAX_CONCURRENCY


def test_engine_choice():
    keys = {"key": "k", "secret": "s", "endpoint_url": "http://x"}
    assert perf.engine(S3Profile(name="d"), "s3", keys) == "obstore"  # the default: auto
    assert perf.engine(S3Profile(name="d"), "s3", {"profile": "sso"}) == "fsspec"
    prof = S3Profile(name="p", engine="auto")
    assert perf.engine(prof, "s3", keys) == "obstore"
    assert perf.engine(prof, "s3", {"anon": True}) == "obstore"
    assert perf.engine(prof, "s3", {"profile": "sso"}) == "fsspec"  # botocore's credential chain
    assert perf.engine(prof, "s3", {**keys, "config_kwargs": {"x": 1}}) == "fsspec"
    assert perf.engine(prof, "gcs", {}) == "fsspec"
    # Azure: obstore unless told otherwise (measured about twice as fast as adlfs)
    az = {"connection_string": "DefaultEndpointsProtocol=http;AccountName=a;AccountKey=a2V5;"
                               "BlobEndpoint=http://127.0.0.1:9/a;"}
    assert perf.engine(AzureProfile(name="a"), "az", az) == "obstore"
    assert perf.engine(AzureProfile(name="a", engine="fsspec"), "az", az) == "fsspec"
    assert perf.engine(AzureProfile(name="a"), "az", {**az, "credential": "x"}) == "fsspec"


def test_group_chunks():
    a = perf.ArrayInfo(("time", "lat", "lon"), (1000, 128, 128), (1, 128, 128), 4)
    assert perf.group_factors(a, 64, 2**30) == (64, 1, 1)
    assert perf.group_chunks([a], 64, 2**30) == {"time": 64, "lat": 128, "lon": 128}
    assert perf.group_chunks([a], 64, 4 * 65536)["time"] == 4  # the byte cap wins
    b = perf.ArrayInfo(("time", "y"), (10, 1000), (10, 10), 8)  # outer dim covered: go inner
    assert perf.group_factors(b, 20, 2**30) == (1, 20)


def test_memory_stays_near_requests_in_flight_times_chunk_size(s3_rig, monkeypatch):
    """A 128 MiB dask cube written and reduced with max_concurrency=4: the client's Python-side
    allocations stay a small multiple of 4 x 256 KiB (measured: about 16 MB writing, 7 MB
    reading), far from the cube's size."""
    import dask.array as da

    monkeypatch.setenv("OBJSTORE_ENGINE", "fsspec")  # its buffers are all Python objects
    n, chunk = 512, (1, 256, 256)  # 512 chunks of 256 KiB
    data = da.random.default_rng(0).standard_normal((n, 256, 256), chunks=chunk, dtype="f4")
    cube = xr.Dataset({"v": (("t", "y", "x"), data)})
    prof = s3_rig.profile.model_copy(update={"max_concurrency": 4})
    url = s3_rig.url("big.zarr")
    size = n * 256 * 256 * 4
    warm = cube.isel(t=slice(0, 8))  # first use imports and allocates once: not the point here
    objstore.write_cube(warm, s3_rig.url("warm.zarr"), profile=prof)
    objstore.open_cube(s3_rig.url("warm.zarr"), profile=prof)["v"].sum().compute()

    tracemalloc.start()
    try:
        objstore.write_cube(cube, url, profile=prof, encoding={"v": {"compressors": None}})
        _, peak_write = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        total = float(objstore.open_cube(url, profile=prof)["v"].sum().compute())
        _, peak_read = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert np.isfinite(total)
    assert peak_write < size / 4, (peak_write, size)
    assert peak_read < size / 4, (peak_read, size)


def test_small_puts_go_out_in_one_round_trip_without_expect_100_continue(s3_rig):
    """botocore asks for ``100 Continue`` before every PUT body, which costs a round trip per
    chunk; objstore's s3fs sends chunk-sized bodies at once and keeps the handshake for big ones."""
    from objstore.backends._s3fs import KEEP_EXPECT_ABOVE

    fs = objstore.filesystem(s3_rig.url("x"), profile=s3_rig.profile)
    fs.pipe_file(f"{s3_rig.bucket}/warm", b"x")  # the client exists after the first call
    sent: list[dict] = []
    fs.s3.meta.events.register("before-send.s3.PutObject",
                               lambda request, **_: sent.append(dict(request.headers)))
    fs.pipe_file(f"{s3_rig.bucket}/chunk", b"x" * 65536)
    big = b"y" * (KEEP_EXPECT_ABOVE + 1)
    fs.pipe_file(f"{s3_rig.bucket}/big", big)
    assert "Expect" not in sent[0] and sent[1].get("Expect") == b"100-continue"
    assert fs.cat_file(f"{s3_rig.bucket}/chunk") == b"x" * 65536
    assert fs.cat_file(f"{s3_rig.bucket}/big") == big


def test_many_dask_threads_keep_at_most_max_concurrency_in_flight(counted, monkeypatch):
    """Each grouped dask task asks for up to max_concurrency chunks at once; with more threads
    than that (a big node), the store still keeps at most max_concurrency requests in flight."""
    import dask

    from objstore.cubestore import CubeStore

    url = counted.rig.url("threads.zarr")
    cube = _cube(40)
    objstore.write_cube(cube, url, profile=counted.rig.profile, encoding=ONE_PER_STEP)
    prof = counted.profile.model_copy(update={"max_concurrency": 4})
    live = peak = 0
    fetch = CubeStore._fetch_now

    async def counting(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal live, peak
        live += 1
        peak = max(peak, live)
        try:
            return await fetch(self, *args, **kwargs)
        finally:
            live -= 1

    monkeypatch.setattr(CubeStore, "_fetch_now", counting)
    counted.proxy.delay_s = 0.01  # requests that overlap, as on a real link
    counted.proxy.reset_counts()
    with dask.config.set(scheduler="threads", num_workers=8):
        back = objstore.open_cube(url, profile=prof, chunks={"time": 4}).load()  # 10 tasks
    xr.testing.assert_identical(back, cube)
    assert counted.proxy.counts["GET"] == 4 + 40
    assert peak == 4


def test_big_chunk_write_holds_each_chunk_in_flight_once(rig):
    """A cube of 4 MiB chunks written with max_concurrency=4: what the write adds to the process
    (tracemalloc: numpy's buffers and every copy made for a request) stays within the chunks it
    keeps in flight, each once, plus the chunk each dask thread encodes while it waits for a
    slot; not the cube, nor groups copied several times. The cube is
    lazy, every chunk the same block, so the source itself costs nothing."""
    import dask
    import dask.array as da

    if rig.backend not in ("s3", "swift"):
        pytest.skip("S3 and Swift: the fsspec upload paths objstore hands bodies to")
    n, ny, nx = 24, 1024, 1024  # 24 chunks of 4 MiB
    chunk = ny * nx * 4
    block = np.random.default_rng(0).standard_normal((1, ny, nx), dtype="float32")
    one = da.from_array(block, chunks=block.shape)
    cube = xr.Dataset({"v": (("t", "y", "x"), da.concatenate([one] * n, axis=0))})
    prof = rig.profile.model_copy(update={"max_concurrency": 4})
    in_flight = perf.write_in_flight(chunk, 4)
    assert in_flight == 4
    enc = {"v": {"chunks": (1, ny, nx), "compressors": None}}
    objstore.write_cube(cube.isel(t=slice(0, 2)), rig.url("warm.zarr"), profile=prof,
                        encoding=enc)  # imports and clients: not the point here
    threads = 2
    tracemalloc.start()
    try:
        with dask.config.set(scheduler="threads", num_workers=threads):
            objstore.write_cube(cube, rig.url("big.zarr"), profile=prof, encoding=enc)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < (in_flight + threads) * chunk + 4 * 2**20, (peak / 2**20, in_flight)
    back = objstore.open_cube(rig.url("big.zarr"), profile=prof)["v"]
    assert np.array_equal(back[-1].values, block[0])
