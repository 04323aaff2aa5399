"""A write_cube of a dask-backed cube holds little more memory than plain ``to_zarr``: peak RSS of
a child process each, compared with a generous margin (never wall time)."""

from __future__ import annotations

import subprocess
import sys

#: Writes a 128 MiB float32 cube (dask, 4 MiB stored chunks) with ``to_zarr`` or ``write_cube``
#: and prints the growth of the process's peak RSS in MiB.
CHILD = """
import resource, sys
import dask.array as da, xarray as xr, objstore
how, path = sys.argv[1], sys.argv[2]
data = da.random.random((512, 256, 256), chunks=(16, 256, 256)).astype("f4")
ds = xr.Dataset({"v": (("t", "y", "x"), data)})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if how == "plain":
    ds.to_zarr(path, consolidated=True)
else:
    objstore.write_cube(ds, path)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""


def _growth(how: str, path: str) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD, how, path], capture_output=True,
                         text=True, timeout=300, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def test_write_cube_peaks_within_twice_plain_to_zarr_plus_its_groups(tmp_path):
    from objstore.cube_write import WRITE_GROUP_BYTES

    plain = _growth("plain", str(tmp_path / "plain.zarr"))
    cube = _growth("cube", str(tmp_path / "cube.zarr"))
    # each dask thread holds one grouped block and its random float64 source (3x the group)
    allowance = 2 * plain + 2 * 3 * WRITE_GROUP_BYTES / 2**20 + 64
    assert cube <= allowance, f"write_cube grew {cube:.0f} MiB, plain to_zarr {plain:.0f} MiB"
