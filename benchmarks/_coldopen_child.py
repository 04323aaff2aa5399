"""Child of ``bench_coldopen.py``: one cold open of a cube, in this fresh process.

    python [-X importtime] benchmarks/_coldopen_child.py '{"spec": {...}, "client": "objstore",
                                                          "key": "cube.zarr", "profile": false}'

xarray (and its backend plugins), zarr, dask.array, numpy, pandas and the client's own top-level
imports (``from objstore import open_cube``, timed apart as ``import_seconds``; obstore and
zarr.storage for the peer; aiohttp and botocore's signer for the floor) are imported before the
clock, as a user's script does at its top; whatever the open itself imports, builds or connects
is inside. Clients: ``floor`` (the raw client's open: GET the consolidated metadata, then the
three coordinate chunks at once, 4 GETs in 2 round trips), ``plain`` (``xr.open_zarr`` with the
fsspec storage options), ``peer`` (``xr.open_zarr`` on zarr's ObjectStore over obstore),
``objstore`` (``open_cube``), ``objstore-auto`` (``open_cube`` with ``engine = "auto"``).
With ``"profile": true`` the open runs under cProfile (one profiler per thread, fsspec's I/O
thread included; obstore's Rust threads are invisible) and the profile's entries come back too.
Prints one JSON line (``_proc.report``).
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import time
import warnings
from typing import Any

import _targets
import aiohttp
import botocore.auth  # noqa: F401  (the floor's signer: its import is not the floor's cost)
import dask  # noqa: F401
import numpy as np  # noqa: F401
import pandas  # noqa: F401
import xarray as xr
import zarr
import zarr.storage  # noqa: F401
from _proc import job, profiled, ready, report

import objstore

warnings.filterwarnings("ignore")
COORDS = ("time", "lat", "lon")
CLOCK = "--clock--"  # written to stderr when the clock starts and stops (-X importtime)


async def _floor_open(spec: dict[str, Any], key: str, sign: Any) -> int:
    """The consolidated metadata, then every coordinate's chunk concurrently: bytes read."""
    import yarl

    meta_url, *coord_urls = _targets.floor_requests(
        spec, [f"{key}/.zmetadata", *(f"{key}/{c}/0" for c in COORDS)])[1]
    kw = _targets.floor_requests(spec, [f"{key}/.zmetadata"])[3]
    hdr = kw.get("headers") or {}

    async with aiohttp.ClientSession(auto_decompress=False) as session:
        async def get(url: str) -> bytes:
            h = dict(sign("GET", url, dict(hdr), None)) if sign else dict(hdr)
            async with session.get(yarl.URL(url, encoded=True), headers=h) as resp:
                resp.raise_for_status()
                return await resp.read()

        meta = await get(meta_url)
        rest = await asyncio.gather(*(get(u) for u in coord_urls))
    return len(meta) + sum(map(len, rest))


def opener(spec: dict[str, Any], client: str, key: str) -> Any:
    url = _targets.url(spec, key)
    if client == "floor":
        sign = _targets.floor_requests(spec, [key])[3].get("sign")
        return lambda: asyncio.run(_floor_open(spec, key, sign))
    if client == "plain":
        opts = _targets.plain_options(spec)
        return lambda: xr.open_zarr(url, storage_options=opts)
    if client == "peer":
        import obstore.store  # noqa: F401  (a user's top-level import)

        return lambda: xr.open_zarr(_targets.peer_store(spec, key))
    open_cube = objstore.open_cube  # ``from objstore import open_cube``: timed by main()
    profile = _targets.profile(spec)
    if client == "objstore-auto":  # engine = "auto": obstore where the profile translates
        profile = profile.model_copy(update={"engine": "auto"})
    return lambda: open_cube(url, profile=profile)


def main() -> None:
    xr.backends.list_engines()  # xarray's backend plugins: imported on first open otherwise
    # and its chunk managers: an entry-point scan of every installed distribution on the first
    # chunked open, whoever opens (about 0.08 s here)
    from xarray.namedarray.parallelcompat import list_chunkmanagers

    list_chunkmanagers()
    import dask.array  # noqa: F401  (xarray's open imports it for chunked variables)

    j = job()
    t0 = time.perf_counter()
    fn = opener(j["spec"], j["client"], j["key"])
    import_seconds = time.perf_counter() - t0  # the client's own imports (objstore's are lazy)
    modules = set(sys.modules)
    # every client starts from an empty collector (as timeit does): a full collection of this
    # heap costs 0.1-0.3 s and otherwise lands on whichever open crosses the threshold
    gc.collect()
    ready()
    print(CLOCK, file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    if j.get("profile"):
        out, top = profiled(fn)
    else:
        out, top = fn(), {}
    seconds = time.perf_counter() - t0
    print(CLOCK, file=sys.stderr, flush=True)
    if isinstance(out, xr.Dataset):
        assert "tas" in out.data_vars, out
    imported = sorted({m.split(".")[0] for m in set(sys.modules) - modules})
    report({"seconds": seconds, "import_seconds": import_seconds, "imported": imported,
            "new_modules": len(set(sys.modules) - modules), "top": top,
            "zarr": zarr.__version__})
    os._exit(0)  # skip exit-time finalizers (adlfs/gcsfs sessions need a stopped loop)


if __name__ == "__main__":
    main()
