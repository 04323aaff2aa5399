"""Child of ``bench_big.py``: one client writes or reads one big-chunk cube, in a fresh process.

    python benchmarks/_big_child.py '{"spec": {...}, "client": "objstore", "op": "write",
                                      "key": "objstore.zarr", "n": 128, "ny": 1024, "nx": 2048}'

Clients: ``floor`` (floor.py's raw aiohttp client, the same bytes as objects of their own),
``plain`` (xarray + the backend's fsspec filesystem), ``peer`` (xarray + zarr's ObjectStore over
obstore), ``objstore`` (``write_cube`` / ``open_cube(...).load()``), and ``stack``: the same
``to_zarr`` / ``xr.open_zarr(...).load()`` on zarr's in-memory ``MemoryStore``, no network: what
xarray + zarr + dask cost with no I/O at all (its read first writes the cube, untimed). The cube is lazy (dask, one
block reused for every chunk), so writing it holds no copy of the cube in memory; the clock starts
after the imports, the set-up and a warm-up (a 1-chunk cube written and read by the same client). With ``"profile": true`` it runs under cProfile (every Python
thread) and returns the top entries. Prints one JSON line (``_proc.report``).
"""

from __future__ import annotations

import os
import time
import warnings
from typing import Any

import _targets
import dask
import dask.array as da
import floor
import numpy as np
import xarray as xr
import zarr
import zarr.storage
from _proc import job, profiled, ready, report, rss_mib

import objstore

warnings.filterwarnings("ignore")


def lazy_cube(n: int, ny: int, nx: int) -> tuple[xr.Dataset, np.ndarray]:
    """``n`` chunks of ``ny x nx`` float32, every chunk the same random block (not compressible;
    the cube is written without a compressor, so stored bytes = array bytes = the floor's)."""
    block = np.random.default_rng(0).standard_normal((1, ny, nx), dtype="float32")
    one = da.from_array(block, chunks=block.shape)
    data = da.concatenate([one] * n, axis=0)
    ds = xr.Dataset({"tas": (("time", "y", "x"), data)}, coords={"time": np.arange(n)})
    return ds, block


#: objstore as users get it, and with a profile's ``checksums = false``
OBJSTORE = {"objstore": True, "unchecked": False}


def in_flight(client: str, op: str, n: int, chunk: int) -> int:
    """Requests this client keeps in flight at most (for the memory bound)."""
    if client == "floor":
        return min(64, n)
    if client in OBJSTORE:  # what it really keeps in flight, by its own rules
        from objstore import perf
        from objstore.cubestore import READ_BYTES_IN_FLIGHT

        most = min(perf.DEFAULT_MAX_CONCURRENCY, n)
        if op == "write":
            # each writing thread holds one encoded chunk while it waits for a free send
            return min(n, perf.write_in_flight(chunk, most) + dask.system.CPU_COUNT)
        return max(2, min(most, READ_BYTES_IN_FLIGHT // chunk))
    return min(dask.system.CPU_COUNT, n)  # dask's threads, one stored chunk per task


def warm_up(spec: dict[str, Any], client: str, key: str) -> None:
    """A 1-chunk cube written and read by the same client, so that the measured part pays no
    imports, client construction or session set-up (those are ``bench_coldopen.py``'s)."""
    small = xr.Dataset({"tas": (("time", "y", "x"), np.zeros((1, 16, 16), "float32"))},
                       coords={"time": np.arange(1)})
    warm = f"warm-{key}"
    if client in OBJSTORE:
        prof = _targets.profile(spec, OBJSTORE[client])
        objstore.write_cube(small, _targets.url(spec, warm), profile=prof, mode="w")
        objstore.open_cube(_targets.url(spec, warm), profile=prof).load()
    elif client == "stack":
        mem = zarr.storage.MemoryStore()
        small.to_zarr(mem, mode="w", zarr_format=2, consolidated=True)
        xr.open_zarr(mem).load()
    elif client == "plain":
        opts = _targets.plain_options(spec)
        small.to_zarr(_targets.url(spec, warm), storage_options=opts, mode="w", zarr_format=2)
        xr.open_zarr(_targets.url(spec, warm), storage_options=opts).load()
    else:
        small.to_zarr(_targets.peer_store(spec, warm), mode="w", zarr_format=2)
        xr.open_zarr(_targets.peer_store(spec, warm)).load()


def main() -> None:
    j = job()
    spec, client, op, key, n = j["spec"], j["client"], j["op"], j["key"], j["n"]
    ds, block = lazy_cube(n, j["ny"], j["nx"])
    enc = {"tas": {"chunks": (1, j["ny"], j["nx"]), "compressors": None}}
    url = _targets.url(spec, key)
    nbytes = n * block.nbytes
    fn: Any
    if client == "floor":
        keys = [f"{key}/tas/{i}.0.0" for i in range(n)]
        up, down, up_kw, down_kw = _targets.floor_requests(spec, keys)
        body = block.tobytes()  # one object sent n times: the floor holds one chunk
        if op == "write":
            def fn() -> None:
                floor.run_put_all([(u, body) for u in up], **up_kw)
        else:
            def fn() -> None:
                got = floor.run_get_all(down, **down_kw)
                assert got["bytes"] == nbytes, got
    elif client == "stack":  # no I/O: zarr's in-memory store, the same calls as plain
        mem = zarr.storage.MemoryStore()
        if op == "write":
            def fn() -> None:
                ds.to_zarr(mem, encoding=enc, consolidated=True, zarr_format=2, mode="w")
        else:
            ds.to_zarr(mem, encoding=enc, consolidated=True, zarr_format=2, mode="w")

            def fn() -> Any:
                return xr.open_zarr(mem).load()
    elif client in OBJSTORE:
        prof = _targets.profile(spec, OBJSTORE[client])
        if op == "write":
            def fn() -> None:
                objstore.write_cube(ds, url, profile=prof, encoding=enc, mode="w")
        else:
            def fn() -> Any:
                return objstore.open_cube(url, profile=prof).load()
    else:
        opts = _targets.plain_options(spec) if client == "plain" else None
        where = (lambda: url) if client == "plain" else (
            lambda: _targets.peer_store(spec, key))
        kw = {"storage_options": opts} if client == "plain" else {}
        if op == "write":
            def fn() -> None:
                ds.to_zarr(where(), encoding=enc, consolidated=True, zarr_format=2, mode="w",
                           **kw)
        else:
            def fn() -> Any:
                return xr.open_zarr(where(), **kw).load()
    if client != "floor" and not j.get("profile"):  # threads started earlier go unprofiled
        warm_up(spec, client, key)
    ready()
    before = rss_mib()
    t0 = time.perf_counter()
    top: dict[str, Any] = {}
    if j.get("profile"):
        out, top = profiled(fn)
        top.pop("all")
    else:
        out = fn()
    seconds = time.perf_counter() - t0
    if out is not None:  # a read: the cube came back whole and right
        got = out["tas"]
        assert got.shape == (n, j["ny"], j["nx"]), got.shape
        assert np.array_equal(got[-1].values, block[0]), "last chunk differs"
    report({"seconds": seconds, "bytes": nbytes, "rss_before_mib": before,
            # what the measured part returns (a .load()) or keeps (the stack's store)
            "result_mib": nbytes / 2**20 if client == "stack" or (
                op == "read" and client != "floor") else 0.0,
            "in_flight": in_flight(client, op, n, block.nbytes), "top": top})
    os._exit(0)  # skip exit-time finalizers (adlfs/gcsfs sessions need a stopped loop)


if __name__ == "__main__":
    main()
