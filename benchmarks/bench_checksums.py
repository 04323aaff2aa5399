"""What objstore's end-to-end checksums cost: CPU seconds (``getrusage`` of this process: the
servers and the proxy run in other processes) and wall time of ``write_cube`` and a full read of
one cube, with a profile's ``checksums`` on and off, on S3 (botocore's CRC32) and Swift (MD5 as
ETag); and what MD5 and CRC32 hash per second on this machine.

    python benchmarks/bench_checksums.py                 # 64 chunks of 1 MiB, 3 runs each
    python benchmarks/bench_checksums.py --chunks 16 --repeat 1

Chunks are stored uncompressed, so that the difference is the checksums' and not the codec's.
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import statistics
import time
import warnings
import zlib
from collections.abc import Callable
from typing import Any

from _common import chunk_encoding, exit_quietly, make_cube, servers, swift_available
from _targets import make_spec, profile, url

MiB = 2**20


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _timed(fn: Callable[[], Any]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of ``fn()``."""
    c0, t0 = _cpu(), time.perf_counter()
    fn()
    return _cpu() - c0, time.perf_counter() - t0


def hash_rates(size: int = 64 * MiB) -> dict[str, float]:
    """MiB/s of one core for each checksum objstore's libraries compute."""
    data = bytes(size)
    out = {"md5 (hashlib)": lambda: hashlib.md5(data, usedforsecurity=False).digest(),
           "crc32 (zlib)": lambda: zlib.crc32(data)}
    try:
        from awscrt import checksums as crt  # botocore's CRC32 when awscrt is installed

        out["crc32 (awscrt)"] = lambda: crt.crc32(data)
    except ImportError:
        pass
    return {name: size / MiB / min(_timed(fn)[1] for _ in range(3)) for name, fn in out.items()}


def run(sv: Any, backend: str, n_chunks: int, repeat: int) -> dict[tuple[bool, str], list]:
    import objstore

    spec = make_spec(sv, backend, 0.0)
    ds = make_cube(n_chunks, 512, 512)  # float32: 1 MiB chunks
    encoding = {"tas": {**chunk_encoding(ds)["tas"], "compressors": None}}
    results: dict[tuple[bool, str], list] = {}
    for i in range(repeat + 1):  # the first round warms up every client and is not kept
        for checks in (True, False) if i % 2 else (False, True):  # alternate: load drifts
            prof = profile(spec).model_copy(update={"checksums": checks})
            target = url(spec, f"cube-{checks}.zarr")
            write = _timed(lambda t=target, p=prof: objstore.write_cube(
                ds, t, p, mode="w", encoding=encoding))
            read = _timed(lambda t=target, p=prof: objstore.open_cube(t, p).load())
            if i:
                results.setdefault((checks, "write"), []).append(write)
                results.setdefault((checks, "read"), []).append(read)
    return results


def report(backend: str, n_chunks: int, results: dict[tuple[bool, str], list]) -> None:
    print(f"\n{backend}: write_cube + full read, {n_chunks} chunks of 1 MiB (median of "
          f"{len(next(iter(results.values())))})")
    print(f"  {'':6} {'checksums on':>22} {'checksums off':>22} {'CPU saved':>10}")
    for what in ("write", "read"):
        on = [statistics.median(x) for x in zip(*results[(True, what)], strict=True)]
        off = [statistics.median(x) for x in zip(*results[(False, what)], strict=True)]
        print(f"  {what:6} {on[0]:8.2f} s CPU {on[1]:6.2f} s wall "
              f"{off[0]:8.2f} s CPU {off[1]:6.2f} s wall {1 - off[0] / on[0]:9.0%}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chunks", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--backends", nargs="+", default=["s3", "swift"], choices=["s3", "swift"])
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")  # the emulators' not-atomic warnings
    print("one core hashes, MiB/s:")
    for name, rate in hash_rates().items():
        print(f"  {name:16} {rate:8.0f}")
    backends = list(args.backends)
    if "swift" in backends and (why := swift_available()):
        print(f"swift skipped: {why}")
        backends.remove("swift")
    with servers(s3="s3" in backends, swift="swift" in backends) as sv:
        for backend in backends:
            report(backend, args.chunks, run(sv, backend, args.chunks, args.repeat))
    return 0


if __name__ == "__main__":
    exit_quietly(main())
