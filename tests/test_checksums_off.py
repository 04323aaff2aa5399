"""A profile's ``checksums = false`` on every backend: writes and reads complete through a
flipped bit, no checksum travels with an upload, and nothing is read twice (the checks that
catch the flip when they are on are tested in tests/test_faults.py)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import xarray as xr
from rigs import profile_via, server_port
from servers.faults import FaultProxy

import objstore

SEED = 13
#: request headers that carry a body's checksum (S3 CRC32/MD5, Swift ETag, Azure Content-MD5,
#: the obstore engine's MD5 metadata)
_CHECKSUM_WORDS = ("checksum", "md5", "etag", "x-amz-trailer")


def _checksum_headers(proxy: FaultProxy) -> list[str]:
    """Checksum headers sent with uploads (S3's DeleteObjects requires one: not an upload)."""
    return sorted({name for method, target, names in proxy.headers_seen
                   if method in ("PUT", "POST") and not target.endswith("?delete")
                   for name in names if any(w in name.lower() for w in _CHECKSUM_WORDS)})


def _cube() -> xr.Dataset:
    rng = np.random.default_rng(3)
    return xr.Dataset({"tas": (("y", "x"), rng.standard_normal((16, 16)).astype("float32"))}
                      ).chunk({"y": 8})


@pytest.fixture
def proxied(rig):  # type: ignore[no-untyped-def]
    with FaultProxy("127.0.0.1", server_port(rig), rate=0.0, seed=SEED) as proxy:
        yield rig, proxy, profile_via(rig, proxy.url).model_copy(update={"checksums": False})


def test_a_cube_written_with_checksums_off_carries_no_checksum(proxied):
    rig, proxy, off = proxied
    ds = _cube()
    objstore.write_cube(ds, rig.url("off.zarr"), profile=off)
    assert proxy.headers_seen and _checksum_headers(proxy) == []
    xr.testing.assert_identical(objstore.open_cube(rig.url("off.zarr"), profile=off).load(), ds)

    if rig.backend != "gcs":  # gcsfs compares the MD5 the server answers; it sends none
        proxy.headers_seen.clear()
        on = off.model_copy(update={"checksums": True})
        objstore.write_cube(ds, rig.url("on.zarr"), profile=on)
        assert _checksum_headers(proxy), "the default sends a checksum with each upload"


def test_a_flipped_upload_is_stored_as_it_arrived_with_checksums_off(proxied):
    rig, proxy, off = proxied
    data = np.random.default_rng(5).bytes(64 * 1024)
    path = f"{rig.bucket}/flipped-up.bin"
    proxy.configure(faults=["bitflip"], rate=1.0,
                    only=lambda method, target: method in ("PUT", "POST"))
    objstore.resolve(rig.url(""), off).fs.pipe(path, data)  # completes: nothing compared
    assert proxy.injected == {"bitflip": 1}
    stored = objstore.resolve(rig.url(""), rig.profile).fs.cat(path)
    assert len(stored) == len(data) and stored != data


def test_a_flipped_download_is_returned_once_with_checksums_off(proxied):
    rig, proxy, off = proxied
    data = np.random.default_rng(6).bytes(64 * 1024)
    path = f"{rig.bucket}/flipped-down.bin"
    objstore.resolve(rig.url(""), rig.profile).fs.pipe(path, data)
    proxy.configure(faults=["bitflip"], rate=1.0, only=lambda method, target: method == "GET")
    got = objstore.resolve(rig.url(""), off).fs.cat(path)
    assert len(got) == len(data) and got != data
    assert proxy.injected == {"bitflip": 1}  # not read again


@pytest.mark.parametrize("backend", ["s3", "azure"])
def test_the_obstore_engine_writes_no_md5_with_checksums_off(request, monkeypatch, backend):
    from conftest import _fresh_rig

    monkeypatch.setenv("OBJSTORE_ENGINE", "obstore")
    rig = _fresh_rig(request, backend)
    ds = _cube()
    with FaultProxy("127.0.0.1", server_port(rig), rate=0.0, seed=SEED) as proxy:
        off = profile_via(rig, proxy.url).model_copy(update={"checksums": False})
        objstore.write_cube(ds, rig.url("obstore-off.zarr"), profile=off)
        assert proxy.headers_seen and _checksum_headers(proxy) == []
        xr.testing.assert_identical(
            objstore.open_cube(rig.url("obstore-off.zarr"), profile=off).load(), ds)


@pytest.mark.parametrize("checksums", [True, False], ids=["checked", "unchecked"])
@pytest.mark.parametrize("backend", ["s3", "azure"])
def test_the_obstore_engine_sends_a_big_chunk_in_one_put(request, monkeypatch, backend,
                                                         checksums):
    """Above obstore's own 5 MiB threshold a chunk still goes in one PUT (not a multipart upload's
    three requests at least), checks on or off: on S3 its ETag stays its MD5."""
    from conftest import _fresh_rig

    monkeypatch.setenv("OBJSTORE_ENGINE", "obstore")
    rig = _fresh_rig(request, backend)
    rng = np.random.default_rng(5)
    ds = xr.Dataset({"tas": (("t", "y", "x"),
                             rng.standard_normal((2, 1536, 1024)).astype("float32"))})
    enc = {"tas": {"chunks": (1, 1536, 1024), "compressors": None}}  # 6 MiB a chunk
    with FaultProxy("127.0.0.1", server_port(rig), rate=0.0, seed=SEED) as proxy:
        prof = profile_via(rig, proxy.url).model_copy(update={"checksums": checksums})
        objstore.write_cube(ds, rig.url("big.zarr"), profile=prof, encoding=enc)
        sent = [t for m, t, _ in proxy.headers_seen if m in ("PUT", "POST")]
        assert not [t for t in sent if "upload" in t.lower() or "comp=block" in t], sent
        chunks = [t for t in sent if re.search(r"/tas/(c/)?\d+[./]\d+[./]\d+$", t)]
        assert len(chunks) == 2, sent
        xr.testing.assert_identical(
            objstore.open_cube(rig.url("big.zarr"), profile=prof).load(), ds)


def test_dask_workers_keep_checksums_off():
    """What a worker unpickles checks no more than what the profile said."""
    import pickle

    from objstore.obstore_engine import obstore_store
    from objstore.profiles import SwiftProfile

    swift = SwiftProfile(name="x", storage_url="http://127.0.0.1:9/v1/AUTH_t", token="t",
                         checksums=False)
    fs = objstore.resolve("swift://c/k.zarr", swift).fs
    assert pickle.loads(pickle.dumps(fs)).checksums is False
    store = obstore_store("s3", "b/k.zarr", {"anon": True, "endpoint_url": "http://127.0.0.1:9"},
                          4, checksums=False)
    assert type(pickle.loads(pickle.dumps(store))).__name__ == "UncheckedObstoreStore"
