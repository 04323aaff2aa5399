"""Every benchmark in one run: start-up, open, then read/write/publish (S3 and Swift).

    python benchmarks/bench_all.py                     # 0 and 25 ms, 1000 chunks (a few minutes)
    python benchmarks/bench_all.py --delay-ms 25 --quick

Each part starts its own servers (moto, Swift) with ``tests/servers``; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import sys
import time

import bench_import
import bench_io
import bench_open


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--delay-ms", type=float, nargs="+", default=[0.0, 25.0])
    ap.add_argument("--quick", action="store_true", help="250 chunks, fewer runs")
    ap.add_argument("--backends", nargs="+", default=["s3", "swift"], choices=["s3", "swift"])
    ap.add_argument("--skip-slow", action="store_true", help="see bench_io.py --help")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    bench_import.main(["--quick"] if args.quick else [])
    bench_open.main(["--delay-ms", *map(str, args.delay_ms)])
    io_args = ["--delay-ms", *map(str, args.delay_ms), "--backends", *args.backends]
    io_args += ["--quick"] if args.quick else []
    io_args += ["--skip-slow"] if args.skip_slow else []
    bench_io.main(io_args)
    print(f"\nbench_all: {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
