"""Start-up cost: ``import objstore`` and ``objstore profiles`` beside ``import s3fs, xarray``.

Each command runs in a fresh interpreter several times; the median wall time is printed, and
``python -X importtime`` shows whether a heavy package (xarray, zarr, fsspec, s3fs, dask, numpy,
botocore, aiohttp) was imported on the way. ``import objstore``, a first use of a light submodule
such as ``objstore.scratch`` (submodules load lazily), and ``objstore profiles`` must not import
any of them: backends load when a URL is first used (tests/test_package.py checks the import).

    python benchmarks/bench_import.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from _common import print_table

HEAVY = ("xarray", "zarr", "fsspec", "s3fs", "gcsfs", "adlfs", "dask", "numpy", "pandas",
         "botocore", "aiobotocore", "aiohttp", "obstore", "azure", "google", "keystoneauth1")

COMMANDS = {
    "import objstore": [sys.executable, "-c", "import objstore"],
    "objstore.scratch (lazy)": [sys.executable, "-c", "import objstore; objstore.scratch.url"],
    "objstore profiles": [sys.executable, "-c",
                          "import sys; sys.argv = ['objstore', 'profiles']; "
                          "from objstore.cli import main; main()"],
    "import s3fs, xarray": [sys.executable, "-c", "import s3fs, xarray"],
    "python -c pass": [sys.executable, "-c", "pass"],
}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    home = tempfile.mkdtemp(prefix="bench-import-")
    env.update({"OBJSTORE_CONFIG": f"{home}/profiles.toml", "AWS_CONFIG_FILE": f"{home}/config",
                "AWS_SHARED_CREDENTIALS_FILE": f"{home}/credentials"})
    return env


def heavy_imports(argv: list[str], env: dict[str, str]) -> list[str]:
    out = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], capture_output=True,
                         text=True, env=env)
    found = set()
    for line in out.stderr.splitlines():
        if "|" in line:
            name = line.rsplit("|", 1)[-1].strip()
            if name.split(".")[0] in HEAVY:
                found.add(name.split(".")[0])
    return sorted(found)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="3 runs")
    ap.add_argument("--delay-ms", type=float, nargs="*", help="(accepted for bench_all)")
    args = ap.parse_args(argv)
    runs = 3 if args.quick else args.runs
    env = _env()
    rows = []
    for label, cmd in COMMANDS.items():
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           check=True)
            times.append(time.perf_counter() - t0)
        heavy = heavy_imports(cmd, env) if label != "python -c pass" else []
        rows.append([label, f"{statistics.median(times):.3f} s", f"{min(times):.3f} s",
                     ", ".join(heavy) or "none"])
    print_table(f"start-up time, median of {runs} fresh interpreters",
                ["command", "median", "best", "heavy packages imported"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
