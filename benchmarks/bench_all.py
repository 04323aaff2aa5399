"""Every benchmark in one run: start-up, open, read/write/publish (S3, Swift), Azure and GCS,
the cold open; big chunks and many objects with ``--big`` and ``--scale``.

    python benchmarks/bench_all.py                     # 0 and 25 ms, 1000 chunks (a few minutes)
    python benchmarks/bench_all.py --delay-ms 25 --quick --big --scale

Each part starts its own servers (moto, Swift, Azurite, the GCS emulator) with ``tests/servers``;
see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import time

import bench_big
import bench_cloud
import bench_coldopen
import bench_import
import bench_io
import bench_open
import bench_scale
from _common import exit_quietly

IO_BACKENDS = ("s3", "swift")  # bench_io.py
CLOUD_BACKENDS = ("azure", "gcs")  # bench_cloud.py


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--delay-ms", type=float, nargs="+", default=[0.0, 25.0])
    ap.add_argument("--quick", action="store_true", help="250 chunks, fewer runs")
    ap.add_argument("--backends", nargs="+", default=[*IO_BACKENDS, *CLOUD_BACKENDS],
                    choices=[*IO_BACKENDS, *CLOUD_BACKENDS])
    ap.add_argument("--skip-slow", action="store_true", help="see bench_io.py --help")
    ap.add_argument("--big", action="store_true", help="also bench_big.py (long at full size)")
    ap.add_argument("--scale", action="store_true", help="also bench_scale.py (long at full size)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    bench_import.main(["--quick"] if args.quick else [])
    bench_open.main(["--delay-ms", *map(str, args.delay_ms)])
    common = ["--delay-ms", *map(str, args.delay_ms)]
    common += ["--quick"] if args.quick else []
    common += ["--skip-slow"] if args.skip_slow else []
    if io := [b for b in args.backends if b in IO_BACKENDS]:
        bench_io.main([*common, "--backends", *io])
    if cloud := [b for b in args.backends if b in CLOUD_BACKENDS]:
        bench_cloud.main([*common, "--backends", *cloud])
    delays = ["--delay-ms", *map(str, args.delay_ms)]
    quick = ["--quick"] if args.quick else []
    bench_coldopen.main([*delays, *quick, "--backends", *args.backends])
    if args.big:
        bench_big.main([*delays, *quick, "--backends", *args.backends])
    if args.scale:
        bench_scale.main([*delays, *quick, "--backends",
                          *[b for b in args.backends if b in IO_BACKENDS]])
    print(f"\nbench_all: {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    exit_quietly(main())
