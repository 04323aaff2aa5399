"""Shared pieces of the benchmark suite: servers, latency proxies in their own processes, the cube.

Everything runs standalone: ``start_servers`` starts a local moto S3 (and Swift, Azurite, the GCS
emulator when asked) with the test-suite harness in ``tests/servers``, and ``ProxyProcess`` puts a
request-counting ``LatencyProxy`` in front of a port, in a child process so that its CPU does not
compete with the client under test for the GIL.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

# The workload: a 1000-chunk cube of 64 KiB chunks (65.5 MB), one float32 variable
# (time, lat, lon) with one chunk per time step, plus three index coordinates.
FULL = {"n_chunks": 1000, "ny": 128, "nx": 128}
QUICK = {"n_chunks": 250, "ny": 128, "nx": 128}


class ProxyProcess:
    """A ``LatencyProxy`` (``delay_ms`` each way) in front of ``127.0.0.1:target_port``."""

    def __init__(self, target_port: int, delay_ms: float, *, record: bool = False) -> None:
        argv = [sys.executable, str(HERE / "_proxyd.py"), str(target_port), str(delay_ms)]
        if record:
            argv.append("record")
        self.delay_ms = delay_ms
        self.target_port = target_port
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _ask(self, cmd: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline()

    def counts(self) -> dict[str, int]:
        return json.loads(self._ask("counts"))

    def requests(self) -> list[tuple[str, str]]:
        return [tuple(r) for r in json.loads(self._ask("requests"))]

    def reset(self) -> None:
        self._ask("reset")

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):
                self._ask("quit")
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ------------------------------------------------------------------------------------ servers
@dataclass
class Servers:
    tmp: Path
    moto: Any = None
    swift: Any = None
    azurite: Any = None
    gcs: Any = None
    proxies: dict[tuple[str, float], ProxyProcess] = field(default_factory=dict)

    def proxy(self, backend: str, delay_ms: float) -> ProxyProcess:
        key = (backend, delay_ms)
        if key not in self.proxies:
            port = {"s3": lambda: self.moto.port, "swift": lambda: self.swift.proxy_port,
                    "azure": lambda: self.azurite.port, "gcs": lambda: self.gcs.port}[backend]()
            self.proxies[key] = ProxyProcess(port, delay_ms)
        return self.proxies[key]

    def stop(self) -> None:
        for p in self.proxies.values():
            p.stop()
        if self.moto is not None:
            self.moto.stop()
        if self.swift is not None:
            self.swift.stop()
        if self.azurite is not None:
            self.azurite.stop()
        if self.gcs is not None:
            self.gcs.stop()


@contextlib.contextmanager
def servers(s3: bool = True, swift: bool = False, azure: bool = False,
            gcs: bool = False) -> Iterator[Servers]:
    tmp = Path(tempfile.mkdtemp(prefix="objstore-bench-"))
    # objstore's caches (remembered zarr formats, Swift tokens) live in the run's own directory
    os.environ["XDG_CACHE_HOME"] = str(tmp / "cache")
    out = Servers(tmp)
    try:
        if s3:
            from servers.moto import start_moto

            out.moto = start_moto(tmp)
        if swift:
            from servers.swift import start_swift

            out.swift = start_swift(tmp / "swift")
        if azure:
            from servers.azurite import start_azurite

            out.azurite = start_azurite(tmp / "azurite")
        if gcs:
            from servers.gcs import start_gcs

            out.gcs = start_gcs(tmp / "gcs")
        yield out
    finally:
        out.stop()


def swift_available() -> str | None:
    """None if the Swift servers and objstore's Swift filesystem are usable, else why not."""
    if not Path("/usr/bin/swift-proxy-server").exists():
        return "Swift servers not installed (apt-get install swift swift-proxy ...)"
    try:
        import objstore.swift.filesystem  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - work in progress elsewhere
        return f"objstore.swift.filesystem not importable: {exc}"
    return None


# ------------------------------------------------------------------------------------ data
def make_cube(n_chunks: int, ny: int = 128, nx: int = 128):  # type: ignore[no-untyped-def]
    """A float32 (time, lat, lon) cube, ``n_chunks`` chunks of ny*nx*4 bytes, numpy-backed."""
    import numpy as np
    import pandas as pd
    import xarray as xr

    rng = np.random.default_rng(0)
    data = rng.standard_normal((n_chunks, ny, nx), dtype="float32")
    return xr.Dataset(
        {"tas": (("time", "lat", "lon"), data, {"units": "K"})},
        coords={
            "time": pd.date_range("2000-01-01", periods=n_chunks, freq="D"),
            "lat": np.linspace(-90, 90, ny),
            "lon": np.linspace(-180, 180, nx, endpoint=False),
        },
        attrs={"title": "benchmark cube"},
    )


def chunk_encoding(ds) -> dict:  # type: ignore[no-untyped-def]
    """One zarr chunk per time step for ``tas`` (the issue's 64 KiB chunks)."""
    return {"tas": {"chunks": (1, ds.sizes["lat"], ds.sizes["lon"])}}


# ------------------------------------------------------------------------------------ timing
@dataclass
class Measure:
    seconds: float
    requests: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    note: str = ""

    def fmt(self) -> str:
        req = f"{self.requests:>5}" if self.requests is not None else "    -"
        return f"{self.seconds:7.2f} s {req} req"


def measure(fn: Callable[[], Any], proxy: ProxyProcess | None = None, *, repeat: int = 1,
            setup: Callable[[], Any] | None = None) -> Measure:
    """Median wall time of ``fn()`` over ``repeat`` runs; requests counted by ``proxy`` (last run)."""
    times = []
    counts: dict[str, int] = {}
    for _ in range(repeat):
        if setup is not None:
            setup()
        if proxy is not None:
            proxy.reset()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if proxy is not None:
            counts = proxy.counts()
    return Measure(statistics.median(times), counts.get("total") if proxy else None, counts)


def fmt_counts(counts: dict[str, int]) -> str:
    return " ".join(f"{k}:{v}" for k, v in sorted(counts.items()) if k != "total")


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
    sys.stdout.flush()


def exit_quietly(rc: int) -> None:
    """Leave without running exit-time finalizers: the plain adlfs and gcsfs filesystems the
    benchmarks make close their sessions in weakref finalizers that need fsspec's event loop,
    stopped by then, and would only print "Loop is not running" tracebacks. Call it when every
    measurement is printed and every server stopped."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)
