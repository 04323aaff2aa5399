"""Full read, write and publish of a many-small-chunks cube: plain tools vs objstore vs the floor.

The issue's workload: one float32 variable, 1000 chunks of 64 KiB (65.5 MB; ``--quick``: 250),
through a ``LatencyProxy`` adding 0 and 25 ms each way, on a local moto S3 and a local Swift. For
each (backend, delay) it prints wall time and request count of

* the plain tools: xarray + zarr 3 + s3fs (open, ``.load()`` with dask's defaults and with
  ``chunks=None``, ``to_zarr``); on Swift the ``swift upload`` CLI and a serial put loop (what the
  old zarr Swift store did);
* objstore: ``open_cube``, ``open_cube(...).load()``, ``write_cube``, ``publish`` (Swift), with the
  fsspec engine and, on S3, the obstore engine;
* the floor: a raw aiohttp client, keep-alive, 64 in flight, doing the same GETs and PUTs
  (``floor.py``); the best any client can do against these servers on this machine;

then the ratios the issue asks for (objstore / floor, plain / objstore). Numbers only, no asserts.

    python benchmarks/bench_io.py                      # 0 and 25 ms, S3 and Swift, 1000 chunks
    python benchmarks/bench_io.py --quick --delay-ms 25 --backends s3
    python benchmarks/bench_io.py --sweep --delay-ms 25  # max_concurrency 8..256, and the floor
"""

# ruff: noqa: B023  (lambdas are timed inside the loop that defines them)
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

from _common import (
    FULL,
    QUICK,
    Measure,
    chunk_encoding,
    make_cube,
    measure,
    print_table,
    servers,
    swift_available,
)

warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
warnings.filterwarnings("ignore", category=RuntimeWarning, module="xarray")

# The issue's "plain tools today" at 25 ms each way (1000 chunks), for reference in the output.
ISSUE = {"open": 1.1, "read_dask": 58.7, "read_none": 12.5, "write": 15.5, "swift_upload": 12.5,
         "serial_put": 60.4}


def _fmt(m: Measure | None) -> str:
    return "-" if m is None else m.fmt()


def _ratio(a: Measure | None, b: Measure | None) -> str:
    if a is None or b is None or not b.seconds:
        return "-"
    return f"{a.seconds / b.seconds:.2f}x"


# ----------------------------------------------------------------------------------- floor
def _floor(put_urls: list[str], get_urls: list[str], body: bytes, proxy: Any, *,
           headers: dict[str, str] | None = None, sign: Any = None,
           repeat: int = 1) -> tuple[Measure, Measure]:
    import floor

    def put() -> None:
        floor.run_put_all([(u, body) for u in put_urls], headers=headers, sign=sign)

    def get() -> None:
        floor.run_get_all(get_urls, headers=headers, sign=sign)

    return measure(put, proxy, repeat=repeat), measure(get, proxy, repeat=repeat)


# ----------------------------------------------------------------------------------- S3
def run_s3(sv: Any, delay: float, n_chunks: int, repeat: int, engines: list[str],
           skip_slow: bool) -> dict[str, Measure | None]:
    import floor
    import numpy as np
    import xarray as xr

    import objstore
    from objstore.profiles import S3Profile

    px = sv.proxy("s3", delay)
    bucket = f"b{uuid.uuid4().hex[:10]}"
    sv.moto.client().create_bucket(Bucket=bucket)
    opts = {"key": "testing", "secret": "testing", "endpoint_url": px.url}
    ds = make_cube(n_chunks)
    enc = chunk_encoding(ds)
    out: dict[str, Measure | None] = {}

    # floor: the same number of 64 KiB objects, PUT then GET
    body = np.random.default_rng(1).bytes(ds["tas"].nbytes // n_chunks)
    urls = [f"{px.url}/{bucket}/floor/{i}" for i in range(n_chunks)]
    out["floor_put"], out["floor_get"] = _floor(
        urls, urls, body, px, sign=floor.botocore_signer(px.url, "testing", "testing"),
        repeat=repeat)

    # warm up every client once (imports, sessions), so that no timing pays first-use costs
    small = make_cube(2)
    warm = f"s3://{bucket}/warm"
    small.to_zarr(f"{warm}-plain.zarr", storage_options=opts, consolidated=True, zarr_format=2)
    xr.open_zarr(f"{warm}-plain.zarr", storage_options=opts).load()
    for eng in engines:
        os.environ["OBJSTORE_ENGINE"] = eng
        wp = S3Profile(name="bench", key="testing", secret="testing", endpoint_url=px.url)
        objstore.write_cube(small, f"{warm}-{eng}.zarr", profile=wp, mode="w")
        objstore.open_cube(f"{warm}-{eng}.zarr", profile=wp).load()
    os.environ.pop("OBJSTORE_ENGINE", None)

    # plain tools: xarray + zarr 3 + s3fs, defaults
    plain = f"s3://{bucket}/plain.zarr"
    out["plain_write"] = measure(lambda: ds.to_zarr(plain, storage_options=opts, encoding=enc,
                                                    consolidated=True, zarr_format=2), px)
    out["plain_open"] = measure(lambda: xr.open_zarr(plain, storage_options=opts), px)
    out["plain_read_dask"] = None if skip_slow else measure(
        lambda: xr.open_zarr(plain, storage_options=opts).load(), px)
    out["plain_read_none"] = measure(
        lambda: xr.open_zarr(plain, storage_options=opts, chunks=None).load(), px)

    # the fastest peer a user could pick instead: zarr's ObjectStore over obstore, its defaults
    peer = _peer_s3(bucket, px.url)
    small.to_zarr(peer("warm-peer.zarr"), consolidated=True, zarr_format=2, mode="w")
    xr.open_zarr(peer("warm-peer.zarr")).load()
    out["peer_write"] = measure(lambda: ds.to_zarr(peer("peer.zarr"), encoding=enc,
                                                   consolidated=True, zarr_format=2), px)
    out["peer_open"] = measure(lambda: xr.open_zarr(peer("peer.zarr")), px)
    out["peer_read_dask"] = measure(lambda: xr.open_zarr(peer("peer.zarr")).load(), px)
    out["peer_read_none"] = measure(lambda: xr.open_zarr(peer("peer.zarr"), chunks=None).load(), px)

    for eng in engines:
        os.environ["OBJSTORE_ENGINE"] = eng
        try:
            prof = S3Profile(name="bench", key="testing", secret="testing", endpoint_url=px.url)
            fresh = iter(range(repeat))  # a new cube each time, as the plain write
            out[f"{eng}_write"] = measure(
                lambda: objstore.write_cube(ds, f"s3://{bucket}/{eng}-{next(fresh)}.zarr",
                                            profile=prof, encoding=enc), px, repeat=repeat)
            url = f"s3://{bucket}/{eng}-0.zarr"
            out[f"{eng}_open"] = measure(lambda: objstore.open_cube(url, profile=prof), px,
                                         repeat=repeat)
            back = objstore.open_cube(url, profile=prof).load()
            xr.testing.assert_identical(back, ds)
            out[f"{eng}_read_dask"] = measure(
                lambda: objstore.open_cube(url, profile=prof).load(), px, repeat=repeat)
            out[f"{eng}_read_none"] = measure(
                lambda: objstore.open_cube(url, profile=prof, chunks=None).load(), px,
                repeat=repeat)
        finally:
            os.environ.pop("OBJSTORE_ENGINE", None)
    return out


def _peer_s3(bucket: str, endpoint: str) -> Any:
    """``prefix -> zarr.storage.ObjectStore`` over obstore's S3Store, as its docs show it."""
    from obstore.store import S3Store
    from zarr.storage import ObjectStore

    def store(prefix: str) -> Any:
        return ObjectStore(S3Store(bucket, prefix=prefix, endpoint=endpoint, region="us-east-1",
                                   access_key_id="testing", secret_access_key="testing",
                                   virtual_hosted_style_request=False,
                                   client_options={"allow_http": True}))

    return store


# ----------------------------------------------------------------------------------- Swift
def run_swift(sv: Any, delay: float, n_chunks: int, repeat: int,
              skip_slow: bool) -> dict[str, Measure | None]:
    import numpy as np
    import xarray as xr

    import objstore
    from objstore.profiles import SwiftProfile

    px = sv.proxy("swift", delay)
    real_url, token = sv.swift.get_token()
    account = real_url.rstrip("/").rsplit("/", 1)[-1]
    storage_url = f"{px.url}/v1/{account}"
    hdr = {"X-Auth-Token": token}
    container = f"c{uuid.uuid4().hex[:10]}"
    from servers._util import http_request

    http_request("PUT", f"{storage_url}/{container}", headers=hdr)
    ds = make_cube(n_chunks)
    enc = chunk_encoding(ds)
    prof = SwiftProfile(name="bench", storage_url=storage_url, token=token)
    out: dict[str, Measure | None] = {}

    body = np.random.default_rng(1).bytes(ds["tas"].nbytes // n_chunks)
    urls = [f"{storage_url}/{container}/floor/{i}" for i in range(n_chunks)]
    out["floor_put"], out["floor_get"] = _floor(urls, urls, body, px, headers=hdr, repeat=repeat)

    warm = f"swift://{container}/warm.zarr"
    objstore.write_cube(make_cube(2), warm, profile=prof, mode="w")
    objstore.open_cube(warm, profile=prof).load()

    fresh = iter(range(repeat))
    out["fsspec_write"] = measure(
        lambda: objstore.write_cube(ds, f"swift://{container}/objstore-{next(fresh)}.zarr",
                                    profile=prof, encoding=enc), px, repeat=repeat)
    url = f"swift://{container}/objstore-0.zarr"
    out["fsspec_open"] = measure(lambda: objstore.open_cube(url, profile=prof), px, repeat=repeat)
    xr.testing.assert_identical(objstore.open_cube(url, profile=prof).load(), ds)
    out["fsspec_read_dask"] = measure(lambda: objstore.open_cube(url, profile=prof).load(), px,
                                      repeat=repeat)
    out["fsspec_read_none"] = measure(
        lambda: objstore.open_cube(url, profile=prof, chunks=None).load(), px, repeat=repeat)

    # publishing a local cube folder: swift upload, a serial put loop, objstore publish
    tmp = Path(tempfile.mkdtemp(prefix="bench-swift-"))
    try:
        local = tmp / "cube.zarr"
        ds.to_zarr(local, encoding=enc, consolidated=True, zarr_format=2)
        files = sorted(p for p in local.rglob("*") if p.is_file())
        swift = shutil.which("swift") or "/usr/bin/swift"

        def swift_upload() -> None:
            subprocess.run([swift, "--os-storage-url", storage_url, "--os-auth-token", token,
                            "upload", container, "cube.zarr", "--object-name", "upload.zarr"],
                           cwd=tmp, check=True, stdout=subprocess.DEVNULL)

        out["swift_upload"] = measure(swift_upload, px)

        def serial_put() -> None:  # the old zarr Swift store: one blocking PUT after another
            from swiftclient.client import Connection

            conn = Connection(preauthurl=storage_url, preauthtoken=token)
            for f in files:
                conn.put_object(container, f"serial.zarr/{f.relative_to(local)}", f.read_bytes())
            conn.close()

        out["serial_put"] = None if skip_slow else measure(serial_put, px)
        try:
            from objstore.publish import publish
        except ImportError:
            out["publish"] = None
        else:
            out["publish"] = measure(
                lambda: publish(local, f"swift://{container}/published.zarr", prof,
                                overwrite=True), px)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


# ----------------------------------------------------------------------------------- report
def report(backend: str, delay: float, n_chunks: int, r: dict[str, Measure | None],
           engines: list[str]) -> list[tuple[str, str, str, bool | None]]:
    """Print the table for one (backend, delay); return the ratio checks."""
    peer = any(k.startswith("peer_") for k in r)  # zarr ObjectStore + obstore, where it runs
    cols = ["operation", "plain tools", *(["zarr+obstore"] if peer else []),
            *[f"objstore ({e})" for e in engines], "floor",
            *[f"{e}/floor" for e in engines], *[f"plain/{e}" for e in engines],
            *([f"peer/{e}" for e in engines] if peer else [])]
    ops = [("open", "plain_open", "open", None),
           ("full read, .load() (dask)", "plain_read_dask", "read_dask", "floor_get"),
           ("full read, chunks=None", "plain_read_none", "read_none", "floor_get"),
           ("write (to_zarr / write_cube)", "plain_write", "write", "floor_put")]
    if backend == "swift":
        ops = [("open", None, "open", None),
               ("full read, .load() (dask)", None, "read_dask", "floor_get"),
               ("full read, chunks=None", None, "read_none", "floor_get"),
               ("write (write_cube)", None, "write", "floor_put")]
    rows = []
    for label, plain_key, key, floor_key in ops:
        p = r.get(plain_key) if plain_key else None
        fl = r.get(floor_key) if floor_key else None
        ms = [r.get(f"{e}_{key}") for e in engines]
        pm = r.get(f"peer_{key}")
        rows.append([label, _fmt(p), *([_fmt(pm)] if peer else []), *[_fmt(m) for m in ms],
                     _fmt(fl), *[_ratio(m, fl) for m in ms], *[_ratio(p, m) for m in ms],
                     *([_ratio(pm, m) for m in ms] if peer else [])])
    if backend == "swift":
        pub = r.get("publish")
        for label, key in (("swift upload (default threads)", "swift_upload"),
                           ("serial put loop (old zarr Swift store)", "serial_put")):
            m = r.get(key)
            rows.append([label, _fmt(m), "-", _fmt(r.get("floor_put")), "-", _ratio(m, pub)])
        rows.append(["publish (objstore)", "-", _fmt(pub), _fmt(r.get("floor_put")),
                     _ratio(pub, r.get("floor_put")), "-"])
    print_table(f"{backend}, {delay:g} ms each way, {n_chunks} chunks of 64 KiB "
                f"(time, requests; ratios: objstore/floor and plain/objstore)", cols, rows)

    checks: list[tuple[str, str, str, bool | None]] = []
    scale = n_chunks / FULL["n_chunks"]
    for e in engines:
        o = r.get(f"{e}_open")
        if o is not None and delay:
            checks.append((f"{backend} {e} open requests", f"{o.requests}", "<= 4",
                           (o.requests or 0) <= 4))
            checks.append((f"{backend} {e} open time", f"{o.seconds:.2f} s", "<= 0.25 s",
                           o.seconds <= 0.25))
        for key, fl_key, plain_key, issue_key in (
                ("read_dask", "floor_get", "plain_read_dask", "read_dask"),
                ("write", "floor_put", "plain_write", "write")):
            m, fl, p = r.get(f"{e}_{key}"), r.get(fl_key), r.get(plain_key)
            if m is None:
                continue
            if fl is not None and delay:
                checks.append((f"{backend} {e} {key} / floor", _ratio(m, fl), "<= 1.5x",
                               m.seconds <= 1.5 * fl.seconds))
            if (pm := r.get(f"peer_{key}")) is not None:
                checks.append((f"{backend} {e} {key}: peer / objstore", _ratio(pm, m),
                               ">= 1x (at or ahead of zarr+obstore)", pm.seconds >= 0.95 * m.seconds))
            if delay and backend == "s3":
                ref = p.seconds if p is not None else ISSUE[issue_key] * scale
                checks.append((f"{backend} {e} {key}: plain / objstore", f"{ref / m.seconds:.1f}x",
                               ">= 3x", ref >= 3 * m.seconds))
            if not delay and p is not None:
                checks.append((f"{backend} {e} {key} at 0 ms vs plain", _ratio(m, p), "<= 1x",
                               m.seconds <= p.seconds * 1.05))
    if backend == "swift":
        pub, fl = r.get("publish"), r.get("floor_put")
        if pub is not None and fl is not None and delay:
            checks.append(("swift publish / floor", _ratio(pub, fl), "<= 1.5x",
                           pub.seconds <= 1.5 * fl.seconds))
            up = r.get("swift_upload")
            if up is not None:
                checks.append(("swift upload / publish", _ratio(up, pub), ">= 3x",
                               up.seconds >= 3 * pub.seconds))
        if not delay and pub is not None and r.get("swift_upload") is not None:
            up = r["swift_upload"]
            checks.append(("swift publish at 0 ms vs swift upload", _ratio(pub, up), "<= 1x",
                           pub.seconds <= up.seconds * 1.05))
    return checks


def print_checks(checks: list[tuple[str, str, str, bool | None]]) -> None:
    rows = [[name, got, target, {True: "met", False: "MISSED", None: "-"}[ok]]
            for name, got, target, ok in checks]
    if rows:
        print_table("targets", ["what", "measured", "target", ""], rows)


def _sweep_target(sv: Any, backend: str, delay: float) -> tuple[Any, Any, str, dict, Any]:
    """(proxy, profile maker, cube URL prefix, floor headers, floor signer) for one backend."""
    import floor

    from objstore.profiles import S3Profile, SwiftProfile

    px = sv.proxy(backend, delay)
    name = f"b{uuid.uuid4().hex[:10]}"
    if backend == "s3":
        sv.moto.client().create_bucket(Bucket=name)
        return (px, lambda n: S3Profile(name="bench", key="testing", secret="testing",
                                        endpoint_url=px.url, max_concurrency=n),
                f"s3://{name}", {}, floor.botocore_signer(px.url, "testing", "testing"))
    from servers._util import http_request

    real_url, token = sv.swift.get_token()
    storage_url = f"{px.url}/v1/{real_url.rstrip('/').rsplit('/', 1)[-1]}"
    hdr = {"X-Auth-Token": token}
    http_request("PUT", f"{storage_url}/{name}", headers=hdr)
    return (px, lambda n: SwiftProfile(name="bench", storage_url=storage_url, token=token,
                                       max_concurrency=n),
            f"swift://{name}", hdr, None)


def sweep(sv: Any, backend: str, delay: float, n_chunks: int, engines: list[str]) -> None:
    """objstore's write and read, and the floor, at 8 to 256 requests in flight."""
    import floor
    import numpy as np

    import objstore

    px, profile, prefix, hdr, sign = _sweep_target(sv, backend, delay)
    ds = make_cube(n_chunks)
    enc = chunk_encoding(ds)
    body = np.random.default_rng(1).bytes(ds["tas"].nbytes // n_chunks)
    if backend == "s3":
        bucket = prefix.split("://", 1)[1]
        base = f"{px.url}/{bucket}/floor"
    else:
        base = f"{profile(1).storage_url}/{prefix.split('://', 1)[1]}/floor"
    urls = [f"{base}/{i}" for i in range(n_chunks)]
    objstore.write_cube(make_cube(2), f"{prefix}/warm.zarr", profile=profile(64), mode="w")
    rows = []
    for n in (8, 16, 32, 64, 128, 256):
        fp = measure(lambda: floor.run_put_all([(u, body) for u in urls], headers=hdr,
                                               concurrency=n, sign=sign), px, repeat=2)
        fg = measure(lambda: floor.run_get_all(urls, headers=hdr, concurrency=n, sign=sign),
                     px, repeat=2)
        row = [str(n), fp.fmt(), fg.fmt()]
        for eng in engines if backend == "s3" else ["fsspec"]:
            os.environ["OBJSTORE_ENGINE"] = eng
            try:
                url = f"{prefix}/{eng}-{n}.zarr"
                w = measure(lambda: objstore.write_cube(ds, url, profile=profile(n),
                                                        encoding=enc, mode="w"), px, repeat=2)
                rd = measure(lambda: objstore.open_cube(url, profile=profile(n)).load(), px,
                             repeat=2)
            finally:
                os.environ.pop("OBJSTORE_ENGINE", None)
            row += [w.fmt(), rd.fmt()]
        rows.append(row)
    header = ["in flight", "floor PUT", "floor GET"]
    for eng in engines if backend == "s3" else ["fsspec"]:
        header += [f"write_cube ({eng})", f"open_cube().load() ({eng})"]
    print_table(f"max_concurrency sweep, {backend}, {delay:g} ms each way, {n_chunks} chunks",
                header, rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--delay-ms", type=float, nargs="+", default=[0.0, 25.0])
    ap.add_argument("--quick", action="store_true", help="250 chunks instead of 1000")
    ap.add_argument("--backends", nargs="+", default=["s3", "swift"], choices=["s3", "swift"])
    ap.add_argument("--engines", nargs="+", default=["fsspec", "obstore"],
                    choices=["fsspec", "obstore"], help="objstore I/O engines to run on S3")
    ap.add_argument("--repeat", type=int, default=None,
                    help="runs per objstore/floor measurement, median (default 3)")
    ap.add_argument("--skip-slow", action="store_true",
                    help="skip the plain dask .load() and the serial put loop (about a minute each "
                         "at 25 ms); their ratios then use the issue's numbers, scaled")
    ap.add_argument("--sweep", action="store_true",
                    help="only sweep max_concurrency (8..256), objstore and the floor")
    args = ap.parse_args(argv)
    size = QUICK if args.quick else FULL
    n = size["n_chunks"]
    repeat = args.repeat or 3
    backends = list(args.backends)
    if "swift" in backends and (why := swift_available()):
        print(f"skipping Swift: {why}")
        backends.remove("swift")
    t0 = time.perf_counter()
    checks: list[tuple[str, str, str, bool | None]] = []
    with servers(s3="s3" in backends, swift="swift" in backends) as sv:
        if args.sweep:
            for backend in backends:
                for d in args.delay_ms:
                    sweep(sv, backend, d, n, args.engines)
            print(f"\nbench_io --sweep: {time.perf_counter() - t0:.0f} s")
            return 0
        for backend in backends:
            for d in args.delay_ms:
                if backend == "s3":
                    r = run_s3(sv, d, n, repeat, args.engines, args.skip_slow)
                    checks += report("s3", d, n, r, args.engines)
                else:
                    r = run_swift(sv, d, n, repeat, args.skip_slow)
                    checks += report("swift", d, n, r, ["fsspec"])
    print_checks(checks)
    print(f"\nbench_io: {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
