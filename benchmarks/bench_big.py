"""Big chunks: throughput and peak memory of writing and reading a cube of 8 MiB and 64 MiB chunks.

Two cubes, one float32 variable, no compressor (stored bytes = array bytes = what the floor
moves): 128 chunks of 8 MiB (1 GiB) and 16 chunks of 64 MiB (1 GiB); ``--quick``: 16 x 8 MiB
and 2 x 64 MiB (128 MiB each). On S3 (moto), Swift, Azure (Azurite) and GCS (the GCS emulator),
through the latency proxy at 0 and 25 ms each way, each client writes its own cube and reads it
back, each in a fresh child process (``_big_child.py``), so that its peak RSS is its own, timed
after a warm-up on a 1-chunk cube (imports and clients are ``bench_coldopen.py``'s business):

* floor: ``floor.py``'s raw aiohttp client, 64 in flight, PUTs and GETs of the same bytes;
* plain: xarray + zarr 3 + s3fs / adlfs / gcsfs, defaults (none on Swift);
* zarr+obstore: xarray on zarr's ``ObjectStore`` over obstore (S3 and Azure only);
* objstore: ``write_cube`` and ``open_cube(...).load()``, its default engine per backend;
* stack (no I/O): plain's ``to_zarr`` and ``xr.open_zarr(...).load()`` on zarr's in-memory
  ``MemoryStore``: what xarray + zarr + dask cost alone (run once per shape, shown in every table);
* floor beside stack: the two at the same moment in two processes, the longer time: on a machine
  whose cores the server and the proxy share, the best any xarray client can reach;
* objstore, checksums off: a profile's ``checksums = false`` (what the integrity checks cost).

The best any xarray reader or writer can do is max(network floor, stack alone): each row's time
is shown over the floor's and over that maximum. For each it prints MB/s, seconds, requests
(counted by the proxy), time / floor's time, time / max(floor, stack), and
memory: peak RSS, what the measured part added (peak minus the RSS after imports and set-up,
minus the cube itself for a ``.load()``), and beside it the bound the issue asks for: (requests in
flight x chunk size) + 64 MiB, plus what the stack alone added for the same operation (dask's
``.load()`` holds every chunk and their concatenation, a second cube, whoever reads). objstore's
writes count a chunk waiting for a free send in its writing thread as in flight. The container is emptied before each client, so every client writes
into the same (empty) server state.

    python benchmarks/bench_big.py                                  # full: 1 GiB cubes, slow
    python benchmarks/bench_big.py --quick --delay-ms 0 --backends s3
"""

from __future__ import annotations

import argparse
import threading
import time
from typing import Any

import _targets
from _common import exit_quietly, print_table, servers, swift_available
from _proc import run_child

MIB = 2**20
CONSTANT_MIB = 64  # the constant of the memory bound: buffers, the event loop, the zarr metadata
#: (chunks, ny, nx): float32, so 8 MiB = 1024 x 2048 and 64 MiB = 4096 x 4096
FULL = [(128, 1024, 2048), (16, 4096, 4096)]
QUICK = [(16, 1024, 2048), (2, 4096, 4096)]
CLIENTS = ("floor", "stack", "beside", "plain", "peer", "objstore", "unchecked")
NAMES = {"stack": "stack (no I/O)", "beside": "floor beside stack",
         "unchecked": "objstore, checksums off"}


def clients(backend: str) -> list[str]:
    out = ["floor", "beside"]
    if backend != "swift":
        out.append("plain")
    if backend in _targets.PEER_BACKENDS:
        out.append("peer")
    return [*out, "objstore", "unchecked"]


def one(sv: Any, spec: dict[str, Any], client: str, n: int, ny: int, nx: int,
        ) -> dict[str, dict[str, Any]]:
    """``client`` writes its cube, then reads it back; each a child process."""
    if client == "stack":  # no server involved
        return {op: {**run_child("_big_child.py", {
            "spec": spec, "client": client, "op": op, "key": "stack.zarr", "n": n, "ny": ny,
            "nx": nx}), "requests": 0} for op in ("write", "read")}
    _targets.empty(sv, spec)
    px = sv.proxy(spec["backend"], spec["delay_ms"])
    if client == "beside":
        return _beside(spec, px, n, ny, nx)
    out = {}
    for op in ("write", "read"):
        r = run_child("_big_child.py", {"spec": spec, "client": client, "op": op,
                                        "key": f"{client}.zarr", "n": n, "ny": ny, "nx": nx},
                      on_ready=px.reset)
        r["requests"] = px.counts().get("total", 0)
        out[op] = r
        if "error" in r:
            break
    return out


def _beside(spec: dict[str, Any], px: Any, n: int, ny: int, nx: int
            ) -> dict[str, dict[str, Any]]:
    """The floor and the stack at the same moment, in two processes: how long moving the bytes
    takes while xarray + zarr + dask do their own work beside it on the same cores (the server
    and the proxy run here too). max(floor, stack) assumes the two never compete; on this
    machine they do, and this row is what any xarray client could reach at best."""
    out = {}
    for op in ("write", "read"):
        both = threading.Barrier(2)
        res: dict[str, dict[str, Any]] = {}

        def run(client: str, op: str = op, both: threading.Barrier = both,
                res: dict[str, dict[str, Any]] = res) -> None:
            def go() -> None:
                both.wait()
                if client == "floor":
                    px.reset()
            res[client] = run_child("_big_child.py", {
                "spec": spec, "client": client, "op": op, "key": f"beside-{client}.zarr",
                "n": n, "ny": ny, "nx": nx}, on_ready=go)

        threads = [threading.Thread(target=run, args=(c,)) for c in ("floor", "stack")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        fl, st = res["floor"], res["stack"]
        if "error" in fl or "error" in st:
            out[op] = fl if "error" in fl else st
            break
        out[op] = {**fl, "seconds": max(fl["seconds"], st["seconds"]),
                   "requests": px.counts().get("total", 0)}
    return out


def _seconds(r: dict[str, Any] | None) -> float:
    return float(r["seconds"]) if r and r.get("seconds") else 0.0


def _cell(r: dict[str, Any] | None, floor: dict[str, Any] | None,
          stack: dict[str, Any] | None) -> list[str]:
    """MB/s (s, requests), x floor, x max(floor, stack), peak RSS, added / bound."""
    if r is None:
        return ["-", "-", "-", "-", "-"]
    if "error" in r:
        return [f"failed: {r['error'][:60]}", "-", "-", "-", "-"]
    mbs = r["bytes"] / 1e6 / r["seconds"]
    ratio = f"{r['seconds'] / _seconds(floor):.2f}x" if _seconds(floor) else "-"
    best = max(_seconds(floor), _seconds(stack))
    over_best = f"{r['seconds'] / best:.2f}x" if best else "-"
    added = _added(r)
    chunk_mib = r["bytes"] / MIB / r["n"] if r.get("n") else 0
    own = round(_added(stack)) if stack and stack is not r and "error" not in stack else 0
    bound = own + r["in_flight"] * chunk_mib + CONSTANT_MIB
    verdict = "ok" if added <= bound else "OVER"
    stack_part = f"{own}+" if own else ""
    return [f"{mbs:7.1f} MB/s ({r['seconds']:.2f} s, {r['requests']} req)", ratio, over_best,
            f"{r['peak_rss_mib']:.0f} MiB",
            f"{added:.0f} / {stack_part}{r['in_flight']}x{chunk_mib:.0f}+{CONSTANT_MIB} = "
            f"{bound:.0f} MiB {verdict}"]


def _added(r: dict[str, Any]) -> float:
    """What the measured part added to the RSS, the cube a ``.load()`` returns not counted."""
    return float(r["peak_rss_mib"] - r["rss_before_mib"] - r["result_mib"])


def table(backend: str, delay: float, n: int, ny: int, nx: int,
          res: dict[str, dict[str, dict[str, Any]]]) -> None:
    chunk = ny * nx * 4
    rows = []
    for op in ("write", "read"):
        fl = res.get("floor", {}).get(op)
        st = res.get("stack", {}).get(op)
        for client in CLIENTS:
            if client not in res:
                continue
            r = res[client].get(op)
            if r is not None:
                r["n"] = n
            rows.append([op, NAMES.get(client, client), *_cell(r, fl, st)])
    print_table(f"{backend}, {delay:g} ms each way, {n} chunks of {chunk / MIB:.0f} MiB "
                f"({n * chunk / MIB:.0f} MiB); memory: peak RSS, and what the measured part "
                f"added (minus the cube a .load() returns) against what the stack alone "
                f"added + (requests in flight x chunk) + {CONSTANT_MIB} MiB",
                ["op", "client", "throughput (time, requests)", "time / floor",
                 "x max(floor, stack)", "peak RSS", "added / bound"], rows)
    for client, ops in res.items():
        for op, r in ops.items():
            if "error" in r:
                print(f"  {client} {op}: {r.get('stderr', r['error'])[-1500:]}")


def profile_objstore(sv: Any, spec: dict[str, Any], n: int, ny: int, nx: int,
                     top: int) -> None:
    """objstore's write and read once more under cProfile: where the time goes."""
    _targets.empty(sv, spec)
    for op in ("write", "read"):
        r = run_child("_big_child.py", {"spec": spec, "client": "objstore", "op": op,
                                        "key": "profiled.zarr", "n": n, "ny": ny, "nx": nx,
                                        "profile": True})
        if "error" in r:
            print(f"\n{spec['backend']}: the profiled {op} failed: {r['error']}")
            return
        rows = [[f"{e[1]:.3f}", f"{e[0]:.3f}", str(e[2]), e[3][-100:]]
                for e in r["top"]["own"] if "_lsprof" not in e[3]][:top]
        print_table(f"{spec['backend']}: objstore {op} of {n} x {ny * nx * 4 / MIB:.0f} MiB under "
                    f"cProfile ({r['seconds']:.2f} s; every Python thread, so waits overlap; no "
                    f"warm-up, so that the threads start under the profiler): "
                    f"top {top} by own time", ["own s", "cumulative s", "calls", "function"],
                    rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--delay-ms", type=float, nargs="+", default=[0.0, 25.0])
    ap.add_argument("--quick", action="store_true", help="128 MiB cubes instead of 1 GiB")
    ap.add_argument("--backends", nargs="+", default=["s3", "swift", "azure", "gcs"],
                    choices=["s3", "swift", "azure", "gcs"])
    ap.add_argument("--shapes", choices=["8", "64", "both"], default="both",
                    help="8 MiB chunks, 64 MiB chunks, or both")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="also profile objstore's write and read of the first shape: top N")
    ap.add_argument("--clients", nargs="+", choices=CLIENTS, default=list(CLIENTS),
                    help="run only these clients (the ratios need floor and stack)")
    args = ap.parse_args(argv)
    shapes = QUICK if args.quick else FULL
    shapes = [s for s, k in zip(shapes, ("8", "64"), strict=True) if args.shapes in (k, "both")]
    backends = list(args.backends)
    if "swift" in backends and (why := swift_available()):
        print(f"skipping Swift: {why}")
        backends.remove("swift")
    for b, why in _targets.NO_PEER.items():
        if b in backends:
            print(f"{b}: no zarr+obstore peer ({why})")
    t0 = time.perf_counter()
    stacks: dict[tuple[int, int, int], dict[str, dict[str, Any]]] = {}
    with servers(s3="s3" in backends, swift="swift" in backends, azure="azure" in backends,
                 gcs="gcs" in backends) as sv:
        for backend in backends:
            for delay in args.delay_ms:
                spec = _targets.make_spec(sv, backend, delay)
                for n, ny, nx in shapes:
                    if (n, ny, nx) not in stacks and "stack" in args.clients:  # every backend's
                        stacks[n, ny, nx] = one(sv, spec, "stack", n, ny, nx)
                    res = {c: one(sv, spec, c, n, ny, nx) for c in clients(backend)
                           if c in args.clients}
                    if (n, ny, nx) in stacks:
                        res["stack"] = stacks[n, ny, nx]
                    table(backend, delay, n, ny, nx, res)
                if args.profile:
                    profile_objstore(sv, spec, *shapes[0], args.profile)
    print(f"\nbench_big: {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    exit_quietly(main())
