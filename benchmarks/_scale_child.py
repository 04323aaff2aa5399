"""Child of ``bench_scale.py``: one operation on a cube of many 1 KiB chunks, in a fresh process.

    python benchmarks/_scale_child.py '{"spec": {...}, "op": "write", "n": 10000,
                                        "key": "cube.zarr", "local": "/tmp/.../cube.zarr"}'

Operations: ``floor_put`` / ``floor_get`` / ``floor_list`` (the raw client: n PUTs of 1 KiB, the
same GETs, and the listing of them page by page), ``write`` (``write_cube``), ``read``
(``open_cube(...).load()``), ``find`` (``fs.find``, what ``objstore ls -R`` lists), ``publish``
(a local zarr folder), ``publish_again`` (the same, nothing to send), ``verify``
(``transfer.verify`` of the published cube against the folder), ``cp`` (``objstore cp`` of the
folder). Prints one JSON line (``_proc.report``); the clock starts after imports and set-up.
"""

from __future__ import annotations

import asyncio
import os
import time
import warnings
from typing import Any

import _targets
import floor
import numpy as np
import xarray as xr
import zarr  # noqa: F401  (imported before the clock, like the rest)
from _proc import job, ready, report, rss_mib

import objstore
from objstore import transfer

warnings.filterwarnings("ignore")
NY = NX = 16  # float32: 1 KiB per chunk


def cube(n: int) -> xr.Dataset:
    data = np.random.default_rng(0).standard_normal((n, NY, NX), dtype="float32")
    return xr.Dataset({"tas": (("time", "y", "x"), data)}, coords={"time": np.arange(n)})


ENCODING = {"tas": {"chunks": (1, NY, NX), "compressors": None}}


async def _list_pages(spec: dict[str, Any], prefix: str) -> tuple[int, int]:
    """The raw client's listing of ``prefix``: (objects, pages), one page after another."""
    import re

    import aiohttp
    import yarl

    b, ep, name = spec["backend"], spec["endpoint"], spec["name"]
    n = pages = 0
    async with aiohttp.ClientSession() as session:
        if b == "s3":
            sign = floor.botocore_signer(ep, spec["key"], spec["secret"])
            token = None
            while True:
                q = f"list-type=2&max-keys=1000&prefix={prefix}"
                if token:
                    from urllib.parse import quote

                    q += f"&continuation-token={quote(token, safe='')}"
                url = f"{ep}/{name}?{q}"
                hdr = dict(sign("GET", url, {}, None))
                async with session.get(yarl.URL(url, encoded=True), headers=hdr) as resp:
                    body = await resp.text()
                    resp.raise_for_status()
                pages += 1
                n += body.count("<Key>")
                m = re.search(r"<NextContinuationToken>([^<]+)<", body)
                if not m:
                    return n, pages
                token = m.group(1)
        if b == "swift":
            marker = ""
            hdr = {"X-Auth-Token": spec["token"]}
            while True:
                url = f"{ep}/{name}"
                params = {"format": "json", "limit": "10000", "prefix": prefix, "marker": marker}
                async with session.get(url, headers=hdr, params=params) as resp:
                    resp.raise_for_status()
                    page = await resp.json()
                pages += 1
                n += len(page)
                if len(page) < 10000:
                    return n, pages
                marker = page[-1]["name"]
    raise ValueError(f"no floor listing for {b}")


def warm_up(spec: dict[str, Any], op: str, prof: Any) -> None:
    """The same kind of call on a 2-chunk cube, so that the measured call pays no first-use costs
    (clients, sessions, botocore's models): the table is about growth with n (the cold costs
    are ``bench_coldopen.py``'s)."""
    import tempfile

    url = _targets.url(spec, f"warm-{op}.zarr")
    if op in ("write", "read", "find"):
        objstore.write_cube(cube(2), url, profile=prof, encoding=ENCODING, mode="w")
        if op == "read":
            objstore.open_cube(url, profile=prof).load()
        elif op == "find":
            r = objstore.resolve(url, prof)
            r.fs.find(r.path)
        return
    with tempfile.TemporaryDirectory() as tmp:
        small = f"{tmp}/small.zarr"
        cube(2).to_zarr(small, encoding=ENCODING, consolidated=True, zarr_format=2)
        if op == "cp":
            transfer.copy(small, url, prof)
        else:
            objstore.publish(small, url, prof)
            if op == "verify":
                transfer.verify(transfer.scan_local(small), objstore.resolve(url, prof))


def main() -> None:
    j = job()
    spec, op, n, key = j["spec"], j["op"], j["n"], j["key"]
    url = _targets.url(spec, key)
    prof = _targets.profile(spec)
    local = j.get("local")
    fn: Any
    if op.startswith("floor_"):
        keys = [f"{'floor-after' if op == 'floor_put_after' else 'floor'}/{i}" for i in range(n)]
        up, down, up_kw, down_kw = _targets.floor_requests(spec, keys)
        body = np.random.default_rng(1).bytes(NY * NX * 4)
        fn = {"floor_put": lambda: floor.run_put_all([(u, body) for u in up], **up_kw),
              "floor_get": lambda: floor.run_get_all(down, **down_kw),
              "floor_list": lambda: asyncio.run(_list_pages(spec, "floor/"))}[
            op.removesuffix("_after")]  # the same requests, measured again later
    elif op == "write":
        ds = cube(n)
        fn = lambda: objstore.write_cube(ds, url, profile=prof, encoding=ENCODING)  # noqa: E731
    elif op == "read":
        fn = lambda: objstore.open_cube(url, profile=prof).load()  # noqa: E731
    elif op == "find":
        r = objstore.resolve(url, prof)
        fs = r.fs
        fn = lambda: len(fs.find(r.path))  # noqa: E731
    elif op in ("publish", "publish_again"):
        fn = lambda: objstore.publish(local, url, prof).uploaded  # noqa: E731
    elif op == "verify":
        r = objstore.resolve(url, prof)
        expected = transfer.scan_local(local)
        fn = lambda: transfer.verify(expected, r).ok  # noqa: E731
    elif op == "cp":
        fn = lambda: transfer.copy(local, url, prof).copied  # noqa: E731
    else:
        raise ValueError(op)
    if not op.startswith("floor_"):
        warm_up(spec, op, prof)
    ready()
    before = rss_mib()
    t0 = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t0
    if isinstance(out, dict):
        out = out.get("status")
    elif isinstance(out, xr.Dataset):
        out = int(out["tas"].shape[0])
    report({"seconds": seconds, "rss_before_mib": before, "out": repr(out)[:200]})
    os._exit(0)  # skip exit-time finalizers (adlfs/gcsfs sessions need a stopped loop)


if __name__ == "__main__":
    main()
