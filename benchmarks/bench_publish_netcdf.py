"""``publish`` of a NetCDF file, streamed (no local zarr copy), against its two halves run alone.

The issue's target: publishing a NetCDF takes at most 1.2x max(conversion alone, upload alone),
not their sum (what converting to a local zarr folder and then uploading it costs). Workload: the
benchmark cube (``_common.make_cube``: float32 (time, lat, lon), 64 KiB a time step) as an
uncompressed NetCDF file, published with ``chunks="time=1"`` through a ``LatencyProxy`` adding
``--delay-ms`` each way:

* conversion alone: the same source opened and written by xarray to a local zarr folder;
* upload alone: ``objstore.publish`` of that folder (nothing to convert);
* publish: ``objstore.publish`` of the NetCDF file, written straight to the store.

Every operation runs in this process after a warm-up publish (clients built, imports done), into
a fresh destination; median of ``--repeat`` runs, the three interleaved. Also printed: the local
disk the streamed publish used (none beyond the source; the staged way held the whole cube).

    python benchmarks/bench_publish_netcdf.py --quick            # 250 chunks, S3 and Swift
    python benchmarks/bench_publish_netcdf.py --backends s3,gcs   # 1000 chunks
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from _common import FULL, QUICK, exit_quietly, make_cube, print_table, servers, swift_available

DELAY_MS = 25.0


def _profile(srv: Any, backend: str, proxy_url: str) -> Any:
    """An objstore profile for ``backend`` that reaches its server through the proxy."""
    from rigs import make_rig, profile_via

    server = {"s3": srv.moto, "swift": srv.swift, "azure": srv.azurite, "gcs": srv.gcs}[backend]
    rig = make_rig(backend, server, f"bench{uuid.uuid4().hex[:8]}")
    return rig, profile_via(rig, proxy_url)


def _timed(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="250 chunks")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--delay-ms", type=float, default=DELAY_MS)
    p.add_argument("--backends", default="s3,swift", help="comma-separated: s3,swift,azure,gcs")
    args = p.parse_args(argv)
    size = QUICK if args.quick else FULL
    wanted = [b for b in args.backends.split(",") if b]
    if "swift" in wanted and (why := swift_available()):
        print(f"skipping Swift: {why}")
        wanted.remove("swift")

    import xarray as xr

    import objstore
    from objstore.publish_stage import open_source

    rows: list[list[str]] = []
    verdicts: list[str] = []
    with servers(s3="s3" in wanted, swift="swift" in wanted, azure="azure" in wanted,
                 gcs="gcs" in wanted) as srv:
        nc = srv.tmp / "cube.nc"
        make_cube(size["n_chunks"], size["ny"], size["nx"]).to_netcdf(nc)
        print(f"source: {nc} ({nc.stat().st_size / 1e6:.1f} MB, {size['n_chunks']} time steps); "
              f"{args.delay_ms:g} ms each way")

        def convert(out: Path) -> None:
            with open_source(str(nc), {"time": 1}, lambda _: None) as ds:
                ds.to_zarr(out, mode="w-", consolidated=True, zarr_format=2)

        folder = srv.tmp / "converted.zarr"
        convert(folder)
        staged_bytes = _folder_bytes(folder)

        for backend in wanted:
            proxy = srv.proxy(backend, args.delay_ms)
            rig, prof = _profile(srv, backend, proxy.url)
            objstore.publish(make_cube(4, 8, 8), rig.url("warm.zarr"), prof)  # clients, imports
            times: dict[str, list[float]] = {"convert": [], "upload": [], "publish": []}
            for i in range(args.repeat):  # interleaved, so that the machine's load hits all three
                scratch = Path(tempfile.mkdtemp(dir=srv.tmp))
                times["convert"].append(_timed(lambda s=scratch: convert(s / "c.zarr")))
                shutil.rmtree(scratch)
                runs = {
                    "upload": lambda r=rig, p=prof: objstore.publish(
                        folder, r.url(f"up-{uuid.uuid4().hex[:6]}.zarr"), p),
                    "publish": lambda r=rig, p=prof: objstore.publish(
                        nc, r.url(f"nc-{uuid.uuid4().hex[:6]}.zarr"), p, chunks="time=1"),
                }
                # alternate which goes first: emulators slow down as their buckets fill
                for name in (["upload", "publish"] if i % 2 == 0 else ["publish", "upload"]):
                    times[name].append(_timed(runs[name]))
            t_convert, t_upload, t_publish = (statistics.median(times[k])
                                              for k in ("convert", "upload", "publish"))
            bound = max(t_convert, t_upload)
            rows.append([backend, f"{t_convert:.2f}", f"{t_upload:.2f}",
                         f"{t_convert + t_upload:.2f}", f"{t_publish:.2f}",
                         f"{t_publish / bound:.2f}x"])
            verdicts.append(f"{backend}: publish {t_publish:.2f} s vs max(conversion, upload) "
                            f"{bound:.2f} s -> {'OK' if t_publish <= 1.2 * bound else 'SLOWER'}")
            url = rig.url("check.zarr")
            objstore.publish(nc, url, prof, chunks="time=1")
            xr.testing.assert_identical(objstore.open_cube(url, prof).load(),
                                        xr.open_dataset(nc).load())

    print_table(f"publish a NetCDF ({size['n_chunks']} chunks of 64 KiB), {args.delay_ms:g} ms "
                f"each way, median of {args.repeat}",
                ["backend", "conversion alone s", "upload alone s", "staged (sum) s",
                 "streamed publish s", "x max(conv, upload)"], rows)
    print(f"\nlocal disk: the staged way held the converted cube ({staged_bytes / 1e6:.1f} MB); "
          "the streamed publish writes none")
    for v in verdicts:
        print(v)
    exit_quietly(0 if all("OK" in v for v in verdicts) else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
