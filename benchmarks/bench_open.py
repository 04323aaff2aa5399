"""Opening a consolidated cube: requests and time, plain ``xr.open_zarr`` + s3fs vs ``open_cube``.

Through a ``LatencyProxy`` (0 and 25 ms each way) in front of a local moto S3, for a cube with three
index coordinates in zarr format 2 and 3; objstore's first open of a format-3 cube on a machine
(format 2 is asked for first), its opens in a new process (the format is remembered in the user
cache) and ``zarr_format=`` given are shown apart. The floor is 4 requests in
2 round trips: the consolidated metadata, then the three coordinates at once.

    python benchmarks/bench_open.py [--delay-ms 0 25]
"""

# ruff: noqa: B023  (lambdas are timed inside the loop that defines them)
from __future__ import annotations

import argparse
import sys
import uuid
import warnings

from _common import chunk_encoding, make_cube, measure, print_table, servers

warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")


def run(delays: list[float], repeat: int = 3) -> list[list[str]]:
    import xarray as xr

    import objstore
    from objstore import format_memo
    from objstore.profiles import S3Profile

    rows: list[list[str]] = []
    with servers() as sv:
        bucket = f"b{uuid.uuid4().hex[:10]}"
        sv.moto.client().create_bucket(Bucket=bucket)
        ds = make_cube(16)
        for fmt in (2, 3):
            direct = S3Profile(name="direct", key="testing", secret="testing",
                               endpoint_url=sv.moto.endpoint_url)
            objstore.write_cube(ds, f"s3://{bucket}/v{fmt}.zarr", profile=direct,
                                zarr_format=fmt, encoding=chunk_encoding(ds))
        for delay in delays:
            px = sv.proxy("s3", delay)
            opts = {"key": "testing", "secret": "testing", "endpoint_url": px.url}
            prof = S3Profile(name="bench", key="testing", secret="testing", endpoint_url=px.url)
            xr.open_zarr(f"s3://{bucket}/v2.zarr", storage_options=opts)  # warm-up
            objstore.open_cube(f"s3://{bucket}/v2.zarr", profile=prof)
            for fmt in (2, 3):
                url = f"s3://{bucket}/v{fmt}.zarr"
                plain = measure(lambda: xr.open_zarr(url, storage_options=opts), px,
                                repeat=repeat)
                cases = [("open_cube, first open on this machine", {},
                          lambda: format_memo.clear(disk=True))]
                if fmt == 3:
                    cases += [("open_cube, a new process (format in the user cache)", {},
                               lambda: format_memo.clear()),
                              ("open_cube(zarr_format=3), first open on this machine",
                               {"zarr_format": 3}, lambda: format_memo.clear(disk=True))]
                for label, kw, setup in cases:
                    m = measure(lambda: objstore.open_cube(url, profile=prof, **kw), px,
                                repeat=repeat, setup=setup)
                    rows.append([f"{delay:g} ms", f"format {fmt}", label,
                                 f"{plain.seconds:.2f} s", str(plain.requests),
                                 f"{m.seconds:.2f} s", str(m.requests),
                                 f"{plain.requests / max(1, m.requests or 1):.1f}x"])
    print_table("open a consolidated cube (3 index coordinates): xr.open_zarr + s3fs vs "
                "objstore.open_cube",
                ["delay", "cube", "objstore call", "xr.open_zarr", "requests", "open_cube",
                 "requests", "fewer requests"], rows)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--delay-ms", type=float, nargs="+", default=[0.0, 25.0])
    ap.add_argument("--quick", action="store_true", help="(accepted for bench_all; no effect)")
    args = ap.parse_args(argv)
    run(args.delay_ms)
    return 0


if __name__ == "__main__":
    sys.exit(main())
