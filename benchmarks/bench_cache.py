"""The local chunk cache (``open_cube(url, cache=...)``, objstore/cache.py): a full read of the
same cube without it, with an empty cache (the first read fills it) and with a full one (the
second read), each in a fresh process, through the latency proxy; time and requests.

    python benchmarks/bench_cache.py --delay-ms 25 --chunks 256
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from typing import Any

import _targets
from _common import exit_quietly, make_cube, print_table, servers, swift_available
from _proc import child_runs

KEY = "cube.zarr"


def read(spec: dict[str, Any], px: Any, folder: str | None, repeat: int) -> dict[str, Any]:
    runs = child_runs("_cache_child.py", {"spec": spec, "key": KEY, "folder": folder}, px,
                      repeat, timeout=600)
    if isinstance(runs, dict):
        return runs
    return {"seconds": statistics.median(r["seconds"] for r in runs),
            "requests": runs[-1]["requests"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--delay-ms", type=float, default=25.0)
    ap.add_argument("--chunks", type=int, default=256, help="chunks of 64 KiB")
    ap.add_argument("--backends", nargs="+", default=["s3", "swift", "azure", "gcs"],
                    choices=["s3", "swift", "azure", "gcs"])
    ap.add_argument("--repeat", type=int, default=3, help="fresh processes per read (median)")
    args = ap.parse_args(argv)
    backends = list(args.backends)
    if "swift" in backends and (why := swift_available()):
        print(f"skipping Swift: {why}")
        backends.remove("swift")
    t0 = time.perf_counter()
    rows = []
    with servers(s3="s3" in backends, swift="swift" in backends, azure="azure" in backends,
                 gcs="gcs" in backends) as sv:
        import objstore

        for backend in backends:
            spec = _targets.make_spec(sv, backend, args.delay_ms)
            objstore.write_cube(make_cube(args.chunks), _targets.url(spec, KEY),
                                profile=_targets.profile(spec), mode="w",
                                encoding={"tas": {"chunks": (1, 128, 128)}})
            px = sv.proxy(backend, args.delay_ms)
            folder = tempfile.mkdtemp(prefix="objstore-cache-")
            try:
                res = {"no cache": read(spec, px, None, args.repeat),
                       "first read (fills the cache)": read(spec, px, folder, 1),
                       "second read (from the cache)": read(spec, px, folder, args.repeat)}
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            base = res["no cache"].get("seconds")
            for name, r in res.items():
                if "error" in r:
                    rows.append([backend, name, f"failed: {r['error'][:70]}", "-", "-"])
                    continue
                rows.append([backend, name, f"{r['seconds']:.3f} s", str(r["requests"]),
                             f"{r['seconds'] / base:.2f}x" if base else "-"])
    print_table(f"full read of {args.chunks} chunks of 64 KiB at {args.delay_ms:g} ms each way, "
                "fresh processes (median); x the read without cache",
                ["backend", "read", "time", "requests", "x no cache"], rows)
    print(f"\nbench_cache: {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    exit_quietly(main())
