"""Plots of one variable as PNG or SVG bytes, with matplotlib's Agg canvas (no pyplot, no display).

``prepare`` checks a request and cuts the lazy array (cheap: nothing is read); ``render`` reads
the data and draws it. Labels, units and the colorbar come from the CF attributes; a map of a
variable with more than two dimensions asks for the missing selections instead of guessing.
"""

from __future__ import annotations

import difflib
import io
import math
import threading
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..errors import BackendNotInstalledError, ViewError, ViewTooLargeError
from .selection import Pick, Selection, parse_selection, select

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["KINDS", "FORMATS", "Prepared", "prepare", "render", "visible", "draw", "suggest",
           "check_size", "check_cmap"]

#: plot kinds; ``map`` and ``pcolormesh`` are the same picture
KINDS = ("map", "pcolormesh", "contourf", "line", "hist")
FORMATS = ("png", "svg")
MIN_SIDE, MAX_SIDE = 64, 3000  # pixels
MIN_DPI, MAX_DPI = 20, 300
MAX_READ_BYTES = 512 * 2**20  # read for one plot
MAX_LABEL = 120  # characters of an attribute shown on a plot

_X_NAMES = ("lon", "longitude", "x", "rlon", "nav_lon", "xc")
_Y_NAMES = ("lat", "latitude", "y", "rlat", "nav_lat", "yc")
_DRAW_LOCK = threading.Lock()  # matplotlib's font and text caches are shared between threads


@dataclass(frozen=True)
class Prepared:
    """A checked request: ``data`` is the lazy, selected array (y before x for maps)."""

    data: xr.DataArray
    var: str
    kind: str
    cmap: str
    selection: Selection


def check_size(width: int, height: int, dpi: int) -> None:
    """Raise :class:`ViewError` unless the image size and resolution are within bounds."""
    for name, value in (("width", width), ("height", height)):
        if not MIN_SIDE <= value <= MAX_SIDE:
            raise ViewError(f"{name}={value} is out of bounds: {MIN_SIDE} to {MAX_SIDE} pixels")
    if not MIN_DPI <= dpi <= MAX_DPI:
        raise ViewError(f"dpi={dpi} is out of bounds: {MIN_DPI} to {MAX_DPI}")


def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise BackendNotInstalledError("plots need matplotlib: pip install 'objstore[views]'",
                                       status=501) from None
    return matplotlib


def check_cmap(cmap: str) -> str:
    """``cmap`` if matplotlib knows it, else :class:`ViewError` naming close and common ones."""
    matplotlib = _matplotlib()
    if cmap in matplotlib.colormaps:
        return cmap
    known = sorted(matplotlib.colormaps)
    close = difflib.get_close_matches(cmap[:40], known, n=3)
    few = close or ["viridis", "plasma", "cividis", "coolwarm", "RdBu_r", "Greys"]
    raise ViewError(f"unknown colormap {cmap[:40]!r}: try {', '.join(few)} "
                    f"(any of matplotlib's {len(known)} colormaps)")


def prepare(ds: xr.Dataset, var: str, kind: str = "map", cmap: str = "viridis",
            selection: Selection | str | None = None) -> Prepared:
    """Check ``var``, ``kind``, ``cmap`` and ``selection`` against ``ds``; nothing is read."""
    if var not in ds.data_vars:
        names = ", ".join(str(v) for v in list(ds.data_vars)[:12]) or "none"
        raise ViewError(f"unknown variable {var[:60]!r}: the dataset has {names}")
    if kind not in KINDS:
        raise ViewError(f"unknown plot kind {kind[:40]!r}: use one of {', '.join(KINDS)}")
    check_cmap(cmap)
    sel = parse_selection(selection)
    da = select(ds[var], sel, what=var).squeeze(drop=False)
    if kind == "line":
        _need_dims(da, 1, var, kind)
    elif kind != "hist":  # a map
        _need_dims(da, 2, var, kind)
        y, x = _yx(da)
        da = da.transpose(y, x)
    if da.nbytes > MAX_READ_BYTES:
        raise ViewTooLargeError(f"plotting {var} would read {da.nbytes / 2**20:.0f} MiB, over "
                                f"the limit of {MAX_READ_BYTES / 2**20:.0f} MiB: select less")
    return Prepared(da, var, kind, cmap, sel)


def _need_dims(da: xr.DataArray, n: int, var: str, kind: str) -> None:
    dims = [str(d) for d in da.dims]
    if len(dims) == n:
        return
    if len(dims) < n:
        have = ", ".join(dims) or "no dimensions"
        raise ViewError(f"a {kind} plot needs {n} dimensions, {var} has {have} after the "
                        f"selection: select fewer dimensions or use kind "
                        f"{'line' if len(dims) == 1 else 'hist'}")
    keep = _keep(da, n)
    extra = [d for d in dims if d not in keep]
    hint = "/".join(f"{d}={_first_label(da, d)}" for d in extra)
    raise ViewError(f"a {kind} plot of {var} shows {' and '.join(keep)}: select "
                    f"{', '.join(extra)} too, e.g. {hint}")


def _keep(da: xr.DataArray, n: int) -> list[str]:
    """The dims a plot of ``n`` dimensions would keep (x/y for maps, time-like for lines)."""
    dims = [str(d) for d in da.dims]
    if n == 2:
        y, x = _yx(da)
        return [y, x]
    for d in dims:
        if d in da.indexes and da.indexes[d].dtype.kind == "M":
            return [d]
    return [dims[0]]


def _yx(da: xr.DataArray) -> tuple[str, str]:
    dims = [str(d) for d in da.dims]

    def find(axis: str, names: tuple[str, ...]) -> str | None:
        for d in dims:
            attrs = da[d].attrs if d in da.coords else {}
            if str(attrs.get("axis", "")).upper() == axis or d.lower() in names:
                return d
        return None

    x = find("X", _X_NAMES) or dims[-1]
    y = find("Y", _Y_NAMES)
    if y is None or y == x:
        y = next(d for d in reversed(dims) if d != x)
    return y, x


def _first_label(da: xr.DataArray, dim: str) -> str:
    if dim in da.indexes and len(da.indexes[dim]):
        value = da.indexes[dim][0]
        text = value.isoformat()[:10] if hasattr(value, "isoformat") else str(value)
        if ":" not in text and "/" not in text and "," not in text and len(text) <= 30:
            return text
    return "[0]"


def suggest(ds: xr.Dataset, var: str) -> tuple[str, Selection]:
    """A kind and selection that plot ``var`` without asking: a map (or line) at first positions."""
    da = ds[var]
    if da.ndim == 0:
        return "hist", Selection()
    n = 2 if da.ndim >= 2 else 1
    keep = _keep(da, n)
    picks = tuple(Pick(str(d), index=0) for d in da.dims if str(d) not in keep)
    return ("map" if n == 2 else "line"), Selection(picks)


def render(ds: xr.Dataset, var: str, kind: str = "map", cmap: str = "viridis",
           selection: Selection | str | None = None, *, fmt: Literal["png", "svg"] = "png",
           width: int = 800, height: int = 500, dpi: int = 100, title: str | None = None) -> bytes:
    """The plot of ``var`` as PNG or SVG bytes, ``width`` x ``height`` pixels at ``dpi``.

    ``title`` names the dataset (default: its ``title`` attribute); the variable and the
    selection are added to it.
    """
    if fmt not in FORMATS:
        raise ViewError(f"unknown image format {str(fmt)[:20]!r}: use png or svg")
    check_size(width, height, dpi)
    p = prepare(ds, var, kind, cmap, selection)
    values = visible(p, width, height).load()
    name = title if title is not None else str(ds.attrs.get("title", ""))
    return draw(p, values, fmt=fmt, width=width, height=height, dpi=dpi, dataset=name)


def visible(p: Prepared, width: int, height: int) -> xr.DataArray:
    """The part of a map a picture of ``width`` x ``height`` pixels can show: every n-th cell
    along an axis with more than two cells per pixel (lines and histograms are kept whole)."""
    if p.kind in ("line", "hist"):
        return p.data
    y, x = (str(d) for d in p.data.dims)
    steps = {y: math.ceil(p.data.sizes[y] / (2 * height)),
             x: math.ceil(p.data.sizes[x] / (2 * width))}
    if max(steps.values()) <= 1:
        return p.data
    return p.data.isel({d: slice(None, None, step) for d, step in steps.items()})


def draw(p: Prepared, values: xr.DataArray, *, fmt: str, width: int, height: int, dpi: int,
         dataset: str) -> bytes:
    """Draw the loaded ``values`` of a prepared request."""
    import numpy as np
    from matplotlib.figure import Figure

    finite = np.isfinite(values.values) if values.dtype.kind in "fc" else None
    if values.size == 0 or (finite is not None and not finite.any()):
        raise ViewError(f"{p.var} has no finite values in this selection")
    with _DRAW_LOCK:
        fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi, layout="constrained")
        ax = fig.add_subplot()
        cmap = _colormap(p.cmap)
        if p.kind == "hist":
            flat = values.values.ravel()
            flat = flat[np.isfinite(flat)] if finite is not None else flat
            ax.hist(flat, bins=min(50, max(5, int(math.sqrt(flat.size)))), color=cmap(0.35))
            ax.set_xlabel(_label(values, p.var), parse_math=False)
            ax.set_ylabel("count", parse_math=False)
        elif p.kind == "line":
            dim = str(values.dims[0])
            ax.plot(_coord(values, dim), values.values, color=cmap(0.35))
            ax.set_xlabel(_label(values[dim], dim), parse_math=False)
            ax.set_ylabel(_label(values, p.var), parse_math=False)
            ax.grid(alpha=0.3)
        else:
            y, x = (str(d) for d in values.dims)
            args = (_coord(values, x), _coord(values, y), values.values)
            mesh: Any
            if p.kind == "contourf":
                mesh = ax.contourf(*args, levels=12, cmap=cmap)
            else:
                mesh = ax.pcolormesh(*args, cmap=cmap, shading="auto")
            bar = fig.colorbar(mesh, ax=ax)
            bar.set_label(_label(values, p.var), parse_math=False)
            ax.set_xlabel(_label(values[x], x), parse_math=False)
            ax.set_ylabel(_label(values[y], y), parse_math=False)
        ax.set_title(_title(dataset, p), parse_math=False, fontsize="medium")
        buf = io.BytesIO()
        meta = {"Date": None} if fmt == "svg" else {}
        fig.savefig(buf, format=fmt, dpi=dpi, metadata=meta)
    return buf.getvalue()


def _colormap(name: str) -> Any:
    return _matplotlib().colormaps[name]


def _coord(da: xr.DataArray, dim: str) -> Any:
    """Axis values of ``dim``: its coordinate (non-standard calendars as dates), else positions."""
    import numpy as np
    import xarray as xr

    if dim not in da.coords:
        return np.arange(da.sizes[dim])
    index = da.indexes.get(dim)
    if isinstance(index, xr.CFTimeIndex):
        try:
            with warnings.catch_warnings():  # "dates of a non-standard calendar": as intended
                warnings.simplefilter("ignore")
                return index.to_datetimeindex(unsafe=True)
        except ValueError:  # a date the standard calendar lacks (360-day years)
            return np.arange(da.sizes[dim])
    return da[dim].values


def _short(text: Any) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def _label(da: Any, name: str) -> str:
    """``long_name [units]`` from CF attributes, else the name."""
    attrs = getattr(da, "attrs", {})
    text = attrs.get("long_name") or str(attrs.get("standard_name", "")).replace("_", " ") or name
    units = attrs.get("units")
    return _short(f"{text} [{units}]" if units else text)


def _title(dataset: str, p: Prepared) -> str:
    head = " · ".join(t for t in (_short(dataset), p.var) if t)
    picked = [f"{d}={_scalar(p.data[d].values)}" for d in p.data.coords
              if p.data[d].ndim == 0 and d in p.selection.dims]
    ranges = [str(pk) for pk in p.selection.picks if pk.dim in p.data.dims]
    detail = ", ".join(picked + ranges)
    return _short(head) + (f"\n{_short(detail)}" if detail else "")


def _scalar(value: Any) -> str:
    import numpy as np

    value = np.asarray(value)
    if value.dtype.kind == "M":
        return str(np.datetime_as_string(value, unit="s")).replace("T00:00:00", "")
    if value.dtype.kind == "f":
        return f"{float(value):g}"
    return str(value)
