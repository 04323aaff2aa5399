"""Group-by diagnostics (``tas`` by ``time.month``, ``mean``) from whitelists, bounded in size.

The group key is a coordinate of the variable or a datetime component of one (``time.month``);
the action is one of :data:`ACTIONS`. Request strings only ever index these tables and the
dataset's own names: nothing is evaluated and no attribute is looked up by a request string.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ViewError, ViewTooLargeError
from .selection import Selection, parse_selection, select

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["ACTIONS", "COMPONENTS", "MAX_READ_BYTES", "MAX_RESULT_BYTES", "GroupBy",
           "prepare_groupby", "groupby"]

ACTIONS: dict[str, Callable[[Any], Any]] = {
    "mean": lambda g: g.mean(),
    "sum": lambda g: g.sum(),
    "min": lambda g: g.min(),
    "max": lambda g: g.max(),
    "std": lambda g: g.std(),
    "var": lambda g: g.var(),
    "median": lambda g: g.median(),
    "count": lambda g: g.count(),
}
COMPONENTS: dict[str, Callable[[Any], Any]] = {
    "year": lambda t: t.dt.year,
    "month": lambda t: t.dt.month,
    "day": lambda t: t.dt.day,
    "hour": lambda t: t.dt.hour,
    "dayofyear": lambda t: t.dt.dayofyear,
    "season": lambda t: t.dt.season,
}
MAX_READ_BYTES = 2 * 2**30  # read by one group-by (computed chunk by chunk with dask)
MAX_RESULT_BYTES = 64 * 2**20  # held in memory and returned


@dataclass(frozen=True)
class GroupBy:
    """A checked group-by request: ``data`` lazy and selected, ``key`` the grouping array."""

    data: xr.DataArray
    key: xr.DataArray
    var: str
    coord: str
    action: str
    selection: Selection
    result_shape: tuple[int, ...]

    @property
    def result_bytes(self) -> int:
        return math.prod(self.result_shape) * 8


def prepare_groupby(ds: xr.Dataset, var: str, coord: str, action: str,
                    selection: Selection | str | None = None, *,
                    max_read_bytes: int = MAX_READ_BYTES,
                    max_result_bytes: int = MAX_RESULT_BYTES) -> GroupBy:
    """Check a group-by request against ``ds`` and the size limits; nothing big is read."""
    if var not in ds.data_vars:
        names = ", ".join(str(v) for v in list(ds.data_vars)[:12]) or "none"
        raise ViewError(f"unknown variable {var[:60]!r}: the dataset has {names}")
    if action not in ACTIONS:
        raise ViewError(f"unknown action {action[:40]!r}: use one of {', '.join(ACTIONS)}")
    sel = parse_selection(selection)
    da = select(ds[var], sel, what=var)
    key = _key(da, coord, var)
    dim = str(key.dims[0])
    groups = int(key.to_series().nunique())
    shape = tuple(groups if d == dim else da.sizes[d] for d in da.dims)
    g = GroupBy(da, key, var, coord, action, sel, shape)
    if da.nbytes > max_read_bytes:
        raise ViewTooLargeError(f"this group-by would read {_mib(da.nbytes)}, over the limit of "
                                f"{_mib(max_read_bytes)}: add a selection")
    if g.result_bytes > max_result_bytes:
        raise ViewTooLargeError(f"the result would hold {_mib(g.result_bytes)}, over the limit "
                                f"of {_mib(max_result_bytes)}: add a selection")
    return g


def groupby(ds: xr.Dataset, var: str, coord: str, action: str,
            selection: Selection | str | None = None, **limits: int) -> xr.DataArray:
    """``ds[var]`` (selected) grouped by ``coord`` and reduced with ``action``, computed."""
    return compute(prepare_groupby(ds, var, coord, action, selection, **limits))


def compute(g: GroupBy) -> xr.DataArray:
    """Run a prepared group-by (with dask's current scheduler when the data is lazy)."""
    result = ACTIONS[g.action](g.data.groupby(g.key))
    result = result.compute()
    result.name = g.var
    result.attrs = dict(g.data.attrs)
    result.attrs["cell_methods"] = f"{g.key.dims[0]}: {g.action} (grouped by {g.coord})"
    return result


def _key(da: xr.DataArray, coord: str, var: str) -> xr.DataArray:
    """The grouping array named by ``coord``: a 1-D coordinate or a datetime component of one."""
    if coord in da.coords:
        base, component = coord, None
    elif "." in coord:
        base, component = coord.rsplit(".", 1)
    else:
        base, component = coord, None
    if base not in da.coords:
        names = ", ".join(str(c) for c in da.coords if da[c].ndim == 1) or "none"
        raise ViewError(f"{var} has no coordinate {base[:60]!r} to group by (coordinates: "
                        f"{names}; or a date part such as time.month)")
    c = da[base]
    if c.ndim != 1:
        raise ViewError(f"{base!r} is not one-dimensional and cannot be a group key")
    if component is None:
        return c
    if component not in COMPONENTS:
        raise ViewError(f"unknown date part {component[:40]!r}: use one of "
                        f"{', '.join(f'{base}.{k}' for k in COMPONENTS)}")
    if c.dtype.kind != "M" and not _is_cftime(c):
        raise ViewError(f"{base!r} does not hold dates, so {coord[:60]!r} cannot group it")
    key = COMPONENTS[component](c)
    return key.rename(component)


def _is_cftime(c: xr.DataArray) -> bool:
    import xarray as xr

    return c.name in c.indexes and isinstance(c.indexes[c.name], xr.CFTimeIndex)


def _mib(n: float) -> str:
    return f"{n / 2**20:.0f} MiB" if n >= 2**20 else f"{n / 1024:.0f} KiB"
