"""Faults in front of every backend (tests/servers/faults.py): operations complete through
transient faults with equal data, stalls are abandoned and retried, outages fail clearly, and
damaged bodies are never taken for data."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from rigs import profile_via, server_port
from servers.faults import FaultProxy

import objstore
from objstore.transfer import copy

SEED = 13


def _cube() -> xr.Dataset:
    rng = np.random.default_rng(7)
    return xr.Dataset(
        {"tas": (("time", "lat", "lon"), rng.standard_normal((24, 6, 8)).astype("float32")),
         "pr": (("time", "lat", "lon"), rng.gamma(1.0, 1.0, (24, 6, 8)))},
        coords={"time": pd.date_range("2026-01-01", periods=24, freq="D"),
                "lat": np.linspace(-50, 50, 6), "lon": np.linspace(0, 350, 8)},
    ).chunk({"time": 2, "lat": 3})


def _same(a: xr.Dataset, b: xr.Dataset) -> None:
    xr.testing.assert_identical(a.load(), b.load())


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


@pytest.fixture
def faulty(rig):  # type: ignore[no-untyped-def]
    with FaultProxy("127.0.0.1", server_port(rig), rate=0.0, seed=SEED) as proxy:
        yield rig, proxy, profile_via(rig, proxy.url)


def test_every_operation_completes_through_transient_faults(faulty, tmp_path):
    rig, proxy, prof = faulty
    ds = _cube()
    proxy.configure(rate=0.1)  # 503, 500, resets before the response and mid-body

    objstore.write_cube(ds, rig.url("written.zarr"), profile=prof)
    _same(objstore.open_cube(rig.url("written.zarr"), profile=prof), ds)

    objstore.publish(ds, rig.url("published.zarr"), profile=prof)
    _same(objstore.open_cube(rig.url("published.zarr"), profile=prof), ds)

    local = tmp_path / "local.zarr"
    ds.to_zarr(local, zarr_format=2, consolidated=True)
    copy(local, rig.url("copied.zarr"), profile=prof)
    copy(rig.url("copied.zarr"), tmp_path / "back", profile=prof)
    assert _files(tmp_path / "back") == _files(local)

    fs = objstore.resolve(rig.url(""), prof).fs
    assert sorted(p.rsplit("/", 1)[-1] for p in fs.ls(rig.bucket, detail=False)) == [
        "copied.zarr", "published.zarr", "written.zarr"]
    assert sum(proxy.injected.values()) >= 20, proxy.injected


def test_a_stalled_request_is_abandoned_and_retried(faulty, request):
    rig, proxy, prof = faulty
    if rig.backend == "azure":  # seen failing about one run in three: every retry after the stall
        # ends at once in obstore's "error sending request"; not yet understood
        request.applymarker(pytest.mark.xfail(reason="obstore's retries after a stall on Azurite "
                                              "sometimes all fail at once", strict=False))
    ds = _cube()
    url = rig.url("stall.zarr")
    objstore.write_cube(ds, url, profile=rig.profile)
    stalled: list[str] = []

    def first_chunk(method: str, target: str) -> bool:
        if method == "GET" and "/tas/" in target.replace("%2F", "/") and not stalled:
            stalled.append(target)
            return True
        return False

    proxy.stall_s = 120
    proxy.configure(faults=["stall"], rate=1.0, only=first_chunk)
    t0 = time.monotonic()
    _same(objstore.open_cube(url, profile=prof.model_copy(update={"timeout": 2})), ds)
    assert proxy.injected == {"stall": 1}
    assert time.monotonic() - t0 < 30


def test_an_outage_longer_than_the_retries_fails_with_a_clear_error(faulty):
    rig, proxy, prof = faulty
    proxy.outage(300)
    t0 = time.monotonic()
    with pytest.raises(objstore.ObjstoreError) as err:
        objstore.write_cube(_cube(), rig.url("outage.zarr"),
                            profile=prof.model_copy(update={"retries": 2, "timeout": 2}))
    assert time.monotonic() - t0 < 60
    message = str(err.value)
    assert "\n" not in message, message
    assert "outage.zarr" in message or "127.0.0.1" in message, message  # where it failed


@pytest.mark.parametrize("fault", ["truncate", "bitflip"])
def test_a_damaged_body_is_never_taken_for_data(faulty, fault):
    rig, proxy, prof = faulty
    ds = _cube()
    url = rig.url("damaged.zarr")
    proxy.configure(faults=[fault], rate=0.2)
    try:
        objstore.write_cube(ds, url, profile=prof)
        got = objstore.open_cube(url, profile=prof).load()
    except (objstore.ObjstoreError, OSError, ValueError) as exc:
        assert proxy.injected[fault], exc  # detected, and said so
        return
    proxy.configure(rate=0.0)
    _same(got, ds)
    _same(objstore.open_cube(url, profile=rig.profile), ds)  # what the server holds


def test_an_error_while_loading_names_the_url_and_the_profile(faulty):
    rig, proxy, prof = faulty
    url = rig.url("forbidden.zarr")
    objstore.write_cube(_cube(), url, profile=rig.profile)
    ds = objstore.open_cube(url, profile=prof)
    proxy.configure(faults=["403"], rate=1.0,
                    only=lambda method, target: "/tas/" in target.replace("%2F", "/"))
    with pytest.raises(objstore.ObjstoreError) as err:
        ds.tas.load()
    message = str(err.value)
    assert "forbidden.zarr" in message and "\n" not in message, message
    assert "403" in message or repr(prof.name) in message, message  # the status or the profile
    assert (err.value.url, err.value.profile) == (url, prof.name) or rig.backend == "swift"


@pytest.mark.parametrize("backend,engine", [("s3", "obstore"), ("azure", "fsspec")])
def test_the_other_engine_reads_and_writes_through_transient_faults(request, monkeypatch,
                                                                     backend, engine):
    from conftest import _fresh_rig

    monkeypatch.setenv("OBJSTORE_ENGINE", engine)
    rig = _fresh_rig(request, backend)
    with FaultProxy("127.0.0.1", server_port(rig), rate=0.1, seed=SEED) as proxy:
        prof = profile_via(rig, proxy.url)
        ds = _cube()
        objstore.write_cube(ds, rig.url("engine.zarr"), profile=prof)
        _same(objstore.open_cube(rig.url("engine.zarr"), profile=prof), ds)
        assert sum(proxy.injected.values()) >= 5, proxy.injected


def test_azure_uploads_through_adlfs_refuse_damaged_bodies(request, monkeypatch):
    from conftest import _fresh_rig

    monkeypatch.setenv("OBJSTORE_ENGINE", "fsspec")
    rig = _fresh_rig(request, "azure")
    with FaultProxy("127.0.0.1", server_port(rig), faults=["bitflip"], rate=0.2,
                    seed=SEED, only=lambda method, target: method == "PUT") as proxy:
        ds = _cube()
        objstore.write_cube(ds, rig.url("md5.zarr"), profile=profile_via(rig, proxy.url))
        assert proxy.injected["bitflip"] >= 1
    _same(objstore.open_cube(rig.url("md5.zarr"), profile=rig.profile), ds)  # what Azure holds


@pytest.mark.parametrize("backend", ["azure"])
def test_the_obstore_engine_checks_each_object_against_its_md5(request, monkeypatch, backend):
    """obstore itself checks no body on Azure: objstore writes each object's MD5 as metadata and
    compares it on every whole-object read (objstore/obstore_checksums.py). (On S3, obstore's
    GET returns no user metadata, and moto does not check a signed payload's hash.)"""
    from conftest import _fresh_rig

    monkeypatch.setenv("OBJSTORE_ENGINE", "obstore")
    rig = _fresh_rig(request, backend)
    ds = _cube()
    chunk = lambda method, target: "/tas/" in target.replace("%2F", "/")  # noqa: E731
    with FaultProxy("127.0.0.1", server_port(rig), rate=0.0, seed=SEED) as proxy:
        prof = profile_via(rig, proxy.url)
        objstore.write_cube(ds, rig.url("md5.zarr"), profile=prof)
        proxy.configure(faults=["bitflip"], rate=0.3,
                        only=lambda method, target: method == "GET" and chunk(method, target))
        _same(objstore.open_cube(rig.url("md5.zarr"), profile=prof), ds)  # flips read again
        assert proxy.injected["bitflip"] >= 3, proxy.injected

        flipped: list[str] = []

        def one_chunk_put(method: str, target: str) -> bool:
            if method == "PUT" and chunk(method, target) and not flipped:
                flipped.append(target)
                return True
            return False

        proxy.configure(rate=1.0, only=one_chunk_put)
        try:
            objstore.write_cube(ds, rig.url("flipped.zarr"), profile=prof)
        except objstore.ObjstoreError:
            return  # the server refused the damaged body (a signed payload)
    with pytest.raises(objstore.ObjstoreError, match="MD5") as err:
        objstore.open_cube(rig.url("flipped.zarr"), profile=rig.profile).load()
    assert "\n" not in str(err.value) and "flipped.zarr" in str(err.value)


_LOAD_AND_EXIT = """
import pickle, sys, objstore
with open(sys.argv[2], "rb") as f:
    prof = pickle.load(f)
ds = objstore.open_cube(sys.argv[1], profile=prof)
try:
    ds.tas.load()
except objstore.ObjstoreError as exc:
    print("error:", exc)
"""


def test_no_noise_at_exit_after_an_error_while_loading(faulty, tmp_path):
    """One chunk refused while the others are still in flight: the script prints its one-line
    error and exits; the requests left running are cancelled, not destroyed (objstore/closing.py)."""
    import pickle
    import subprocess
    import sys

    rig, proxy, prof = faulty
    url = rig.url("noise.zarr")
    objstore.write_cube(_cube(), url, profile=rig.profile)
    (tmp_path / "profile.pickle").write_bytes(pickle.dumps(prof))
    proxy.stall_s = 20
    proxy.configure(faults=["403", "stall"], rate=1.0,
                    only=lambda method, target: "/tas/" in target.replace("%2F", "/"))
    done = subprocess.run([sys.executable, "-c", _LOAD_AND_EXIT, url,
                           str(tmp_path / "profile.pickle")],
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.startswith("error:") and "noise.zarr" in done.stdout, done
    assert "Task was destroyed" not in done.stderr and "Traceback" not in done.stderr, \
        done.stderr[:2000]


@pytest.mark.parametrize("fault", ["503", "429"])
def test_a_service_that_keeps_throttling_is_named_once(faulty, fault, caplog, monkeypatch):
    """Every backend's library tells objstore of its throttled answers (botocore's needs-retry
    event, azure-core's retry policy, objstore's gcsfs class and Swift filesystem): one warning,
    shown without -v, and the reads still complete."""
    from objstore import retry

    rig, proxy, prof = faulty
    if (rig.backend, fault) == ("azure", "429"):
        pytest.skip("Azure Blob throttles with 503 ServerBusy; azure-storage's retry policy "
                    "does not retry a 429 (docs/reliability.md)")
    paths = [f"{rig.bucket}/throttled/{i}" for i in range(12)]
    objstore.resolve(rig.url(""), rig.profile).fs.pipe({p: p.encode() for p in paths})
    monkeypatch.setattr(retry.THROTTLE, "limit", 6)
    monkeypatch.setattr(retry.THROTTLE, "_times", {})
    monkeypatch.setattr(retry.THROTTLE, "_warned", set())
    proxy.configure(faults=[fault], rate=0.5)
    fs = objstore.resolve(rig.url(""), prof).fs
    with caplog.at_level(logging.WARNING, logger="objstore.retry"):
        got = fs.cat(paths)
    assert got == {p: p.encode() for p in paths}
    assert proxy.injected[fault] >= 6, proxy.injected
    warned = [r.getMessage() for r in caplog.records if "keeps throttling" in r.getMessage()]
    assert len(warned) == 1, warned
    assert "127.0.0.1" in warned[0] and "max_concurrency" in warned[0]


@pytest.mark.parametrize("backend", ["gcs", "azure", "swift", "s3"])
def test_the_profile_retries_bound_the_attempts(request, backend):
    """``retries = 2``: one request is sent three times, then fails (gcsfs's own count is 6)."""
    from conftest import _fresh_rig

    rig = _fresh_rig(request, backend)
    objstore.resolve(rig.url(""), rig.profile).fs.pipe_file(f"{rig.bucket}/one", b"1")
    with FaultProxy("127.0.0.1", server_port(rig), faults=["503"], rate=0.0, seed=SEED) as proxy:
        prof = profile_via(rig, proxy.url).model_copy(update={"retries": 2})
        fs = objstore.resolve(rig.url(""), prof).fs
        proxy.configure(rate=1.0, only=lambda method, target: method == "GET" and "one" in target)
        with pytest.raises(Exception):  # noqa: B017 - what each library raises; the count matters
            fs.cat_file(f"{rig.bucket}/one")
        assert proxy.injected == {"503": 3}, proxy.injected


def test_azure_reads_through_adlfs_are_checked_against_the_stored_md5(request, monkeypatch):
    """adlfs reads whole blobs unchecked; objstore's class compares them with the Content-MD5
    the service stored (its uploads send one), and reads a damaged body again."""
    from conftest import _fresh_rig

    monkeypatch.setenv("OBJSTORE_ENGINE", "fsspec")
    rig = _fresh_rig(request, "azure")
    ds = _cube()
    objstore.write_cube(ds, rig.url("read-md5.zarr"), profile=rig.profile)
    flipped: set[str] = set()

    def first_read_of_each_chunk(method: str, target: str) -> bool:
        # every chunk's first read damaged, its next one clean (a random rate could damage all
        # four reads of one chunk now and then: a failure by design, not a bug)
        if method == "GET" and "/tas/" in target.replace("%2F", "/") and target not in flipped:
            flipped.add(target)
            return True
        return False

    with FaultProxy("127.0.0.1", server_port(rig), faults=["bitflip"], rate=1.0, seed=SEED,
                    only=first_read_of_each_chunk) as proxy:
        _same(objstore.open_cube(rig.url("read-md5.zarr"), profile=profile_via(rig, proxy.url)),
              ds)
        assert proxy.injected["bitflip"] == len(flipped) >= 3, proxy.injected


def test_an_s3_object_stored_without_a_checksum_is_checked_against_its_etag(s3_rig):
    """A cube written by a tool that sends no checksum (plain s3fs told to add none): its objects
    carry only their ETag, their MD5. A GET flipped on the way is caught, not taken for data."""
    import fsspec

    rig = s3_rig
    options = {**rig.plain_options,
               "config_kwargs": {"request_checksum_calculation": "when_required"}}
    ds = _cube()
    ds.to_zarr(fsspec.get_mapper(rig.plain_url("foreign.zarr"), **options), mode="w",
               consolidated=True, zarr_format=2)
    with FaultProxy("127.0.0.1", server_port(rig), faults=["bitflip"], rate=1.0, seed=SEED,
                    only=lambda method, target: method == "GET" and "/tas/" in
                    target.replace("%2F", "/")) as proxy:
        with pytest.raises(objstore.ObjstoreError) as err:
            objstore.open_cube(rig.url("foreign.zarr"), profile=profile_via(rig, proxy.url)).load()
        assert proxy.injected["bitflip"] >= 1
    assert "\n" not in str(err.value) and "foreign.zarr" in str(err.value)
    _same(objstore.open_cube(rig.url("foreign.zarr"), profile=rig.profile), ds)  # unharmed


def _only_chunk_gets(method: str, target: str) -> bool:
    return method == "GET" and "/tas/" in target.replace("%2F", "/")


def test_s3_reads_through_obstore_are_checked_against_the_etag(s3_rig):
    """S3 reads go through obstore by default, which checks no body: objstore compares each whole
    object with its ETag (its MD5): a flip on the way is read again."""
    rig = s3_rig
    ds = _cube()
    objstore.write_cube(ds, rig.url("etag.zarr"), profile=rig.profile)
    # each chunk is read up to 4 times: at 15%, one read in 2000 stays flipped 4 times
    with FaultProxy("127.0.0.1", server_port(rig), faults=["bitflip"], rate=0.15, seed=SEED,
                    only=_only_chunk_gets) as proxy:
        prof = profile_via(rig, proxy.url)
        from objstore.perf import profile_engines

        assert profile_engines(prof)["read"]["engine"] == "obstore"
        _same(objstore.open_cube(rig.url("etag.zarr"), profile=prof), ds)
        assert proxy.injected["bitflip"] >= 1, proxy.injected


def test_an_s3_object_whose_etag_never_matches_is_an_error(s3_rig):
    """A cube another tool wrote (no ``objstore_md5`` metadata: the ETag is all there is to
    compare) whose every chunk answers another ETag than its MD5: read again, then a clear error.
    (An object objstore wrote is compared with the MD5 it carries where the server returns user
    metadata on a GET, as AWS and recent moto do: a wrong ETag beside a body that matches it is
    no damage.)"""
    import fsspec

    rig = s3_rig
    ds = _cube()
    ds.to_zarr(fsspec.get_mapper(rig.plain_url("never.zarr"), **rig.plain_options), mode="w",
               consolidated=True, zarr_format=2)
    with FaultProxy("127.0.0.1", server_port(rig), faults=["etag"], rate=1.0, seed=SEED,
                    only=_only_chunk_gets) as proxy:
        with pytest.raises(objstore.ObjstoreError, match="MD5") as err:
            objstore.open_cube(rig.url("never.zarr"), profile=profile_via(rig, proxy.url)).load()
        assert proxy.injected["etag"] >= 4, proxy.injected
    assert "\n" not in str(err.value) and "never.zarr" in str(err.value)


def test_an_s3_object_encrypted_with_kms_is_read_without_a_false_alarm(s3_rig):
    """A KMS-encrypted object's ETag is not its MD5 (on AWS; the proxy makes moto's so): the
    first mismatch asks the server (one HEAD) and the store stops comparing ETags."""
    import fsspec

    rig = s3_rig
    ds = _cube()
    options = {**rig.plain_options, "s3_additional_kwargs": {"ServerSideEncryption": "aws:kms"}}
    ds.to_zarr(fsspec.get_mapper(rig.plain_url("kms.zarr"), **options), mode="w",
               consolidated=True, zarr_format=2)
    with FaultProxy("127.0.0.1", server_port(rig), faults=["etag"], rate=1.0, seed=SEED,
                    only=_only_chunk_gets, record=True) as proxy:
        _same(objstore.open_cube(rig.url("kms.zarr"), profile=profile_via(rig, proxy.url)), ds)
        assert proxy.injected["etag"] >= 12, proxy.injected
        heads = [t for m, t, _ in proxy.headers_seen if m == "HEAD"]
    assert len(heads) == 1, heads


def _only_chunk_puts(method: str, target: str) -> bool:
    return method == "PUT" and "/tas/" in target.replace("%2F", "/")


def test_s3_writes_compare_the_answered_etag_with_the_md5_sent(s3_rig):
    """A server that answers a PUT with another ETag than the MD5 sent stored something else: the
    object is sent again, and a server that always does so fails the write with a clear error;
    a bucket encrypted with KMS (whose ETags are no MD5s) writes without a false alarm."""
    import boto3

    rig = s3_rig
    ds = _cube()
    with FaultProxy("127.0.0.1", server_port(rig), faults=["etag"], rate=0.1, seed=SEED,
                    only=_only_chunk_puts) as proxy:
        prof = profile_via(rig, proxy.url)
        objstore.write_cube(ds, rig.url("sent-again.zarr"), profile=prof)
        assert proxy.injected["etag"] >= 1, proxy.injected
        proxy.configure(rate=1.0, only=_only_chunk_puts)
        with pytest.raises(objstore.ObjstoreError, match="MD5") as err:
            objstore.write_cube(ds, rig.url("never.zarr"), profile=prof)
        assert "\n" not in str(err.value) and "never.zarr" in str(err.value)
    _same(objstore.open_cube(rig.url("sent-again.zarr"), profile=rig.profile), ds)

    opts = rig.plain_options
    boto3.client("s3", endpoint_url=opts["endpoint_url"], aws_access_key_id=opts["key"],
                 aws_secret_access_key=opts["secret"], region_name="us-east-1"
                 ).put_bucket_encryption(Bucket=rig.bucket, ServerSideEncryptionConfiguration={
                     "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]})
    with FaultProxy("127.0.0.1", server_port(rig), faults=["etag"], rate=1.0, seed=SEED,
                    only=_only_chunk_puts, record=True) as proxy:
        objstore.write_cube(ds, rig.url("kms.zarr"), profile=profile_via(rig, proxy.url))
        heads = [t for m, t, _ in proxy.headers_seen if m == "HEAD" and "/tas/" in t]
    assert len(heads) == 1, heads
    _same(objstore.open_cube(rig.url("kms.zarr"), profile=rig.profile), ds)
