"""What a cold ``open_cube`` guarantees: with the obstore engine (``engine = "auto"`` or
``"obstore"`` in an S3 profile; Azure's default) a fresh process that opens a cube and reads a
chunk never imports s3fs, aiobotocore or botocore (their imports and client set-up were most of a
cold open on S3; docs/performance.md); opens in one process share one client and never pickle
the store. No timings here: ``benchmarks/bench_coldopen.py`` prints them."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

import objstore
from objstore import perf
from objstore.profiles import S3Profile

pytest.importorskip("obstore")

CHILD = """
import json, sys
import numpy, xarray, zarr, dask.array
import objstore
from objstore.profiles import S3Profile
url, endpoint = sys.argv[1], sys.argv[2]
profile = S3Profile(name="cold", key="testing", secret="testing", endpoint_url=endpoint,
                    engine="auto")
ds = objstore.open_cube(url, profile=profile)
first = float(ds["tas"][0, 0, 0].values)
heavy = sorted(m for m in ("s3fs", "aiobotocore", "botocore", "boto3") if m in sys.modules)
print(json.dumps({"first": first, "heavy": heavy}))
"""


def _cube() -> xr.Dataset:
    data = np.arange(4 * 8 * 8, dtype="f4").reshape(4, 8, 8)
    return xr.Dataset({"tas": (("time", "lat", "lon"), data)},
                      coords={"time": np.arange(4), "lat": np.arange(8.0), "lon": np.arange(8.0)})


def test_a_cold_open_and_read_on_s3_imports_no_botocore(s3_rig, monkeypatch):
    monkeypatch.delenv("OBJSTORE_ENGINE", raising=False)
    url = s3_rig.url("cold.zarr")
    objstore.write_cube(_cube(), url, profile=s3_rig.profile,
                        encoding={"tas": {"chunks": (1, 8, 8)}})
    out = subprocess.run([sys.executable, "-c", CHILD, url, s3_rig.server.endpoint_url],
                         capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"first": 0.0, "heavy": []}


def test_which_engine_reads_and_why(monkeypatch):
    monkeypatch.delenv("OBJSTORE_ENGINE", raising=False)
    keys = S3Profile(name="k", key="k", secret="s", endpoint_url="http://127.0.0.1:1")
    r = objstore.resolve("s3://b/c.zarr", keys)
    # S3 cubes go through obstore where the profile's options translate (explicit keys here)
    assert perf.engine_choice(keys, r.protocol, r.storage_options, reading=True) == (
        "obstore", "the default for s3:// reads is 'auto', and obstore can do exactly what the "
                   "profile says")
    assert perf.engine(keys, r.protocol, r.storage_options) == "obstore"  # writes too
    auto = keys.model_copy(update={"engine": "auto"})
    assert perf.engine(auto, r.protocol, r.storage_options, reading=True) == "obstore"
    # credentials only botocore can find (an AWS profile, the ambient chain): s3fs, and why
    chain = S3Profile(name="c", aws_profile="someone", engine="auto")
    r = objstore.resolve("s3://b/c.zarr", chain)
    engine, why = perf.engine_choice(chain, r.protocol, r.storage_options, reading=True)
    assert engine == "fsspec" and "obstore cannot translate" in why
    pinned = keys.model_copy(update={"engine": "fsspec"})
    assert perf.engine_choice(pinned, "s3", {"key": "k"}, reading=True) == (
        "fsspec", "the profile sets engine = 'fsspec'")


def test_opens_in_one_process_share_one_obstore_client_and_never_pickle_the_store(
        s3_rig, monkeypatch):
    from objstore.cubestore import CubeStore

    monkeypatch.setenv("OBJSTORE_ENGINE", "auto")
    url = s3_rig.url("twice.zarr")
    objstore.write_cube(_cube(), url, profile=s3_rig.profile)

    def no_pickling(self):
        raise AssertionError("the store was pickled")

    monkeypatch.setattr(CubeStore, "__getstate__", no_pickling)  # dask names arrays without it
    a = objstore.open_cube(url, profile=s3_rig.profile)
    b = objstore.open_cube(url, profile=s3_rig.profile)
    assert a["tas"].data.name != b["tas"].data.name  # each open names its own dask arrays
    xr.testing.assert_identical(a.load(), b.load())
    r = objstore.resolve(url, s3_rig.profile)
    assert r.zarr_store(read_only=True)._store is r.zarr_store(read_only=True)._store
