"""Selections as people type them in URLs and on the command line: ``time=2020-01-15/lat=30:60``.

Pairs are separated by ``/`` or ``,``. ``dim=value`` picks the nearest label, ``dim=lo:hi`` a label
range (either end may be left empty), ``dim=[i]`` and ``dim=[i:j]`` pick by position (``isel``).
Labels are read by the coordinate's type: dates for datetime coordinates, numbers for numeric ones,
text otherwise. Nothing is evaluated: names are looked up in the dataset, values are parsed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..errors import ViewError

__all__ = ["Pick", "Selection", "parse_selection", "select"]

MAX_PICKS = 16
MAX_TEXT = 1000

_PAIR = re.compile(r"(?P<dim>[^\W\d][\w.\-]{0,99})=(?P<value>.*)")
_INDEX = re.compile(r"\[(?P<start>-?\d{1,12})?(?P<range>:(?P<stop>-?\d{1,12})?)?\]")
_DATE = r"\d{4}(?:-\d{2}(?:-\d{2}(?:[T ]\d{2}(?::\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?)?)?)?"
_ONE_DATE = re.compile(_DATE)
_DATE_RANGE = re.compile(rf"(?P<lo>{_DATE})?:(?P<hi>{_DATE})?")

T = TypeVar("T")


@dataclass(frozen=True)
class Pick:
    """One ``dim=value`` pair: ``value`` is the label text, or ``index`` a position or a range."""

    dim: str
    value: str | None = None
    index: int | slice | None = None

    def __str__(self) -> str:
        if self.index is None:
            return f"{self.dim}={self.value}"
        if isinstance(self.index, int):
            return f"{self.dim}=[{self.index}]"
        start = "" if self.index.start is None else self.index.start
        stop = "" if self.index.stop is None else self.index.stop
        return f"{self.dim}=[{start}:{stop}]"


@dataclass(frozen=True)
class Selection:
    """Picks in the order given; ``str()`` is the canonical text (``/`` between pairs)."""

    picks: tuple[Pick, ...] = ()

    def __str__(self) -> str:
        return "/".join(str(p) for p in self.picks)

    def __bool__(self) -> bool:
        return bool(self.picks)

    @property
    def dims(self) -> tuple[str, ...]:
        return tuple(p.dim for p in self.picks)


def parse_selection(text: str | Iterable[str] | Selection | None) -> Selection:
    """The :class:`Selection` in ``text`` (or in several texts, as ``--sel`` given twice)."""
    if isinstance(text, Selection):
        return text
    if text is None:
        return Selection()
    joined = text if isinstance(text, str) else "/".join(text)
    if len(joined) > MAX_TEXT:
        raise ViewError(f"selection is longer than {MAX_TEXT} characters")
    picks: list[Pick] = []
    for part in re.split(r"[/,]", joined.strip().strip("/")):
        if not part.strip():
            continue
        picks.append(_parse_pair(part.strip()))
    if len(picks) > MAX_PICKS:
        raise ViewError(f"selection has {len(picks)} pairs; at most {MAX_PICKS} are allowed")
    seen = [p.dim for p in picks]
    repeated = sorted({d for d in seen if seen.count(d) > 1})
    if repeated:
        raise ViewError(f"selection names {', '.join(repeated)} more than once")
    return Selection(tuple(picks))


def _parse_pair(part: str) -> Pick:
    m = _PAIR.fullmatch(part)
    if not m:
        raise ViewError(f"cannot read selection {part!r}: write dim=value, dim=lo:hi or dim=[i]"
                        " (pairs separated by / or ,)")
    dim, value = m["dim"], m["value"].strip()
    if not value:
        raise ViewError(f"selection {part!r} has no value after '='")
    if value.startswith("["):
        idx = _INDEX.fullmatch(value)
        if not idx:
            raise ViewError(f"cannot read position {value!r} in {part!r}: write [i] or [i:j]")
        start = None if idx["start"] is None else int(idx["start"])
        if not idx["range"]:
            if start is None:
                raise ViewError(f"selection {part!r} has an empty position")
            return Pick(dim, index=start)
        stop = None if idx["stop"] is None else int(idx["stop"])
        return Pick(dim, index=slice(start, stop))
    return Pick(dim, value=value)


def select(obj: T, selection: Selection, *, what: str = "the variable") -> T:
    """``obj`` (a Dataset or DataArray) with ``selection`` applied; every dim is checked first."""
    for pick in selection.picks:
        obj = _apply(obj, pick, what)
    return obj


def _apply(obj: Any, pick: Pick, what: str) -> Any:
    dims = tuple(obj.dims)
    if pick.dim not in dims:
        have = ", ".join(str(d) for d in dims) or "none left"
        raise ViewError(f"{what} has no dimension {pick.dim!r} to select on (dimensions: {have})")
    size = obj.sizes[pick.dim]
    if pick.index is not None:
        return _by_position(obj, pick, size)
    if pick.dim not in obj.indexes:
        raise ViewError(f"{pick.dim!r} has no coordinate values to select by label: select by "
                        f"position instead, e.g. {pick.dim}=[0] (0 to {size - 1})")
    return _by_label(obj, pick)


def _by_position(obj: Any, pick: Pick, size: int) -> Any:
    index = pick.index
    if isinstance(index, int):
        if not -size <= index < size:
            raise ViewError(f"position {pick} is outside {pick.dim} (0 to {size - 1})")
        return obj.isel({pick.dim: index})
    out = obj.isel({pick.dim: index})
    if out.sizes[pick.dim] == 0:
        raise ViewError(f"{pick} selects nothing ({pick.dim} has positions 0 to {size - 1})")
    return out


def _by_label(obj: Any, pick: Pick) -> Any:
    import pandas as pd
    import xarray as xr

    index = obj.indexes[pick.dim]
    assert pick.value is not None
    dates = isinstance(index, pd.DatetimeIndex | xr.CFTimeIndex)
    numeric = not dates and index.dtype.kind in "iuf"
    lo, hi, is_range = _split(pick, dates)
    try:
        if is_range:
            return _label_range(obj, pick, index, lo, hi, dates, numeric)
        if dates or numeric:
            label = _label(pick, lo, dates, numeric)
            if isinstance(index, xr.CFTimeIndex):
                label = _cftime(pick, label, index)
            first, last = index.min(), index.max()
            if not first <= label <= last:
                raise ViewError(f"{pick} is outside {pick.dim} ({_show(first)} to {_show(last)})")
            return obj.sel({pick.dim: label}, method="nearest")
        if lo not in index:
            raise ViewError(f"{pick}: no such label in {pick.dim} ({_examples(index)})")
        return obj.sel({pick.dim: lo})
    except ViewError:
        raise
    except (KeyError, ValueError, TypeError) as exc:
        raise ViewError(f"cannot select {pick}: {type(exc).__name__}") from None


def _split(pick: Pick, dates: bool) -> tuple[str | None, str | None, bool]:
    """(lo, hi, is_range) of a label pick; a date may hold ':' in its time of day."""
    value = pick.value or ""
    if dates:
        if _ONE_DATE.fullmatch(value):
            return value, None, False
        m = _DATE_RANGE.fullmatch(value)
        if not m:
            raise ViewError(f"cannot read {pick}: {pick.dim} holds dates, write e.g. "
                            f"{pick.dim}=2020-01-15 or {pick.dim}=2020-01:2020-03")
        return m["lo"], m["hi"], True
    if ":" not in value:
        return value, None, False
    if value.count(":") > 1:
        raise ViewError(f"cannot read {pick}: write one range as {pick.dim}=lo:hi")
    lo, hi = value.split(":")
    return lo or None, hi or None, True


def _label(pick: Pick, text: str | None, dates: bool, numeric: bool) -> Any:
    import pandas as pd

    if text is None:
        return None
    if dates:
        try:
            return pd.Timestamp(text)
        except (ValueError, TypeError):
            raise ViewError(f"cannot read {text!r} in {pick} as a date") from None
    if numeric:
        try:
            number = float(text)
        except ValueError:
            raise ViewError(f"cannot read {text!r} in {pick} as a number") from None
        if not math.isfinite(number):
            raise ViewError(f"{pick}: the value must be a finite number")
        return number
    return text


def _cftime(pick: Pick, ts: Any, index: Any) -> Any:
    """``ts`` (a pandas Timestamp) as a date of the index's calendar."""
    try:
        return index.date_type(ts.year, ts.month, ts.day, ts.hour, ts.minute, ts.second,
                               ts.microsecond)
    except ValueError:
        raise ViewError(f"{pick}: no such date in the {pick.dim} calendar") from None


def _label_range(obj: Any, pick: Pick, index: Any, lo: str | None, hi: str | None,
                 dates: bool, numeric: bool) -> Any:
    if dates:  # keep the text: partial dates (2020-01) cover the whole month
        for text in (lo, hi):
            _label(pick, text, dates, numeric)
        start, stop = lo, hi
    else:
        start, stop = _label(pick, lo, dates, numeric), _label(pick, hi, dates, numeric)
    if index.is_monotonic_decreasing and not index.is_monotonic_increasing:
        start, stop = stop, start
    elif not index.is_monotonic_increasing:
        raise ViewError(f"{pick.dim} is not sorted, so a label range cannot be cut from it: "
                        f"select by position, e.g. {pick.dim}=[0:10]")
    out = obj.sel({pick.dim: slice(start, stop)})
    if out.sizes[pick.dim] == 0:
        raise ViewError(f"{pick} selects nothing: {pick.dim} runs from {_show(index.min())} "
                        f"to {_show(index.max())}")
    return out


def _show(value: Any) -> str:
    import pandas as pd

    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def _examples(index: Any) -> str:
    values = [str(v) for v in index[:5]]
    more = ", ..." if len(index) > 5 else ""
    return "labels: " + ", ".join(values) + more
