"""Cube I/O settings: which engine (fsspec or obstore), how many requests in flight, and how dask
chunks are grouped.

Object stores answer each request in 10-100 ms, so a cube of many small chunks is fast only when
many requests are in flight at once. objstore keeps ``max_concurrency`` requests in flight per
process for reads and writes (a profile field, default :data:`DEFAULT_MAX_CONCURRENCY`, measured
with ``benchmarks/bench_io.py``), whatever the number of cores:

* the HTTP connection pool of the filesystem that zarr uses is sized to ``max_concurrency``;
* zarr's per-call limit (``async.concurrency``, default 10) is raised to ``max_concurrency``;
* a dask task reads or writes a *group* of up to ``max_concurrency`` stored chunks concurrently
  (:func:`group_chunks`), so dask's few threads (one per core) still keep the pipe full; the
  client's working set stays near ``threads x max_concurrency x chunk size``.

The engine choice (:func:`engine`, :func:`problem`) lives here, in one place; the obstore engine
itself is :mod:`objstore.obstore_engine`. This module imports nothing heavy: zarr and dask are
imported inside the functions that need them.
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import backends
from .backends.gcs import GCS_NOT_OFFERED
from .errors import ConfigError
from .retry import DEFAULT_MAX_CONCURRENCY
from .urls import parse

__all__ = [
    "DEFAULT_MAX_CONCURRENCY",
    "ENGINES",
    "DEFAULT_ENGINE",
    "engine",
    "problem",
    "GCS_NOT_OFFERED",
    "engine_choice",
    "profile_engines",
    "DEFAULT_GROUP_BYTES",
    "max_concurrency",
    "raise_zarr_concurrency",
    "ArrayInfo",
    "group_factors",
    "group_chunks",
    "WRITE_BYTES_IN_FLIGHT",
    "write_in_flight",
]


#: Upper bound on the bytes of one grouped dask chunk when dask's ``array.chunk-size`` is unset.
DEFAULT_GROUP_BYTES = 128 * 2**20


#: I/O engines behind the same profiles. ``fsspec`` (s3fs, gcsfs, adlfs, objstore's Swift) works
#: everywhere; ``obstore`` (Rust, zarr's ``ObjectStore``; :mod:`objstore.obstore_engine`) is offered
#: for S3 and Azure. Not for GCS: the GCS emulator cannot serve obstore's requests, so it is
#: untested (:data:`GCS_NOT_OFFERED` says which requests fail).
ENGINES = ("auto", "fsspec", "obstore")
#: ``auto``: obstore for S3 and Azure where it can do exactly what the profile says (see
#: :func:`problem`), fsspec otherwise.
#: The engine when neither the profile nor ``OBJSTORE_ENGINE`` names one is each Backend's
#: ``default_engine``, as measured (docs/performance.md): ``auto`` on Azure, where obstore read and
#: wrote about twice as fast as adlfs in every run (adlfs spends about 2 ms of CPU per request);
#: ``fsspec`` elsewhere (on S3 the two engines traded places between runs against moto).
DEFAULT_ENGINE = "fsspec"
def problem(protocol: str, options: Mapping[str, Any], *, explicit: bool = True) -> str | None:
    """Why obstore cannot do exactly what ``options`` say for ``protocol`` (None: it can): the
    backend's answer (``Backend.obstore_problem``), once obstore is known to be installed."""
    backend = backends.for_protocol(protocol)
    if backend.obstore_offered and importlib.util.find_spec("obstore") is None:
        return "the obstore engine needs the obstore package: pip install obstore"
    return backend.obstore_problem(protocol, options, explicit=explicit)


def engine(profile: Any, protocol: str, options: Mapping[str, Any] | None = None, *,
           reading: bool = False) -> str:
    """The I/O engine (``fsspec`` or ``obstore``) for ``protocol`` under ``profile``.

    The profile's ``engine`` field if it has one, else ``OBJSTORE_ENGINE``, else the backend's
    ``default_engine`` (:data:`DEFAULT_ENGINE` unless it says otherwise; ``reading`` only words
    the reason):

    * ``auto`` picks obstore for S3 and Azure when it is installed and the storage options
      translate exactly (S3: explicit keys or anonymous; endpoint, region, requester pays. Azure:
      the connection string with an account key, a SAS, or anonymous), else fsspec.
    * ``obstore`` that cannot be honoured raises :class:`~objstore.errors.ConfigError` naming the
      option (or, for GCS, why obstore is not offered there). From ``OBJSTORE_ENGINE`` (one
      setting for every backend) it means "obstore where offered": Swift, GCS, HTTP and memory
      URLs use fsspec; in a profile's ``engine`` field it is refused on those too.
    """
    return engine_choice(profile, protocol, options, reading=reading)[0]


def engine_choice(profile: Any, protocol: str, options: Mapping[str, Any] | None = None, *,
                  reading: bool = False) -> tuple[str, str]:
    """``(engine, why)``: :func:`engine`'s answer and the reason, in words (``profiles show``)."""
    backend = backends.for_protocol(protocol)
    field = getattr(profile, "engine", None)
    env = os.environ.get("OBJSTORE_ENGINE")
    name = str(field or env or backend.default_engine).lower()
    work = "reads" if reading else "writes"
    source = (f"the profile sets engine = {name!r}" if field else
              f"OBJSTORE_ENGINE is {name!r}" if env else
              f"the default for {protocol}:// {work} is {name!r}")
    if name not in ENGINES:
        raise ConfigError(f"unknown I/O engine {name!r}: expected one of {', '.join(ENGINES)}")
    if name == "fsspec":
        return "fsspec", source
    if name == "auto":
        if not backend.obstore_offered:
            return "fsspec", f"{source}, and obstore is not offered for {protocol}://"
        why = problem(protocol, options or {}, explicit=False)
        if why:
            return "fsspec", f"{source}, and obstore cannot be used: {why}"
        return "obstore", f"{source}, and obstore can do exactly what the profile says"
    if not backend.obstore_offered and not field:
        return "fsspec", f"{source} (obstore where offered), not offered for {protocol}://"
    why = problem(protocol, options or {}, explicit=True)
    if why:
        who = f"profile {getattr(profile, 'name', '') or '(unnamed)'!r}"
        where = "its engine field" if field else "OBJSTORE_ENGINE"
        raise ConfigError(f'{who} asks for engine "obstore" ({where}), but {why}')
    return "obstore", source


def profile_engines(profile: Any) -> dict[str, dict[str, str]]:
    """``{"read": {...}, "write": {...}}``: the engine, its library and why, for ``profile``'s
    backend (``open_cube`` reads; ``write_cube`` and ``publish`` write). Raises what resolving a
    URL of the profile raises (a missing library, an incomplete profile)."""
    backend = backends.get(str(getattr(profile, "backend", "")))
    if not backend.has_buckets:
        only = {"engine": "fsspec", "library": backend.library,
                "why": f"the only engine for {backend.name} URLs"}
        return {"read": only, "write": dict(only)}
    url = parse(f"{backend.schemes[0]}://bucket/cube.zarr")
    protocol, _, options = backends.storage_options(profile, url)
    out = {}
    for mode in ("read", "write"):
        name, why = engine_choice(profile, protocol, options, reading=mode == "read")
        out[mode] = {"engine": name, "library": "obstore" if name == "obstore"
                     else backend.library, "why": why}
    return out


def max_concurrency(profile: Any) -> int:
    """The profile's ``max_concurrency``, or the measured default."""
    n = getattr(profile, "max_concurrency", None)
    return int(n) if n else DEFAULT_MAX_CONCURRENCY


_raised_to = 0


def raise_zarr_concurrency(n: int) -> None:
    """Raise zarr's ``async.concurrency`` (requests per zarr call) to at least ``n``.

    Process-wide and only ever upwards: a larger value set by the user is kept.
    """
    global _raised_to
    if n <= _raised_to:
        return
    import zarr

    if int(zarr.config.get("async.concurrency") or 0) < n:
        zarr.config.set({"async.concurrency": n})
    _raised_to = n


#: The most bytes of chunks a write keeps queued and in flight (at least two chunks): enough
#: requests to hide latency for small chunks, few enough that big chunks stay within
#: (requests in flight x chunk) plus a constant.
WRITE_BYTES_IN_FLIGHT = 64 * 2**20


def write_in_flight(chunk_bytes: int, n: int) -> int:
    """How many chunks of ``chunk_bytes`` a write keeps in flight, ``n`` (``max_concurrency``)
    at most: :data:`WRITE_BYTES_IN_FLIGHT` of them, at least 2."""
    return max(2, min(n, WRITE_BYTES_IN_FLIGHT // max(int(chunk_bytes), 1)))


# ------------------------------------------------------------------------------ chunk grouping
@dataclass(frozen=True)
class ArrayInfo:
    """What grouping needs to know about one stored array."""

    dims: tuple[str, ...]
    shape: tuple[int, ...]
    chunks: tuple[int, ...]  # stored chunk (or shard) shape: one object per chunk
    itemsize: int

    @property
    def chunk_bytes(self) -> int:
        return math.prod(self.chunks) * max(1, self.itemsize)


def group_factors(info: ArrayInfo, target: int, max_bytes: int) -> tuple[int, ...]:
    """How many stored chunks, per dimension, one dask chunk should cover.

    Outermost dimension first, and an inner dimension only once the outer ones are covered whole
    (so a group is a contiguous block): at most ``target`` chunks and ``max_bytes`` per group.
    """
    factors = [1] * len(info.shape)
    budget = max(1, target)
    nbytes = info.chunk_bytes
    for d, (size, chunk) in enumerate(zip(info.shape, info.chunks, strict=True)):
        n_chunks = max(1, math.ceil(size / chunk)) if chunk else 1
        f = max(1, min(n_chunks, budget, max_bytes // max(1, nbytes)))
        factors[d] = f
        budget //= f
        nbytes *= f
        if f < n_chunks or budget <= 1:
            break
    return tuple(factors)


def group_chunks(arrays: Iterable[ArrayInfo], target: int,
                 max_bytes: int | None = None) -> dict[str, int]:
    """A dims -> dask chunk size mapping (for ``xr.open_zarr(chunks=...)`` / ``Dataset.chunk``).

    Each dimension's size is a whole number of stored chunks, chosen so that a dask chunk of every
    array covers at most ``target`` stored chunks and ``max_bytes``. A dimension whose arrays
    disagree on the stored chunk size is left out (xarray then uses the stored chunks).
    """
    if max_bytes is None:
        max_bytes = _dask_chunk_bytes()
    stored: dict[str, set[int]] = {}
    extent: dict[str, int] = {}
    limit: dict[str, int] = {}
    for info in arrays:
        if not info.shape:
            continue
        factors = group_factors(info, target, max_bytes)
        for dim, size, chunk, f in zip(info.dims, info.shape, info.chunks, factors, strict=True):
            stored.setdefault(dim, set()).add(chunk)
            extent[dim] = max(extent.get(dim, 0), size)
            if f * chunk < size:  # this array is constrained along dim
                limit[dim] = min(limit.get(dim, f), f)
    out: dict[str, int] = {}
    for dim, sizes in stored.items():
        if len(sizes) != 1:
            continue
        (chunk,) = sizes
        out[dim] = min(extent[dim], limit[dim] * chunk) if dim in limit else max(extent[dim], 1)
    return out


def _dask_chunk_bytes() -> int:
    try:
        import dask
        from dask.utils import parse_bytes

        value = dask.config.get("array.chunk-size", None)
        return int(parse_bytes(value)) if value else DEFAULT_GROUP_BYTES
    except Exception:  # noqa: BLE001 - dask missing or a strange setting: use the default
        return DEFAULT_GROUP_BYTES


def write_chunks(dask_chunks: Sequence[Sequence[int]], stored: Sequence[int], target: int,
                 max_bytes: int, itemsize: int) -> tuple[int, ...] | None:
    """Dask chunk sizes grouping ``stored`` chunks for writing, or None to leave the array alone.

    Only regular dask chunkings that are whole multiples of the stored chunks are regrouped (so
    no two dask chunks ever write to the same stored chunk); the groups never shrink a dask chunk.
    """
    shape = tuple(sum(c) for c in dask_chunks)
    current = []
    for sizes, s in zip(dask_chunks, stored, strict=True):
        body = sizes[:-1] if len(sizes) > 1 else sizes
        if not s or len(set(body)) > 1 or body[0] % s:
            return None
        current.append(body[0])
    per_chunk = math.prod(c // s for c, s in zip(current, stored, strict=True))
    info = ArrayInfo(tuple(str(i) for i in range(len(shape))), shape, tuple(current), itemsize)
    factors = group_factors(info, max(1, target // per_chunk), max_bytes)
    new = tuple(c * f for c, f in zip(current, factors, strict=True))
    return None if new == tuple(current) else new
