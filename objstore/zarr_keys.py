"""The names of zarr's metadata objects and its chunk keys, in one place, taken from zarr itself.

Every other objstore module imports these names rather than spelling ``".zmetadata"`` or
``"zarr.json"`` again (tests/test_zarr_keys.py checks it).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

from zarr.core.chunk_key_encodings import (
    ChunkKeyEncoding,
    V2ChunkKeyEncoding,
    parse_chunk_key_encoding,
)
from zarr.core.common import (
    ZARR_JSON,
    ZARRAY_JSON,
    ZATTRS_JSON,
    ZGROUP_JSON,
    ZMETADATA_V2_JSON,
)

__all__ = [
    "COMMIT_NAMES",
    "META_NAMES",
    "V2_DOCS",
    "ZARRAY_JSON",
    "ZARR_JSON",
    "ZATTRS_JSON",
    "ZGROUP_JSON",
    "ZMETADATA_V2_JSON",
    "chunk_keys",
    "consolidated_key",
    "is_meta",
    "key_encoding",
]

#: format 2's per-node metadata documents
V2_DOCS = (ZGROUP_JSON, ZATTRS_JSON, ZARRAY_JSON)
#: every metadata object name (the rest of a cube is chunks)
META_NAMES = frozenset({*V2_DOCS, ZMETADATA_V2_JSON, ZARR_JSON})
#: what makes a group complete for readers of consolidated metadata (format 2, format 3)
COMMIT_NAMES = (ZMETADATA_V2_JSON, ZARR_JSON)


def consolidated_key(zarr_format: int) -> str:
    """The object holding a group's consolidated metadata in ``zarr_format`` (2 or 3)."""
    return ZMETADATA_V2_JSON if zarr_format == 2 else ZARR_JSON


def is_meta(key: str) -> bool:
    """Whether ``key`` names a metadata object (of any node, in either format)."""
    return key.rsplit("/", 1)[-1] in META_NAMES


def key_encoding(meta: Mapping[str, Any], zarr_format: int) -> ChunkKeyEncoding:
    """The chunk key encoding of an array from its metadata document (``.zarray`` or
    ``zarr.json``), as zarr builds it."""
    if zarr_format == 2:
        return V2ChunkKeyEncoding(separator=meta.get("dimension_separator") or ".")
    return parse_chunk_key_encoding(meta.get("chunk_key_encoding") or {"name": "default"})


def chunk_keys(path: str, shape: Sequence[int], chunks: Sequence[int],
               encoding: ChunkKeyEncoding) -> list[str]:
    """Every chunk key of an array at ``path`` (relative to the store's root)."""
    if any(s == 0 for s in shape):
        return []
    grid = [range(math.ceil(s / c)) for s, c in zip(shape, chunks, strict=True)]
    prefix = f"{path}/" if path else ""
    return [prefix + encoding.encode_chunk_key(tuple(idx)) for idx in itertools.product(*grid)]
