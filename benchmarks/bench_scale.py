"""Scale: how objstore's time, requests and memory grow with the number of objects in a cube.

A cube of n chunks of 1 KiB (one float32 variable, no compressor), n = 10,000 and 100,000
(``--quick``: 1,000 and 10,000), on S3 (moto) and Swift (add ``--backends azure gcs`` for the
emulators; they slow down as they fill, see below), through the latency proxy (default 25 ms each
way). Every operation runs in a fresh child process (``_scale_child.py``), timed and counted after
the imports and a warm-up (the same call on a 2-chunk cube: clients and sessions exist, so the
table shows growth, not first-use costs):

* floor: ``floor.py``'s raw client, 64 in flight: n PUTs of 1 KiB, n GETs, and the listing of
  them page by page (S3 ListObjectsV2, 1000 a page; Swift JSON listings, 10,000 a page); with
  ``--ops ... floor_put_after floor_get_after``, n PUTs (new keys) and the same n GETs again after
  objstore's operations, on a server holding what they left (the emulators slow down as they
  fill, so a floor measured first on an emptier one flatters the floor);
* ``write_cube``, ``open_cube(...).load()``, ``fs.find`` (what ``objstore ls -R`` lists);
* ``publish`` of a local zarr folder holding the same cube, ``publish`` again (resume: nothing to
  send), ``transfer.verify`` of the published cube against the folder, ``cp`` of the folder (what
  ``objstore cp`` does).

For each: seconds, requests (counted by the proxy), requests per object, peak RSS, the same
operation's time over the floor's (PUT for uploads, GET for the read, the listing for find, verify
and the resumed publish), and how time grows from the smaller n to the larger (10x objects: a
linear operation shows about 10x).

The emulators: the GCS emulator rewrites the metadata of every stored object on each upload, so
its uploads slow down quadratically; Azurite (in memory) slows down as blobs accumulate. Their
growth ratios say more about them than about a client.

    python benchmarks/bench_scale.py --quick --delay-ms 0
    python benchmarks/bench_scale.py                     # 10^4 and 10^5 objects, 25 ms: long
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path
from typing import Any

import _targets
from _common import exit_quietly, print_table, servers, swift_available
from _proc import run_child

FULL = [10_000, 100_000]
QUICK = [1_000, 10_000]
OPS = ["floor_put", "floor_get", "floor_list", "write", "read", "find", "publish",
       "publish_again", "verify", "cp", "floor_put_after", "floor_get_after"]
#: the floor each operation is compared with
FLOOR_OF = {"write": "floor_put", "read": "floor_get", "find": "floor_list",
            "publish": "floor_put", "publish_again": "floor_list", "verify": "floor_list",
            "cp": "floor_put"}
#: the floor measured again after objstore's operations, on a server as full as they found it
AFTER = {"floor_put": "floor_put_after", "floor_get": "floor_get_after"}
LABELS = {"floor_put": "floor: n PUTs", "floor_get": "floor: n GETs",
          "floor_put_after": "floor: n PUTs, again after the others",
          "floor_get_after": "floor: n GETs, again after the others",
          "floor_list": "floor: list n (pages)", "write": "write_cube",
          "read": "open_cube().load()", "find": "fs.find (ls -R)", "publish": "publish (folder)",
          "publish_again": "publish again (resume, nothing to send)",
          "verify": "verify (published vs folder)", "cp": "cp (folder)"}


def local_cube(root: Path, n: int) -> Path:
    """The local zarr folder that publish and cp send: the same cube as write_cube's."""
    import _scale_child

    out = root / f"local-{n}.zarr"
    if not out.exists():
        _scale_child.cube(n).to_zarr(out, encoding=_scale_child.ENCODING, consolidated=True,
                                     zarr_format=2)
    return out


def run_backend(sv: Any, backend: str, delay: float, sizes: list[int],
                ops: list[str]) -> dict[int, dict[str, dict[str, Any]]]:
    spec = _targets.make_spec(sv, backend, delay)
    px = sv.proxy(backend, delay)
    res: dict[int, dict[str, dict[str, Any]]] = {}
    for n in sizes:
        local = local_cube(sv.tmp, n)
        _targets.empty(sv, spec)  # every size starts from an empty bucket
        res[n] = {}
        for op in ops:
            if op == "floor_list" and backend not in ("s3", "swift"):
                continue
            key = {"write": "written.zarr", "read": "written.zarr", "find": "written.zarr",
                   "cp": "copied.zarr"}.get(op, "published.zarr")
            r = run_child("_scale_child.py", {"spec": spec, "op": op, "n": n, "key": key,
                                              "local": str(local)}, timeout=3600,
                          on_ready=px.reset)
            r["requests"] = px.counts().get("total", 0)
            res[n][op] = r
            print(f"  {backend} {delay:g} ms n={n} {op}: "
                  + (f"{r['seconds']:.2f} s, {r['requests']} req, {r['peak_rss_mib']:.0f} MiB"
                     if "seconds" in r else f"failed: {r['error']}"), flush=True)
    return res


def table(backend: str, delay: float, res: dict[int, dict[str, dict[str, Any]]]) -> None:
    sizes = sorted(res)
    header = ["operation"]
    for n in sizes:
        header += [f"n={n:,}: time (req, req/obj)", "x floor", "peak RSS"]
    header.append(f"time {sizes[-1]:,} / {sizes[0]:,}")
    rows = []
    for op in OPS:
        if not any(op in res[n] for n in sizes):
            continue
        row = [LABELS[op]]
        for n in sizes:
            r = res[n].get(op)
            if r is None or "seconds" not in r:
                row += [f"failed: {r['error'][:50]}" if r else "-", "-", "-"]
                continue
            floors = [res[n].get(f, {}).get("seconds") for f in
                      (FLOOR_OF.get(op, ""), AFTER.get(FLOOR_OF.get(op, ""), ""))]
            ratio = " / ".join(f"{r['seconds'] / s:.2f}x" for s in floors if s) or "-"
            row += [f"{r['seconds']:.2f} s ({r['requests']}, {r['requests'] / n:.3f})", ratio,
                    f"{r['peak_rss_mib']:.0f} (+{r['peak_rss_mib'] - r['rss_before_mib']:.0f})"
                    " MiB"]
        first, last = res[sizes[0]].get(op, {}), res[sizes[-1]].get(op, {})
        row.append(f"{last['seconds'] / first['seconds']:.1f}x"
                   if first.get("seconds") and last.get("seconds") else "-")
        rows.append(row)
    print_table(f"{backend}, {delay:g} ms each way, cubes of n chunks of 1 KiB; time (requests, "
                f"requests per object), time / the floor's (/ the floor's again after the others,"
                f" where run: an emulator slowing as it fills), peak RSS (+ what the measured part "
                f"added), and time growth for "
                f"{sizes[-1] // sizes[0]}x the objects", header, rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--delay-ms", type=float, nargs="+", default=[25.0])
    ap.add_argument("--quick", action="store_true", help="1,000 and 10,000 objects")
    ap.add_argument("--sizes", type=int, nargs="+", default=None, help="object counts to run")
    ap.add_argument("--backends", nargs="+", default=["s3", "swift"],
                    choices=["s3", "swift", "azure", "gcs"])
    ap.add_argument("--ops", nargs="+", default=OPS, choices=OPS)
    args = ap.parse_args(argv)
    sizes = args.sizes or (QUICK if args.quick else FULL)
    backends = list(args.backends)
    if "swift" in backends and (why := swift_available()):
        print(f"skipping Swift: {why}")
        backends.remove("swift")
    if slow := [b for b in backends if b in ("azure", "gcs")]:
        print(f"{' and '.join(slow)}: the emulator slows down as it fills (the GCS emulator "
              "rewrites every object's metadata on each upload; Azurite in memory): read their "
              "growth ratios as the emulator's")
    t0 = time.perf_counter()
    with servers(s3="s3" in backends, swift="swift" in backends, azure="azure" in backends,
                 gcs="gcs" in backends) as sv:
        for backend in backends:
            for delay in args.delay_ms:
                table(backend, delay, run_backend(sv, backend, delay, sizes, args.ops))
        for n in sizes:  # the local folders (the servers' own data goes with the run's tmp)
            shutil.rmtree(sv.tmp / f"local-{n}.zarr", ignore_errors=True)
    print(f"\nbench_scale: {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    exit_quietly(main())
