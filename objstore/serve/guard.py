"""Path checks for dataset routes: unknown variables, malformed or out-of-range chunk keys and
chunks above the size limit answer 4xx before any data is read or computed."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import HTTPException

from ..zarr_keys import V2_DOCS, ZARR_JSON

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["ChunkRequest", "parse_chunk_request", "check_chunk", "chunk_grid", "TooLarge"]

_INT = re.compile(r"^(0|[1-9][0-9]{0,8})$")
_V2_META = V2_DOCS


class TooLarge(HTTPException):
    """413: the chunk asked for is larger than the server's limit (``limit_bytes``)."""

    def __init__(self, what: str, nbytes: int, limit: int) -> None:
        super().__init__(413, detail={"error": f"{what} is {nbytes} bytes, above this server's "
                                               f"limit of {limit} bytes", "limit_bytes": limit})


@dataclass(frozen=True)
class ChunkRequest:
    var: str
    coords: tuple[int, ...] | None  # None: a metadata key of the variable


def _coords(parts: list[str], raw: str) -> tuple[int, ...]:
    if not all(_INT.match(p) for p in parts):
        raise HTTPException(400, detail=f"malformed chunk key {raw!r}: expected "
                                        "non-negative integers")
    return tuple(int(p) for p in parts)


def parse_chunk_request(rest: list[str]) -> ChunkRequest | None:
    """What ``rest`` (path segments after ``/datasets/{id}/``) asks of one variable, if anything.

    ``zarr/VAR/c/0/1``, ``zarr/VAR/zarr.json``, ``zarr2/VAR/0.1``, ``zarr2/VAR/.zarray``,
    ``kerchunk/VAR/0.1``; other routes give None.
    """
    if len(rest) < 3 or rest[0] not in ("zarr", "zarr2", "kerchunk"):
        return None
    route, var, tail = rest[0], rest[1], rest[2:]
    if route == "zarr":
        if tail == [ZARR_JSON]:
            return ChunkRequest(var, None)
        if tail[0] != "c":
            raise HTTPException(404, detail=f"no such key {'/'.join(rest[1:])!r} in a zarr "
                                            "format 3 store (chunks are VAR/c/0/0)")
        return ChunkRequest(var, _coords(tail[1:], "/".join(tail)))
    if len(tail) != 1:
        raise HTTPException(404, detail=f"no such key {'/'.join(rest[1:])!r} (chunks are VAR/0.0)")
    if tail[0] in _V2_META:
        return ChunkRequest(var, None)
    return ChunkRequest(var, _coords(tail[0].split("."), tail[0]))


def chunk_grid(var: xr.Variable) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(chunk shape, number of chunks per dimension) of ``var`` as the endpoints serve it."""
    if not var.shape:
        return (), ()
    chunks = getattr(var.data, "chunksize", None) or var.shape
    chunks = tuple(max(int(c), 1) for c in chunks)
    return chunks, tuple(math.ceil(s / c) for s, c in zip(var.shape, chunks, strict=True))


def check_chunk(ds: xr.Dataset, req: ChunkRequest, limit_bytes: int) -> None:
    """404 for an unknown variable or a chunk outside the grid, 413 for a chunk too large."""
    if req.var not in ds.variables:
        raise HTTPException(404, detail=f"no variable {req.var!r} in this dataset; "
                                        f"the variables are listed at ./keys")
    if req.coords is None:
        return
    var = ds.variables[req.var]
    chunks, grid = chunk_grid(var)
    coords = req.coords
    if not grid and coords in ((), (0,)):
        coords = ()
    if len(coords) != len(grid) or any(c >= n for c, n in zip(coords, grid, strict=True)):
        raise HTTPException(404, detail=f"no chunk {'.'.join(map(str, req.coords)) or '(scalar)'} "
                                        f"in {req.var!r} (chunks per dimension: {list(grid)})")
    nbytes = math.prod(chunks) * max(var.dtype.itemsize, 1)
    if nbytes > limit_bytes:
        raise TooLarge(f"a chunk of {req.var!r}", nbytes, limit_bytes)
