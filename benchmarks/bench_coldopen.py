"""Cold open: ``open_cube`` in a fresh process against the floor's open and the peer's, and what
costs the difference.

A consolidated cube (zarr format 2, three index coordinates) on S3 (moto), Swift, Azure (Azurite)
and GCS (the GCS emulator), through the latency proxy at 0 and 25 ms each way. Each open runs in
a fresh child process (``_coldopen_child.py``) with xarray, zarr, dask and the client's own
top-level imports done before the clock; the median of ``--repeat`` processes is printed with
the requests the proxy saw:

* floor: the raw client's open, 4 GETs in 2 round trips (the consolidated metadata, then the three
  coordinate chunks at once) with a new aiohttp session;
* plain: ``xr.open_zarr(url, storage_options=...)`` (s3fs, adlfs, gcsfs; none on Swift);
* zarr+obstore: ``xr.open_zarr(ObjectStore(S3Store / AzureStore))`` (S3 and Azure);
* objstore: ``open_cube(url, profile=...)``, its default engine; on S3 also ``objstore-auto``,
  the profile with ``engine = "auto"`` (obstore: no s3fs/botocore to import and build).

Then, per backend, where objstore's time goes: one more cold open under cProfile, summed into
the costs the issue names (imports done during the open, client construction, botocore's model
loading, the credential chain, the event loop, waiting on the network; they nest, so they do not
add up), its top functions by cumulative and by own time, and the modules the open imported
(``-X importtime``, the slowest first).

    python benchmarks/bench_coldopen.py --delay-ms 0 --backends s3
    python benchmarks/bench_coldopen.py                     # 0 and 25 ms, every backend
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from typing import Any

import _targets
from _common import exit_quietly, make_cube, print_table, servers, swift_available
from _proc import child_runs, run_child

KEY = "cube.zarr"
#: name -> regular expression over cProfile's "file:line(function)" entries; each category's time
#: is the largest cumulative time among its matches (the outermost call)
COSTS = {
    "imports during the open": r"<frozen importlib\._bootstrap>:\d+\(_find_and_load\)",
    "profile resolution (objstore.resolve)": r"objstore/api\.py:\d+\(resolve\)",
    "client construction (botocore/aiobotocore create_client)":
        r"(aio)?botocore/session\.py:\d+\(_?create_client\)",
    "botocore model loading (loaders.load_service_model)":
        r"botocore/loaders\.py:\d+\(load_service_model\)",
    "botocore JSON/model files read (loaders.load_data)": r"botocore/loaders\.py:\d+\(load_data\)",
    "credential chain (botocore credentials)":
        r"botocore/(credentials\.py:\d+\(load_credentials|session\.py:\d+\(get_credentials)\)",
    "filesystem construction (fsspec instance)": r"fsspec/spec\.py:\d+\(__call__\)",
    "TLS context (certificates loaded, even for http://)":
        r"load_verify_locations|ssl\.py:\d+\(create_default_context\)",
    "event loop / thread start (fsspec's loop thread, asyncio.run)":
        r"(fsspec/asyn\.py:\d+\(get_loop\)|asyncio/runners\.py:\d+\(run\)"
        r"|threading\.py:\d+\(start\))",
    "waiting on locks and queues, any thread (the network, idle workers)":
        r"(~:0\(<method 'acquire' of '_thread\.lock' objects>\)"
        r"|~:0\(<method 'get' of '_queue\.SimpleQueue' objects>\))",
}


def put_cube(spec: dict[str, Any]) -> None:
    """The cube, written through the proxy (once per spec), outside any timing."""
    import objstore

    ds = make_cube(16)
    objstore.write_cube(ds, _targets.url(spec, KEY), profile=_targets.profile(spec), mode="w",
                        encoding={"tas": {"chunks": (1, 128, 128)}})


def clients(backend: str) -> list[str]:
    return ["floor", *(["plain"] if backend != "swift" else []),
            *(["peer"] if backend in _targets.PEER_BACKENDS else []), "objstore",
            *(["objstore-auto"] if backend == "s3" else [])]


def cold(spec: dict[str, Any], px: Any, client: str, repeat: int) -> dict[str, Any]:
    runs = child_runs("_coldopen_child.py", {"spec": spec, "client": client, "key": KEY}, px,
                      repeat, timeout=300)
    if isinstance(runs, dict):
        return runs
    return {"seconds": statistics.median(r["seconds"] for r in runs),
            "import_seconds": statistics.median(r.get("import_seconds", 0.0) for r in runs),
            "requests": runs[-1]["requests"], "imported": runs[-1]["imported"],
            "new_modules": runs[-1]["new_modules"]}


def breakdown(spec: dict[str, Any], backend: str, top: int) -> None:
    """objstore's cold open under cProfile and -X importtime: the costs, the top functions."""
    r = run_child("_coldopen_child.py", {"spec": spec, "client": "objstore", "key": KEY,
                                         "profile": True}, timeout=300)
    if "error" in r:
        print(f"\n{backend}: the profiled open failed: {r['error']}")
        return
    total = r["seconds"]
    rows = []
    for name, pattern in COSTS.items():
        rx = re.compile(pattern)
        hits = [e for e in r["top"]["all"] if rx.search(e[3])]
        best = max((e[0] for e in hits), default=0.0)
        calls = sum(e[2] for e in hits if e[0] == best) if hits else 0
        rows.append([name, f"{best:.3f} s", f"{100 * best / total:.0f}%", str(calls)])
    print_table(f"{backend}: where a cold open_cube's {total:.2f} s go (one process under "
                f"cProfile, which slows it; the costs nest)", ["cost", "cumulative", "share",
                                                               "calls"], rows)
    skip = re.compile(r"(_coldopen_child|_lsprof|cProfile|<lambda>)")
    cum = [e for e in r["top"]["cumulative"] if not skip.search(e[3])][:top]
    print_table(f"{backend}: top {top} by cumulative time", ["cumulative", "own", "calls",
                                                             "function"],
                [[f"{e[0]:.3f}", f"{e[1]:.3f}", str(e[2]), e[3][-110:]] for e in cum])
    own = [e for e in r["top"]["own"] if not skip.search(e[3])][:top]
    print_table(f"{backend}: top {top} by own time", ["own", "cumulative", "calls", "function"],
                [[f"{e[1]:.3f}", f"{e[0]:.3f}", str(e[2]), e[3][-110:]] for e in own])
    imports(spec, backend, top)


def imports(spec: dict[str, Any], backend: str, top: int) -> None:
    """The modules a cold open imports, from ``-X importtime`` between the clock marks."""
    r = run_child("_coldopen_child.py", {"spec": spec, "client": "objstore", "key": KEY},
                  python_args=["-X", "importtime"], keep_stderr=True, timeout=300)
    if "error" in r:
        print(f"\n{backend}: the -X importtime open failed: {r['error']}")
        return
    parts = r["stderr"].split("--clock--")
    inside = parts[1] if len(parts) >= 3 else ""
    mods: list[tuple[float, str, list[tuple[float, str]]]] = []
    children: list[tuple[float, str]] = []
    for line in inside.splitlines():  # children come before the module that imported them
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if not m:
            continue
        depth, entry = len(m.group(3)) // 2, (int(m.group(2)) / 1e6, m.group(4))
        if depth == 0:  # imported by the open itself
            mods.append((*entry, sorted(children, reverse=True)))
            children = []
        else:
            children.append(entry)
    total = sum(m[0] for m in mods)
    rows = []
    for sec, name, kids in sorted(mods, reverse=True)[:top]:
        rows.append([f"{sec:.3f} s", name])
        rows += [[f"  {k:.3f} s", f"  {kid}"] for k, kid in kids[:5] if k >= 0.01]
    print_table(f"{backend}: modules a cold open_cube imports ({len(mods)} top-level, "
                f"{total:.2f} s of {r['seconds']:.2f} s, -X importtime; indented: the slowest "
                "modules each pulled in, at any depth, so they nest)", ["cumulative", "module"], rows)


def precompile() -> None:
    """Byte-compile objstore, as installing a package does: a worktree run with
    ``PYTHONDONTWRITEBYTECODE`` would otherwise compile objstore's modules in every open."""
    import compileall
    from pathlib import Path

    import objstore

    compileall.compile_dir(str(Path(objstore.__file__).parent), quiet=1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--delay-ms", type=float, nargs="+", default=[0.0, 25.0])
    ap.add_argument("--backends", nargs="+", default=["s3", "swift", "azure", "gcs"],
                    choices=["s3", "swift", "azure", "gcs"])
    ap.add_argument("--repeat", type=int, default=3, help="fresh processes per client (median)")
    ap.add_argument("--top", type=int, default=12, help="rows of each breakdown table")
    ap.add_argument("--quick", action="store_true", help="one process per client")
    args = ap.parse_args(argv)
    repeat = 1 if args.quick else args.repeat
    backends = list(args.backends)
    if "swift" in backends and (why := swift_available()):
        print(f"skipping Swift: {why}")
        backends.remove("swift")
    t0 = time.perf_counter()
    precompile()
    with servers(s3="s3" in backends, swift="swift" in backends, azure="azure" in backends,
                 gcs="gcs" in backends) as sv:
        rows = []
        for backend in backends:
            for delay in args.delay_ms:
                spec = _targets.make_spec(sv, backend, delay)
                put_cube(spec)
                px = sv.proxy(backend, delay)
                res = {c: cold(spec, px, c, repeat) for c in clients(backend)}
                fl = res["floor"].get("seconds")
                for c, r in res.items():
                    if "error" in r:
                        rows.append([backend, f"{delay:g} ms", c, f"failed: {r['error'][:70]}",
                                     "-", "-", "-", "-"])
                        continue
                    rows.append([backend, f"{delay:g} ms", c, f"{r['seconds']:.3f} s",
                                 f"{r['import_seconds']:.3f} s", str(r["requests"]),
                                 f"{r['seconds'] / fl:.1f}x" if fl else "-",
                                 f"{r['new_modules']} ({', '.join(r['imported'][:8])}"
                                 f"{', ...' if len(r['imported']) > 8 else ''})"])
                if delay == args.delay_ms[-1]:
                    last = spec
            print_table("cold open in a fresh process (xarray, zarr, dask imported first): "
                        f"median of {repeat}; x floor; modules the open imported",
                        ["backend", "delay", "client", "open", "own import", "requests", "x floor",
                         "modules imported by the open"],
                        [r for r in rows if r[0] == backend])
            breakdown(last, backend, args.top)
    print(f"\nbench_coldopen: {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    exit_quietly(main())
