"""Child of ``bench_cache.py``: one full read of a cube in this fresh process, with the local
chunk cache in ``folder`` (or none), after imports and a warm-up of xarray's plugins.

    python benchmarks/_cache_child.py '{"spec": {...}, "key": "cube.zarr", "folder": null}'

Prints one JSON line (``_proc.report``): the seconds of ``open_cube(...).load()``.
"""

from __future__ import annotations

import gc
import os
import time
import warnings

import _targets
import dask.array  # noqa: F401
import xarray as xr
from _proc import job, ready, report

from objstore import open_cube

warnings.filterwarnings("ignore")


def main() -> None:
    xr.backends.list_engines()
    j = job()
    spec, folder = j["spec"], j.get("folder")
    url, profile = _targets.url(spec, j["key"]), _targets.profile(spec)
    gc.collect()  # start from an empty collector, as bench_coldopen does
    ready()
    t0 = time.perf_counter()
    ds = open_cube(url, profile=profile, cache=folder if folder else False).load()
    seconds = time.perf_counter() - t0
    assert "tas" in ds.data_vars
    report({"seconds": seconds})
    os._exit(0)  # skip exit-time finalizers (adlfs/gcsfs sessions need a stopped loop)


if __name__ == "__main__":
    main()
