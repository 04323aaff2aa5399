"""A write_cube of a dask-backed cube holds little more memory than plain ``to_zarr``, and a
``.load()`` little more than what it returns: peak RSS of a child process each, compared with a
generous margin (never wall time)."""

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


#: Writes a 256 MiB float32 cube (4 MiB stored chunks) once, then (second run) opens it with
#: ``open_cube`` and prints the peak RSS growth of ``.load()`` over the loaded bytes.
LOAD_CHILD = """
import sys
import dask.array as da, xarray as xr, objstore
how, path = sys.argv[1], sys.argv[2]
def mib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1024
if how == "make":
    data = da.random.random((1024, 256, 256), chunks=(16, 256, 256)).astype("f4")
    objstore.write_cube(xr.Dataset({"v": (("t", "y", "x"), data)}), path)
    sys.exit()
ds = objstore.open_cube(path, chunks=None) if how == "lazy" else objstore.open_cube(path)
before = mib("VmRSS")
out = ds.load()
print((mib("VmHWM") - before) / (out.nbytes / 2**20))
"""


def _load_ratio(how: str, path: str) -> float:
    out = subprocess.run([sys.executable, "-c", LOAD_CHILD, how, path], capture_output=True,
                         text=True, timeout=300, check=True)
    return float((out.stdout.strip().splitlines() or ["0"])[-1])


def test_load_peaks_below_one_and_a_half_times_the_loaded_bytes(tmp_path):
    """``open_cube(url, chunks=None).load()`` decodes straight into the result, with the chunks
    in flight bounded by bytes (cubestore.READ_BYTES_IN_FLIGHT); the dask ``.load()`` holds the
    computed blocks and their concatenation (dask's), as plain xarray does."""
    path = str(tmp_path / "load.zarr")
    _load_ratio("make", path)
    assert _load_ratio("lazy", path) < 1.5
    assert _load_ratio("dask", path) < 2.3
