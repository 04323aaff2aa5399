"""``objstore publish`` against ``swift upload`` and ``rclone copy``, in the same run.

The issue's workload: a local zarr folder of a 1000-chunk cube (64 KiB chunks, about 66 MB),
published to S3 (moto) and to Swift (the all-in-one test server), each behind a request-counting
``LatencyProxy`` that adds 25 ms each way, so every request round trip costs 50 ms as on a WAN.

Every tool runs as the command a user types, in its own process, at its default settings, into a
fresh destination, and is timed wall clock from start to exit (objstore's time includes converting
nothing, consolidating, the listing, uploading, the verification listing and the final metadata):

    objstore publish SRC s3://bucket/name.zarr             (CLI, a TOML profile for the proxy)
    rclone copy SRC remote:bucket/name.zarr                (Debian's rclone, remotes per SERVERS.md)
    swift upload CONTAINER SRC --object-name name.zarr     (python-swiftclient)

Swift tools all use a ready token and the proxy's storage URL (no auth round trips in the timing).
Results: wall time (median of --repeat runs), requests seen by the proxy, MB/s of the source.

    python benchmarks/bench_publish.py                 # full: 1000 chunks, 3 runs each
    python benchmarks/bench_publish.py --quick         # 250 chunks, 1 run
    python benchmarks/bench_publish.py --no-swift      # S3 only
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import (
    FULL,
    QUICK,
    ProxyProcess,
    chunk_encoding,
    make_cube,
    print_table,
    servers,
    swift_available,
)

DELAY_MS = 25.0


@dataclass
class Run:
    tool: str
    backend: str
    seconds: list[float] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    objects: int = 0

    @property
    def wall(self) -> float:
        return statistics.median(self.seconds)


def build_source(root: Path, n_chunks: int, ny: int, nx: int) -> tuple[Path, int, int]:
    ds = make_cube(n_chunks, ny, nx)
    src = root / "cube.zarr"
    ds.to_zarr(src, encoding=chunk_encoding(ds), consolidated=True, zarr_format=2, mode="w")
    files = [p for p in src.rglob("*") if p.is_file()]
    return src, len(files), sum(p.stat().st_size for p in files)


def timed(argv: list[str], env: dict[str, str], proxy: ProxyProcess) -> tuple[float, dict[str, int],
                                                                          str]:
    proxy.reset()
    t0 = time.perf_counter()
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return wall, proxy.counts(), out.stdout


def write_configs(tmp: Path, s3_proxy: ProxyProcess | None, swift_proxy: ProxyProcess | None,
                  swift_storage: str, swift_token: str) -> tuple[Path, Path]:
    """objstore profiles (TOML) and rclone remotes, both pointed at the latency proxies."""
    import tomlkit
    from servers.moto import KEY, SECRET

    profiles: dict[str, Any] = {}
    rclone = []
    if s3_proxy is not None:
        profiles["bench-s3"] = {"backend": "s3", "key": KEY, "secret": SECRET,
                                "endpoint_url": s3_proxy.url, "region": "us-east-1"}
        rclone.append(f"[s3bench]\ntype = s3\nprovider = Other\naccess_key_id = {KEY}\n"
                      f"secret_access_key = {SECRET}\nendpoint = {s3_proxy.url}\n"
                      "force_path_style = true\nregion = us-east-1\n")
    if swift_proxy is not None:
        profiles["bench-swift"] = {"backend": "swift", "storage_url": swift_storage,
                                   "token": swift_token}
        rclone.append(f"[swiftbench]\ntype = swift\nstorage_url = {swift_storage}\n"
                      f"auth_token = {swift_token}\n")
    toml = tmp / "profiles.toml"
    toml.write_bytes(tomlkit.dumps({"profiles": profiles}).encode())
    conf = tmp / "rclone.conf"
    conf.write_text("\n".join(rclone))
    return toml, conf


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="250 chunks, 1 run")
    p.add_argument("--repeat", type=int, default=None, help="runs per tool (default 3, quick 1)")
    p.add_argument("--delay-ms", type=float, default=DELAY_MS, help="one-way delay (default 25)")
    p.add_argument("--no-swift", action="store_true", help="S3 only")
    p.add_argument("--no-s3", action="store_true", help="Swift only")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = p.parse_args(argv)
    size = QUICK if args.quick else FULL
    repeat = args.repeat or (1 if args.quick else 3)
    want_swift = not args.no_swift
    if want_swift and (why := swift_available()):
        print(f"skipping Swift: {why}")
        want_swift = False
    if not shutil.which("rclone"):
        print("rclone not found (apt-get install rclone): its rows are skipped")

    with servers(s3=not args.no_s3, swift=want_swift) as srv:
        src, n_files, n_bytes = build_source(srv.tmp, size["n_chunks"], size["ny"], size["nx"])
        print(f"source: {src} ({n_files} files, {n_bytes / 1e6:.1f} MB); {args.delay_ms:g} ms each "
              f"way; {repeat} run(s) per tool")
        s3_proxy = srv.proxy("s3", args.delay_ms) if srv.moto is not None else None
        swift_proxy = srv.proxy("swift", args.delay_ms) if srv.swift is not None else None
        storage = token = ""
        if srv.swift is not None:
            direct_storage, token = srv.swift.get_token()
            storage = direct_storage.replace(f":{srv.swift.proxy_port}/",
                                             f":{swift_proxy.port}/")  # type: ignore[union-attr]
        toml, rclone_conf = write_configs(srv.tmp, s3_proxy, swift_proxy, storage, token)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AWS_", "OS_", "ST_", "OBJSTORE_"))}
        env["OBJSTORE_CONFIG"] = str(toml)
        env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                             env.get("PYTHONPATH", "")])
        bucket = container = f"bench{uuid.uuid4().hex[:8]}"
        if srv.moto is not None:
            srv.moto.client().create_bucket(Bucket=bucket)
        if srv.swift is not None:
            from objstore.swift import SwiftFileSystem

            SwiftFileSystem(storage_url=direct_storage, token=token,
                            skip_instance_cache=True).mkdir(container)
        objstore_cli = [sys.executable, "-m", "objstore.cli", "publish", str(src)]
        runs: dict[tuple[str, str], Run] = {}

        def add(tool: str, backend: str, proxy: ProxyProcess, argv: list[str]) -> None:
            wall, counts, _ = timed(argv, env, proxy)
            run = runs.setdefault((tool, backend), Run(tool, backend))
            run.seconds.append(wall)
            run.requests.append(counts.get("total", 0))
            run.counts = counts
            print(f"  {backend:5} {tool:28} {wall:7.2f} s  {counts.get('total', 0):5} requests",
                  flush=True)

        for i in range(repeat):
            tag = f"{i}-{uuid.uuid4().hex[:4]}"
            if s3_proxy is not None:
                add("objstore publish", "s3", s3_proxy, objstore_cli + [
                    f"s3://{bucket}/objstore-{tag}.zarr", "--profile", "bench-s3", "--json"])
                if shutil.which("rclone"):
                    add("rclone copy", "s3", s3_proxy, [
                        "rclone", "copy", str(src), f"s3bench:{bucket}/rclone-{tag}.zarr",
                        "--config", str(rclone_conf)])
                add("objstore publish --public", "s3", s3_proxy, objstore_cli + [
                    f"s3://{bucket}/public-{tag}.zarr", "--profile", "bench-s3", "--json",
                    "--public"])
            if swift_proxy is not None:
                add("objstore publish", "swift", swift_proxy, objstore_cli + [
                    f"swift://{container}/objstore-{tag}.zarr", "--profile", "bench-swift",
                    "--json"])
                add("swift upload", "swift", swift_proxy, [
                    "swift", "--os-storage-url", storage, "--os-auth-token", token, "upload",
                    container, str(src), "--object-name", f"swift-{tag}.zarr"])
                if shutil.which("rclone"):
                    add("rclone copy", "swift", swift_proxy, [
                        "rclone", "copy", str(src), f"swiftbench:{container}/rclone-{tag}.zarr",
                        "--config", str(rclone_conf)])
                add("objstore publish --public", "swift", swift_proxy, objstore_cli + [
                    f"swift://{container}/public-{tag}.zarr", "--profile", "bench-swift", "--json",
                    "--public"])

        # every tool really uploaded every file
        _check_counts(srv, bucket, container, n_files, direct_storage if srv.swift else "", token)

    rows, verdicts = [], []
    for backend in ("s3", "swift"):
        mine = runs.get(("objstore publish", backend))
        if mine is None:
            continue
        peers = [r for (tool, b), r in runs.items() if b == backend and not tool.startswith("objstore")]
        for r in [x for (_, b), x in runs.items() if b == backend]:
            rows.append([backend, r.tool, f"{r.wall:.2f}", str(int(statistics.median(r.requests))),
                         f"{n_bytes / 1e6 / r.wall:.1f}",
                         " ".join(f"{k}:{v}" for k, v in sorted(r.counts.items()) if k != "total")])
        if peers:
            best = min(peers, key=lambda r: r.wall)
            ok = mine.wall <= best.wall
            verdicts.append(f"{backend}: objstore publish {mine.wall:.2f} s vs fastest peer "
                            f"{best.tool} {best.wall:.2f} s -> {'OK' if ok else 'SLOWER'} "
                            f"({best.wall / mine.wall:.1f}x)")
    print_table(f"publish {n_files} files ({n_bytes / 1e6:.1f} MB), {args.delay_ms:g} ms each way, "
                f"median of {repeat}", ["backend", "tool", "wall s", "requests", "MB/s",
                                        "requests by method"], rows)
    print()
    for v in verdicts:
        print(v)
    if args.json:
        args.json.write_text(json.dumps({
            "files": n_files, "bytes": n_bytes, "delay_ms": args.delay_ms, "repeat": repeat,
            "runs": [{"tool": r.tool, "backend": r.backend, "seconds": r.seconds,
                      "requests": r.requests, "counts": r.counts} for r in runs.values()],
        }, indent=2))
    return 0 if all("OK" in v for v in verdicts) else 1


def _check_counts(srv: Any, bucket: str, container: str, n_files: int, storage: str,
                  token: str) -> None:
    """Each destination holds exactly the source's files (straight to the servers, no proxy)."""
    prefixes: dict[str, int] = {}
    if srv.moto is not None:
        paginator = srv.moto.client().get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket):
            for o in page.get("Contents", []):
                top = "s3:" + o["Key"].split("/", 1)[0]
                prefixes[top] = prefixes.get(top, 0) + 1
    if srv.swift is not None:
        from objstore.swift import SwiftFileSystem

        fs = SwiftFileSystem(storage_url=storage, token=token, skip_instance_cache=True)
        for name in fs.find(container):
            top = "swift:" + name.split("/", 2)[1]
            prefixes[top] = prefixes.get(top, 0) + 1
    wrong = {k: v for k, v in prefixes.items() if v != n_files}
    if wrong:
        raise RuntimeError(f"destinations without exactly {n_files} objects: {wrong}")


if __name__ == "__main__":
    sys.exit(main())
