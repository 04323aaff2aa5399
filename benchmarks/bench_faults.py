"""Which fault rates each backend survives: write_cube, open_cube + load, publish, cp (up and
back) and ls through the fault-injecting proxy of the test suite (tests/servers/faults.py), every
success compared value by value (or byte by byte) with what was written.

    python benchmarks/bench_faults.py --rates 0.1 0.2 --runs 3 --chunks 400

Prints one row per backend and rate: runs that completed with equal data, faults injected, time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import traceback
import uuid
from pathlib import Path

from _common import exit_quietly, print_table, servers

BACKENDS = ("s3", "swift", "gcs", "azure")
FAULTS = ("503", "500", "reset", "midbody")


def _cube(n: int):  # type: ignore[no-untyped-def]
    import numpy as np
    import pandas as pd
    import xarray as xr

    rng = np.random.default_rng(n)
    return xr.Dataset(
        {"v": (("time", "y", "x"), rng.standard_normal((n, 16, 16)).astype("float32"))},
        coords={"time": pd.date_range("2026-01-01", periods=n, freq="h"),
                "y": np.arange(16.0), "x": np.arange(16.0)},
    ).chunk({"time": 1})


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def one_run(rig, proxy, profile, n: int, tmp: Path) -> None:  # type: ignore[no-untyped-def]
    import xarray as xr

    import objstore
    from objstore.transfer import copy

    ds = _cube(n)
    objstore.write_cube(ds, rig.url("w.zarr"), profile=profile)
    xr.testing.assert_identical(objstore.open_cube(rig.url("w.zarr"), profile=profile).load(),
                                ds.load())
    objstore.publish(ds, rig.url("p.zarr"), profile=profile)
    xr.testing.assert_identical(objstore.open_cube(rig.url("p.zarr"), profile=profile).load(),
                                ds.load())
    local = tmp / "src.zarr"
    ds.to_zarr(local, zarr_format=2, consolidated=True)
    copy(local, rig.url("c.zarr"), profile=profile)
    copy(rig.url("c.zarr"), tmp / "back", profile=profile)
    assert _files(tmp / "back") == _files(local), "cp round trip differs"
    names = objstore.resolve(rig.url(""), profile).fs.ls(rig.bucket, detail=False)
    assert sorted(p.rsplit("/", 1)[-1] for p in names) == ["c.zarr", "p.zarr", "w.zarr"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rates", type=float, nargs="+", default=[0.1, 0.2])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--chunks", type=int, default=400)
    ap.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    args = ap.parse_args()

    from rigs import make_rig, profile_via, server_port
    from servers.faults import FaultProxy

    on = set(args.backends)
    rows = []
    with servers(s3="s3" in on, swift="swift" in on, azure="azure" in on, gcs="gcs" in on) as s:
        by_backend = {"s3": s.moto, "swift": s.swift, "gcs": s.gcs, "azure": s.azurite}
        for backend in args.backends:
            for rate in args.rates:
                ok, injected, seconds, errors = 0, 0, 0.0, []
                for run in range(args.runs):
                    rig = make_rig(backend, by_backend[backend], f"f{uuid.uuid4().hex[:12]}")
                    with FaultProxy("127.0.0.1", server_port(rig), faults=FAULTS, rate=rate,
                                    seed=run) as proxy, tempfile.TemporaryDirectory() as tmp:
                        t0 = time.perf_counter()
                        try:
                            one_run(rig, proxy, profile_via(rig, proxy.url), args.chunks,
                                    Path(tmp))
                            ok += 1
                        except Exception as exc:  # noqa: BLE001 - counted and shown
                            errors.append(f"{type(exc).__name__}: {str(exc)[:160]}")
                            traceback.print_exc(limit=2)
                        seconds += time.perf_counter() - t0
                        injected += sum(proxy.injected.values())
                rows.append([backend, f"{rate:.0%}", f"{ok}/{args.runs}", str(injected),
                             f"{seconds / args.runs:.1f}", errors[0] if errors else ""])
                print(rows[-1], flush=True)
    print_table(f"Fault survival: write, read, publish, cp, ls; {args.chunks} chunks, "
                f"faults {'/'.join(FAULTS)}",
                ["backend", "rate", "runs ok", "faults", "s/run", "first failure"], rows)
    exit_quietly(0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
