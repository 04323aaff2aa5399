"""Where the CPU goes: the floor and objstore doing the same work, with the CPU each side spent.

On a machine with few cores the servers under test (Swift's proxy and object servers, Azurite,
the GCS emulator, moto) and the latency proxy share the cores with the client, so a client's CPU
per request slows the server down too. This prints, for each run, the wall time, the client's
CPU (this process, every thread) and the CPU of every process the run started (servers, proxy),
and how many cores were busy on average ((client + servers) / wall):

* ``big``: ``--big`` bodies of 8 MiB: the floor's PUTs (64 in flight) against objstore's
  ``fs.pipe`` of the same bodies (no zarr, no dask), checksums on and off;
* ``small``: a cube of ``--small`` chunks of 1 KiB: the floor's PUTs and GETs against
  ``write_cube`` and ``open_cube().load()`` (dask) and ``chunks=None``.

    python benchmarks/bench_cpu.py --backends swift --what big
    python benchmarks/bench_cpu.py --backends azure --what small
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from collections.abc import Callable
from typing import Any

import _scale_child
import _targets
import floor
import numpy as np
import psutil
from _common import exit_quietly, print_table, servers

import objstore

warnings.filterwarnings("ignore")
BIG = 8 * 2**20


def _cpu(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


def _measured(label: str, fn: Callable[[], Any]) -> list[str]:
    me = psutil.Process()
    others = me.children(recursive=True)
    s0, c0, t0 = _cpu(others), _cpu([me]), time.perf_counter()
    fn()
    wall = time.perf_counter() - t0
    client, server = _cpu([me]) - c0, _cpu(others) - s0
    return [label, f"{wall:.2f} s", f"{client:.2f} s", f"{server:.2f} s",
            f"{(client + server) / wall:.2f}"]


def big(spec: dict[str, Any], n: int, rep: int) -> list[list[str]]:
    bodies = [os.urandom(BIG) for _ in range(4)]
    up, _, kw, _ = _targets.floor_requests(spec, [f"r{rep}/floor/{i}" for i in range(n)])
    rows = [_measured("floor: PUTs", lambda: floor.run_put_all(
        [(u, bodies[i % 4]) for i, u in enumerate(up)], **kw))]
    for checks in (True, False):
        r = objstore.resolve(_targets.url(spec, f"r{rep}/pipe-{checks}"),
                             _targets.profile(spec, checks))
        objects = {f"{r.path}/{i}": bodies[i % 4] for i in range(n)}
        rows.append(_measured(f"objstore fs.pipe, checksums {'on' if checks else 'off'}",
                              lambda fs=r.fs, objects=objects: fs.pipe(objects)))
    return rows


def small(spec: dict[str, Any], n: int, rep: int) -> list[list[str]]:
    keys = [f"r{rep}/floor/{i}" for i in range(n)]
    up, down, up_kw, down_kw = _targets.floor_requests(spec, keys)
    body = np.random.default_rng(1).bytes(1024)
    prof, url = _targets.profile(spec), _targets.url(spec, f"r{rep}/cube.zarr")
    ds = _scale_child.cube(n)
    return [
        _measured("floor: PUTs", lambda: floor.run_put_all([(u, body) for u in up], **up_kw)),
        _measured("floor: GETs", lambda: floor.run_get_all(down, **down_kw)),
        _measured("objstore write_cube", lambda: objstore.write_cube(
            ds, url, profile=prof, encoding=_scale_child.ENCODING)),
        _measured("objstore open_cube().load()",
                  lambda: objstore.open_cube(url, profile=prof).load()),
        _measured("objstore chunks=None .load()",
                  lambda: objstore.open_cube(url, profile=prof, chunks=None).load()),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--delay-ms", type=float, default=25.0)
    ap.add_argument("--backends", nargs="+", default=["swift"],
                    choices=["s3", "swift", "azure", "gcs"])
    ap.add_argument("--what", nargs="+", default=["big", "small"], choices=["big", "small"])
    ap.add_argument("--big", type=int, default=128, help="8 MiB bodies (default 128: 1 GiB)")
    ap.add_argument("--small", type=int, default=2000, help="1 KiB chunks (default 2000)")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args(argv)
    print(f"{psutil.cpu_count()} cores; CPU = user + system seconds; cores busy = (client + "
          "servers) / wall")
    header = ["run", "wall", "client CPU", "servers + proxy CPU", "cores busy"]
    with servers(s3="s3" in args.backends, swift="swift" in args.backends,
                 azure="azure" in args.backends, gcs="gcs" in args.backends) as sv:
        for backend in args.backends:
            spec = _targets.make_spec(sv, backend, args.delay_ms)
            for what in args.what:
                n = args.big if what == "big" else args.small
                for rep in range(args.repeat):
                    rows = big(spec, n, rep) if what == "big" else small(spec, n, rep)
                    print_table(f"{backend}, {args.delay_ms:g} ms each way, {what}: "
                                f"{n} x {'8 MiB' if what == 'big' else '1 KiB'}, run {rep + 1}",
                                header, rows)
    return 0


if __name__ == "__main__":
    exit_quietly(main())
