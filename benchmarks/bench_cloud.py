"""Full read and write of a many-small-chunks cube on Azure (Azurite) and GCS (the GCS emulator).

``bench_io.py``'s workload and table for the two other clouds: one float32 variable, 1000 chunks
of 64 KiB (``--quick``: 250), through a ``LatencyProxy`` adding 0 and 25 ms each way in front of a
local Azurite and a local ``gcp-storage-emulator``. For each (backend, delay) it prints wall time
and request count of

* the plain tools with their defaults: xarray + zarr 3 + adlfs / gcsfs (``to_zarr``, open,
  ``.load()`` with dask's defaults and with ``chunks=None``);
* the fastest peer a user could pick instead, on Azure: zarr's ``ObjectStore`` over obstore's
  ``AzureStore`` (``to_zarr``, ``xr.open_zarr``), its defaults; none on GCS (obstore's GCS client
  speaks the XML API, which the emulator does not serve: the output says so);
* objstore: ``write_cube``, ``open_cube``, ``open_cube(...).load()`` (dask and ``chunks=None``),
  with the fsspec engine and, on Azure, the obstore engine (not offered for GCS);
* the floor (``floor.py``): a raw aiohttp client, 64 in flight, doing the same number of 64 KiB
  uploads and downloads. Azure: ``PUT {endpoint}/{container}/floor/{i}?{container SAS}`` with
  ``x-ms-blob-type: BlockBlob``, then GETs of the same URLs. GCS: the JSON API's media upload
  ``POST /upload/storage/v1/b/{bucket}/o?uploadType=media&name=floor%2F{i}`` and download
  ``GET /download/storage/v1/b/{bucket}/o/floor%2F{i}?alt=media`` (what gcsfs uses too);

then the ratios (objstore / floor, plain / objstore) and the targets (bench_io's). Numbers only, no
asserts; an operation the emulator could not complete is printed as ``-`` with the error below the
table.

    python benchmarks/bench_cloud.py                       # 0 and 25 ms, Azure and GCS, 1000 chunks
    python benchmarks/bench_cloud.py --quick --delay-ms 25 --backends gcs
"""

# ruff: noqa: B023  (lambdas are timed inside the loop that defines them)
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
import uuid
import warnings
from collections.abc import Callable
from typing import Any

from _common import (
    FULL,
    QUICK,
    Measure,
    chunk_encoding,
    exit_quietly,
    make_cube,
    measure,
    servers,
)
from bench_io import _ratio, print_checks, report

warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
warnings.filterwarnings("ignore", category=RuntimeWarning, module="xarray")

#: Engines objstore offers per backend (``objstore/perf.py`` refuses obstore for GCS).
OFFERED = {"azure": ("fsspec", "obstore"), "gcs": ("fsspec",)}


class Target:
    """One backend behind one proxy: URLs, plain storage options, an objstore profile, the floor."""

    backend: str
    scheme: str
    px: Any
    name: str  # container / bucket
    plain: dict[str, Any]

    def profile(self) -> Any:
        raise NotImplementedError

    def floor(self, body: bytes, n: int, repeat: int) -> tuple[Measure, Measure]:
        raise NotImplementedError

    def url(self, key: str) -> str:
        return f"{self.scheme}://{self.name}/{key}"

    def fresh(self) -> None:
        """Before each timed upload: an emulator state that does not favour whoever ran first."""


class Azure(Target):
    backend, scheme = "azure", "az"

    def __init__(self, sv: Any, delay: float) -> None:
        from servers.azurite import create_container

        self.server = sv.azurite
        self.px = sv.proxy("azure", delay)
        self.name = f"c{uuid.uuid4().hex[:10]}"
        create_container(self.server, self.name)
        self.endpoint = f"{self.px.url}/{self.server.account_name}"  # the proxy, not Azurite
        # plain adlfs: a connection string (adlfs cannot reach a plain-http endpoint otherwise)
        self.plain = {"connection_string": (
            f"DefaultEndpointsProtocol=http;AccountName={self.server.account_name};"
            f"AccountKey={self.server.account_key};BlobEndpoint={self.endpoint};")}

    def fresh(self) -> None:
        # Azurite (in-memory) slows down as blobs accumulate: 1000 PUTs took 1.1 s with nothing
        # stored and 2.4 s with 7000 blobs, 0.9 s again once the containers were deleted. Every
        # timed upload starts with an empty account and this target's container.
        from azure.storage.blob import BlobServiceClient

        svc = BlobServiceClient.from_connection_string(self.server.connection_string)
        for c in list(svc.list_containers()):
            svc.delete_container(c.name)
        svc.create_container(self.name)

    def profile(self) -> Any:
        from objstore.profiles import AzureProfile

        return AzureProfile(name="bench", account_name=self.server.account_name,
                            account_key=self.server.account_key, endpoint_url=self.endpoint)

    def floor(self, body: bytes, n: int, repeat: int) -> tuple[Measure, Measure]:
        import floor
        from azure.storage.blob import ContainerSasPermissions, generate_container_sas

        now = dt.datetime.now(dt.UTC)
        sas = generate_container_sas(  # once: signing costs nothing per request
            account_name=self.server.account_name, container_name=self.name,
            account_key=self.server.account_key,
            permission=ContainerSasPermissions(read=True, write=True, create=True),
            start=now - dt.timedelta(minutes=5), expiry=now + dt.timedelta(hours=2))
        urls = [f"{self.endpoint}/{self.name}/floor/{i}?{sas}" for i in range(n)]
        put = measure(lambda: floor.run_put_all([(u, body) for u in urls],
                                                headers={"x-ms-blob-type": "BlockBlob"}),
                      self.px, repeat=repeat, setup=self.fresh)
        get = measure(lambda: floor.run_get_all(urls), self.px, repeat=repeat)
        return put, get


class GCS(Target):
    backend, scheme = "gcs", "gs"

    def __init__(self, sv: Any, delay: float) -> None:
        self.server = sv.gcs
        self.px = sv.proxy("gcs", delay)
        self.name = f"b{uuid.uuid4().hex[:10]}"
        self.server.create_bucket(self.name)
        self.plain = {"endpoint_url": self.px.url, "token": "anon", "project": "test"}

    def fresh(self) -> None:
        # The emulator rewrites the JSON metadata of *every* stored object on each upload
        # (storage.create_file -> _write_config_to_file), so uploads slow down as it fills up
        # (about 12 per second with 15,000 objects stored). Every timed upload starts empty.
        self.server.reset(keep_buckets=True)

    def profile(self) -> Any:
        from objstore.profiles import GCSProfile

        return GCSProfile(name="bench", endpoint_url=self.px.url, anonymous=True, project="test")

    def floor(self, body: bytes, n: int, repeat: int) -> tuple[Measure, Measure]:
        import floor

        base = f"{self.px.url}/upload/storage/v1/b/{self.name}/o?uploadType=media&name=floor%2F"
        up = [f"{base}{i}" for i in range(n)]
        down = [f"{self.px.url}/download/storage/v1/b/{self.name}/o/floor%2F{i}?alt=media"
                for i in range(n)]
        put = measure(lambda: floor.run_put_all([(u, body) for u in up], method="POST",
                                                headers={"Content-Type":
                                                         "application/octet-stream"}),
                      self.px, repeat=repeat, setup=self.fresh)
        get = measure(lambda: floor.run_get_all(down), self.px, repeat=repeat)
        return put, get

    def floor_multipart(self, body: bytes, n: int, repeat: int) -> Measure:
        """The floor's uploads as gcsfs sends them: ``uploadType=multipart`` (JSON metadata and
        the bytes in one ``multipart/related`` body) instead of a media upload."""
        import floor

        bd = "==objstore-bench=="
        url = f"{self.px.url}/upload/storage/v1/b/{self.name}/o?uploadType=multipart"
        items = [(url, b"".join([
            f"--{bd}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n".encode(),
            json.dumps({"name": f"floor-mp/{i}"}).encode(),
            f"\r\n--{bd}\r\nContent-Type: application/octet-stream\r\n\r\n".encode(),
            body, f"\r\n--{bd}--\r\n".encode()])) for i in range(n)]
        return measure(lambda: floor.run_put_all(
            items, method="POST", headers={"Content-Type": f'multipart/related; boundary="{bd}"'}),
            self.px, repeat=repeat, setup=self.fresh)


def _try(out: dict[str, Measure | None], notes: list[str], key: str,
         fn: Callable[[], Measure | None]) -> None:
    """``out[key] = fn()``; an error (the emulator gave up) becomes ``None`` and a note."""
    try:
        out[key] = fn()
    except Exception as exc:  # noqa: BLE001 - report what the emulator could not do
        out[key] = None
        msg = " ".join(f"{type(exc).__name__}: {exc}".split())
        notes.append(f"{key}: failed: {msg[:300]}")


def run(sv: Any, backend: str, delay: float, n_chunks: int, repeat: int, engines: list[str],
        skip_slow: bool) -> tuple[dict[str, Measure | None], list[str]]:
    import numpy as np
    import xarray as xr

    import objstore

    t: Target = Azure(sv, delay) if backend == "azure" else GCS(sv, delay)
    ds = make_cube(n_chunks)
    enc = chunk_encoding(ds)
    out: dict[str, Measure | None] = {}
    notes: list[str] = []

    # floor: the same number of 64 KiB objects, upload then download
    body = np.random.default_rng(1).bytes(ds["tas"].nbytes // n_chunks)
    try:
        out["floor_put"], out["floor_get"] = t.floor(body, n_chunks, repeat)
    except Exception as exc:  # noqa: BLE001
        out["floor_put"] = out["floor_get"] = None
        notes.append(f"floor: failed: {type(exc).__name__}: {str(exc)[:300]}")
    if isinstance(t, GCS):
        _try(out, notes, "floor_put_multipart", lambda: t.floor_multipart(body, n_chunks, repeat))
        if (mp := out["floor_put_multipart"]) is not None:
            notes.append(f"the floor's uploads as gcsfs sends them (uploadType=multipart instead "
                         f"of media): {mp.fmt().strip()}")

    # warm up every client once (imports, sessions), so that no timing pays first-use costs
    small = make_cube(2)
    small.to_zarr(t.url("warm-plain.zarr"), storage_options=t.plain, consolidated=True,
                  zarr_format=2)
    xr.open_zarr(t.url("warm-plain.zarr"), storage_options=t.plain).load()
    for eng in engines:
        os.environ["OBJSTORE_ENGINE"] = eng
        try:
            objstore.write_cube(small, t.url(f"warm-{eng}.zarr"), profile=t.profile(), mode="w")
            objstore.open_cube(t.url(f"warm-{eng}.zarr"), profile=t.profile()).load()
        finally:
            os.environ.pop("OBJSTORE_ENGINE", None)

    # plain tools: xarray + zarr 3 + adlfs / gcsfs, defaults
    plain, so = t.url("plain.zarr"), t.plain
    _try(out, notes, "plain_write", lambda: measure(
        lambda: ds.to_zarr(plain, storage_options=so, encoding=enc, consolidated=True,
                           zarr_format=2), t.px, setup=t.fresh))
    if "tas" not in xr.open_zarr(plain, storage_options=so).data_vars:
        # adlfs's listings cache: zarr.consolidate_metadata lists a directory cached before the
        # chunks were written, so .zmetadata holds no variables and the cube opens empty
        notes.append("plain to_zarr (defaults) wrote a .zmetadata without the variables: the cube "
                     "opens empty. The plain open/read rows read a cube written by the same "
                     "to_zarr with use_listings_cache=False")
        plain = t.url("plain-nocache.zarr")
        ds.to_zarr(plain, storage_options={**so, "use_listings_cache": False}, encoding=enc,
                   consolidated=True, zarr_format=2)
    _try(out, notes, "plain_open", lambda: measure(
        lambda: xr.open_zarr(plain, storage_options=so), t.px))
    if not skip_slow:
        _try(out, notes, "plain_read_dask", lambda: measure(
            lambda: xr.open_zarr(plain, storage_options=so).load(), t.px))
    _try(out, notes, "plain_read_none", lambda: measure(
        lambda: xr.open_zarr(plain, storage_options=so, chunks=None).load(), t.px))
    try:
        xr.testing.assert_identical(xr.open_zarr(plain, storage_options=so, chunks=None).load(),
                                    ds)
    except Exception as exc:  # noqa: BLE001
        notes.append(f"plain: the cube read back differs or failed: {exc!s:.300}")

    if isinstance(t, Azure):
        _run_peer(t, ds, enc, small, out, notes, repeat)
    else:
        notes.append(NO_GCS_PEER)

    for eng in engines:
        os.environ["OBJSTORE_ENGINE"] = eng
        try:
            prof = t.profile()
            fresh = iter(range(repeat))  # a new cube each time, as the plain write
            _try(out, notes, f"{eng}_write", lambda: measure(
                lambda: objstore.write_cube(ds, t.url(f"{eng}-{next(fresh)}.zarr"), profile=prof,
                                            encoding=enc), t.px, repeat=repeat, setup=t.fresh))
            url = t.url(f"{eng}-{repeat - 1}.zarr")  # the last one (GCS: the only one left)
            _try(out, notes, f"{eng}_open", lambda: measure(
                lambda: objstore.open_cube(url, profile=prof), t.px, repeat=repeat))
            try:
                xr.testing.assert_identical(objstore.open_cube(url, profile=prof).load(), ds)
            except Exception as exc:  # noqa: BLE001
                notes.append(f"{eng}: the cube read back differs or failed: {exc!s:.300}")
            _try(out, notes, f"{eng}_read_dask", lambda: measure(
                lambda: objstore.open_cube(url, profile=prof).load(), t.px, repeat=repeat))
            _try(out, notes, f"{eng}_read_none", lambda: measure(
                lambda: objstore.open_cube(url, profile=prof, chunks=None).load(), t.px,
                repeat=repeat))
        finally:
            os.environ.pop("OBJSTORE_ENGINE", None)
    return out, notes


NO_GCS_PEER = ("no zarr+obstore peer on GCS: obstore's GCSStore speaks the XML API (HEAD, "
               "?list-type=2 listings), which gcp-storage-emulator does not serve")


def _peer_azure(t: Azure) -> Callable[[str], Any]:
    """``prefix -> zarr.storage.ObjectStore`` over obstore's AzureStore, as its docs show it
    (account name and key; the endpoint is the proxy in front of Azurite)."""
    from obstore.store import AzureStore
    from zarr.storage import ObjectStore

    def store(prefix: str) -> Any:
        return ObjectStore(AzureStore(t.name, prefix=prefix, account_name=t.server.account_name,
                                      account_key=t.server.account_key, endpoint=t.endpoint,
                                      client_options={"allow_http": True}))

    return store


def _run_peer(t: Azure, ds: Any, enc: dict, small: Any, out: dict[str, Measure | None],
              notes: list[str], repeat: int) -> None:
    """The fastest peer a user could pick instead: zarr's ObjectStore over obstore, defaults."""
    import xarray as xr

    peer = _peer_azure(t)
    small.to_zarr(peer("warm-peer.zarr"), consolidated=True, zarr_format=2, mode="w")
    xr.open_zarr(peer("warm-peer.zarr")).load()
    fresh = iter(range(repeat))
    _try(out, notes, "peer_write", lambda: measure(
        lambda: ds.to_zarr(peer(f"peer-{next(fresh)}.zarr"), encoding=enc, consolidated=True,
                           zarr_format=2), t.px, repeat=repeat, setup=t.fresh))
    url = f"peer-{repeat - 1}.zarr"  # the last one: fresh() emptied the container before it
    _try(out, notes, "peer_open", lambda: measure(lambda: xr.open_zarr(peer(url)), t.px))
    _try(out, notes, "peer_read_dask", lambda: measure(
        lambda: xr.open_zarr(peer(url)).load(), t.px, repeat=repeat))
    _try(out, notes, "peer_read_none", lambda: measure(
        lambda: xr.open_zarr(peer(url), chunks=None).load(), t.px, repeat=repeat))
    try:
        xr.testing.assert_identical(xr.open_zarr(peer(url), chunks=None).load(), ds)
    except Exception as exc:  # noqa: BLE001
        notes.append(f"peer: the cube read back differs or failed: {exc!s:.300}")


def plain_checks(backend: str, delay: float, r: dict[str, Measure | None],
                 engines: list[str]) -> list[tuple[str, str, str, bool | None]]:
    """bench_io's ">= 3x faster than the plain tools" targets (its ``report`` does them on S3)."""
    checks: list[tuple[str, str, str, bool | None]] = []
    if not delay:
        return checks
    for e in engines:
        for key, plain_key in (("read_dask", "plain_read_dask"), ("write", "plain_write")):
            m, p = r.get(f"{e}_{key}"), r.get(plain_key)
            if m is not None and p is not None:
                checks.append((f"{backend} {e} {key}: plain / objstore", _ratio(p, m), ">= 3x",
                               p.seconds >= 3 * m.seconds))
    return checks


def unavailable(backend: str) -> str | None:
    """None if the emulator for ``backend`` is installed, else why not."""
    if backend == "azure":
        from servers.azurite import AZURITE_BIN

        if not AZURITE_BIN.exists():
            return f"Azurite not installed ({AZURITE_BIN}; scripts/install-servers.sh)"
        return None
    try:
        import gcp_storage_emulator  # noqa: F401
    except ImportError:
        return "gcp-storage-emulator not installed (pip install gcp-storage-emulator)"
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--delay-ms", type=float, nargs="+", default=[0.0, 25.0])
    ap.add_argument("--quick", action="store_true", help="250 chunks instead of 1000")
    ap.add_argument("--backends", nargs="+", default=["azure", "gcs"], choices=["azure", "gcs"])
    ap.add_argument("--engines", nargs="+", default=["fsspec", "obstore"],
                    choices=["fsspec", "obstore"],
                    help="objstore I/O engines (obstore only where offered: Azure)")
    ap.add_argument("--repeat", type=int, default=None,
                    help="runs per objstore/floor measurement, median (default 3)")
    ap.add_argument("--skip-slow", action="store_true",
                    help="skip the plain dask .load() (about a minute at 25 ms, 1000 chunks)")
    args = ap.parse_args(argv)
    n = (QUICK if args.quick else FULL)["n_chunks"]
    repeat = args.repeat or 3
    t0 = time.perf_counter()
    checks: list[tuple[str, str, str, bool | None]] = []
    backends = list(args.backends)
    for b in list(backends):
        if why := unavailable(b):
            print(f"skipping {b}: {why}")
            backends.remove(b)
    with servers(s3=False, azure="azure" in backends, gcs="gcs" in backends) as sv:
        for backend in backends:
            engines = [e for e in args.engines if e in OFFERED[backend]]
            if skipped := [e for e in args.engines if e not in OFFERED[backend]]:
                print(f"\n{backend}: engine {', '.join(skipped)} not offered by objstore "
                      f"(objstore/perf.py), not run")
            for d in args.delay_ms:
                r, notes = run(sv, backend, d, n, repeat, engines, args.skip_slow)
                checks += report(backend, d, n, r, engines)
                checks += plain_checks(backend, d, r, engines)
                for note in notes:
                    print(f"  {backend} {d:g} ms: {note}")
    print_checks(checks)
    print(f"\nbench_cloud: {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    exit_quietly(main())
