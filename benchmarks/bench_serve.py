"""Reading a cube through ``objstore serve``: N concurrent clients (1, 8, 32) fetching every chunk
of a 1000-chunk cube (64 KiB chunks) on moto S3 and Swift behind a latency proxy (25 ms each way).

Compared, per backend and number of clients: reading the store directly with ``open_cube`` (one
chunk per read, from threads), objstore serve's pass-through route (``/kerchunk/tas/i.0.0``: the
stored bytes), its computed format-3 route (``/zarr/tas/c/i/0/0``), and a plain ``xpublish.Rest``
(xpublish-zarr) on the same data, both with a 64 MB cache (chunks read again may come from it).
Throughput (MB/s of chunk bytes), p50/p99 latency per chunk, and the server's peak RSS. The
servers run in their own processes. Target: pass-through within 1.5x of reading the store
directly. With one client only the first 100 chunks are read (sequential reads through the proxy
take a tenth of a second each).

    python benchmarks/bench_serve.py [--quick] [--delay-ms 25] [--clients 1 8 32]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import FULL, QUICK, chunk_encoding, make_cube, print_table, servers, swift_available

#: both servers get the same cache (it also holds the format-3 metadata xpublish-zarr builds)
CACHE_MB = 64


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _profile(spec: dict[str, Any]) -> Any:
    from objstore.profiles import S3Profile, SwiftProfile

    kind = spec.pop("kind")
    return S3Profile(**spec) if kind == "s3" else SwiftProfile(**spec)


def child(config_path: str) -> None:
    """Serve the cube described in ``config_path`` (objstore serve, or plain xpublish)."""
    import uvicorn

    cfg = json.loads(Path(config_path).read_text())
    profile = _profile(cfg["profile"])
    if cfg["mode"] == "objstore":
        from objstore.serve import DatasetSpec, ServeConfig, app

        asgi = app(ServeConfig(datasets=[DatasetSpec(id="cube", url=cfg["url"], profile=profile)],
                               max_inflight=64, cache_mb=CACHE_MB))
    else:
        import xpublish

        import objstore

        ds = objstore.open_cube(cfg["url"], profile, chunks={})
        for var in ds.variables.values():  # xpublish-zarr cannot re-serve numcodecs codecs
            for key in ("compressor", "compressors", "filters"):
                var.encoding.pop(key, None)
        asgi = xpublish.Rest({"cube": ds}, cache_kws={"available_bytes": CACHE_MB * 2**20}).app
    uvicorn.run(asgi, host="127.0.0.1", port=cfg["port"], log_level="warning", access_log=False)


class ServerProcess:
    def __init__(self, tmp: Path, mode: str, url: str, profile: dict[str, Any]) -> None:
        self.port = _free_port()
        path = tmp / f"serve-{mode}-{uuid.uuid4().hex[:6]}.json"
        path.write_text(json.dumps({"mode": mode, "url": url, "profile": profile,
                                    "port": self.port}))
        self.proc = subprocess.Popen([sys.executable, __file__, "--child", str(path)])
        self.url = f"http://127.0.0.1:{self.port}"
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/datasets/cube/keys", timeout=30).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the {mode} server did not start")

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)


def run_clients(n_clients: int, indices: list[int], fetch: Callable[[int], int]
                ) -> tuple[float, float, float]:
    """(MB/s, p50 ms, p99 ms) for ``n_clients`` threads sharing ``indices``."""
    latencies: list[float] = []
    total = [0]
    lock = threading.Lock()
    todo = list(indices)

    errors: list[BaseException] = []

    def worker() -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001  (re-raised below)
            errors.append(exc)

    def work() -> None:
        while True:
            with lock:
                if not todo:
                    return
                i = todo.pop()
            t0 = time.perf_counter()
            n = fetch(i)
            dt = time.perf_counter() - t0
            with lock:
                latencies.append(dt)
                total[0] += n

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(n_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        raise errors[0]
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    return total[0] / wall / 1e6, statistics.median(latencies) * 1000, p99 * 1000


def http_fetch(url_of: Callable[[int], str]) -> Callable[[int], int]:
    import httpx

    client = httpx.Client(limits=httpx.Limits(max_connections=64), timeout=120)

    def fetch(i: int) -> int:
        r = client.get(url_of(i))
        r.raise_for_status()
        return 128 * 128 * 4  # decoded chunk bytes, the same unit for every reader

    return fetch


def bench_backend(name: str, url: str, profile: dict[str, Any], tmp: Path, n_chunks: int,
                  clients: list[int]) -> list[list[str]]:
    import objstore

    ds = objstore.open_cube(url, _profile(dict(profile)), chunks=None)
    tas = ds["tas"]

    def direct(i: int) -> int:
        return int(tas[i].values.nbytes)

    rows: list[list[str]] = []
    ours = ServerProcess(tmp, "objstore", url, profile)
    plain = ServerProcess(tmp, "plain", url, profile)
    try:
        readers = {
            "open_cube, direct": (direct, None),
            "objstore serve, pass-through": (http_fetch(
                lambda i: f"{ours.url}/datasets/cube/kerchunk/tas/{i}.0.0"), ours),
            "objstore serve, zarr format 3": (http_fetch(
                lambda i: f"{ours.url}/datasets/cube/zarr/tas/c/{i}/0/0"), ours),
            "plain xpublish.Rest, zarr format 3": (http_fetch(
                lambda i: f"{plain.url}/datasets/cube/zarr/tas/c/{i}/0/0"), plain),
        }
        for n in clients:
            indices = list(range(n_chunks if n > 1 else min(n_chunks, 100)))
            base = None
            for label, (fetch, server) in readers.items():
                mbs, p50, p99 = run_clients(n, indices, fetch)
                base = base or mbs
                rss = f"{server.peak_rss_mb():.0f} MB" if server else "-"
                rows.append([name, str(n), label, f"{mbs:.1f}", f"{p50:.0f}", f"{p99:.0f}",
                             f"{base / mbs:.2f}x", rss])
                print("  " + " | ".join(rows[-1]), flush=True)  # progress, the table at the end
    finally:
        ours.stop()
        plain.stop()
    return rows


def run(quick: bool, delay_ms: float, clients: list[int]) -> list[list[str]]:
    from rigs import make_rig

    import objstore

    shape = QUICK if quick else FULL
    ds = make_cube(shape["n_chunks"], shape["ny"], shape["nx"])
    with_swift = swift_available() is None
    rows: list[list[str]] = []
    with servers(s3=True, swift=with_swift) as sv:
        bucket = f"b{uuid.uuid4().hex[:10]}"
        targets = []
        s3 = make_rig("s3", sv.moto, bucket)
        objstore.write_cube(ds, s3.url("cube.zarr"), s3.profile, encoding=chunk_encoding(ds))
        px = sv.proxy("s3", delay_ms)
        targets.append(("s3 (moto)", s3.url("cube.zarr"), {
            "kind": "s3", "name": "bench", "key": "testing", "secret": "testing",
            "endpoint_url": px.url}))
        if with_swift:
            from urllib.parse import urlsplit

            sw = make_rig("swift", sv.swift, bucket)
            objstore.write_cube(ds, sw.url("cube.zarr"), sw.profile, encoding=chunk_encoding(ds))
            storage_url, token = sv.swift.get_token()
            spx = sv.proxy("swift", delay_ms)
            targets.append(("swift", sw.url("cube.zarr"), {
                "kind": "swift", "name": "bench-swift", "token": token,
                "storage_url": spx.url + urlsplit(storage_url).path}))
        for name, url, profile in targets:
            rows += bench_backend(name, url, profile, sv.tmp, shape["n_chunks"], clients)
    print_table(f"reading {shape['n_chunks']} chunks of 64 KiB through objstore serve, "
                f"{delay_ms:g} ms each way to the store",
                ["store", "clients", "reader", "MB/s", "p50 ms", "p99 ms", "vs direct",
                 "server peak RSS"], rows)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="250 chunks instead of 1000")
    ap.add_argument("--delay-ms", type=float, default=25.0)
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    os.environ.setdefault("OBJSTORE_CONFIG", os.devnull)
    run(args.quick, args.delay_ms, args.clients)
    return 0


if __name__ == "__main__":
    sys.exit(main())
