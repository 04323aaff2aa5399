"""publish's first step: the source, ready to upload.

* A zarr folder is *staged* (:func:`stage`): used as it is (never modified); its consolidated
  metadata is built from the cube's own metadata documents and compared with the one present
  (created in memory if missing, rebuilt if stale); chunk files are checked against array shapes.
* Anything else (a NetCDF file or other file xarray opens, an ``xarray.Dataset``, a zarr folder
  to rechunk) is *opened* (:func:`open_source`): chunked for zarr, CF attributes and encodings
  kept, and written straight to the destination by :mod:`objstore.publish_stream`.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import SourceError, scrub
from .transfer import Item, scan_local
from .write_marker import PUBLISH_MARKER as MARKER
from .zarr_keys import (
    META_NAMES,
    V2_DOCS,
    ZARR_JSON,
    ZARRAY_JSON,
    ZATTRS_JSON,
    ZGROUP_JSON,
    ZMETADATA_V2_JSON,
    consolidated_key,
)

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["Staged", "stage", "open_source", "parse_chunks", "DEFAULT_CHUNK_TARGET", "METADATA_DOCS",
           "consolidated_part"]

Note = Callable[[str], None]  # tells the caller something as it happens

METADATA_DOCS = (*V2_DOCS, ZARR_JSON)
_NETCDF_ENCODINGS = {  # storage details of netCDF/HDF5 that mean nothing to zarr
    "chunks", "preferred_chunks", "zlib", "complevel", "shuffle", "fletcher32", "contiguous",
    "chunksizes", "source", "original_shape", "szip_coding", "szip_pixels_per_block",
    "blosc_shuffle", "compression", "endian", "least_significant_digit", "quantize_mode",
    "significant_digits", "compressor", "compressors", "filters", "serializer", "shards",
    "write_empty_chunks",
}
DEFAULT_CHUNK_TARGET = "16MiB"


@dataclass
class Staged:
    """The cube to publish: its objects keyed by relative path (files of a local zarr folder, or
    what a streamed conversion produced, with ``root`` None)."""

    root: Path | None
    items: dict[str, Item]
    zarr_format: int
    final: list[str]  # uploaded last, in this order (root documents, then consolidated)
    notes: list[str]
    consolidated_ok: bool = True

    def final_groups(self) -> list[list[str]]:
        """The final documents in upload order: root documents together, consolidated last."""
        *root, last = self.final
        return [root, [last]] if root else [[last]]

    def dataset(self) -> xr.Dataset:
        """The staged cube opened locally (what readers of the published one should see)."""
        import xarray as xr

        assert self.root is not None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return xr.open_zarr(self.root, consolidated=self.consolidated_ok)


def parse_chunks(spec: str | dict[str, Any] | None) -> dict[str, Any]:
    """``"time=1,lat=256"`` → ``{"time": 1, "lat": 256}`` (``-1`` whole dim, ``auto``)."""
    if spec is None or spec == "":
        return {}
    if isinstance(spec, dict):
        return dict(spec)
    out: dict[str, Any] = {}
    for part in str(spec).split(","):
        if not part.strip():
            continue
        dim, sep, value = part.partition("=")
        value = value.strip()
        if not sep or not dim.strip() or not value:
            raise SourceError(f"--chunks {spec!r}: expected DIM=SIZE[,DIM=SIZE...], e.g. time=1,lat=256")
        if value == "auto":
            out[dim.strip()] = "auto"
        else:
            try:
                out[dim.strip()] = int(value)
            except ValueError:
                raise SourceError(f"--chunks {spec!r}: {value!r} is not a whole number "
                                  "(or -1, or auto)") from None
    return out


def _is_zarr_dir(path: Path) -> bool:
    return path.is_dir() and any((path / n).is_file() for n in META_NAMES)


def _clean_for_zarr(ds: xr.Dataset) -> xr.Dataset:
    ds = ds.copy()
    for var in ds.variables.values():
        var.encoding = {k: v for k, v in var.encoding.items() if k not in _NETCDF_ENCODINGS}
    return ds


def _chunked(ds: xr.Dataset, chunks: dict[str, Any], *, keep: bool) -> xr.Dataset:
    """Chunk for zarr: ``chunks`` for the dimensions it names; the rest keep the dataset's own
    dask chunks when ``keep`` and it has some, else dask's ``auto`` at about 16 MiB a chunk."""
    import dask

    unknown = set(chunks) - set(ds.dims)
    if unknown:
        raise SourceError(f"--chunks names {', '.join(sorted(unknown))}, which the dataset does "
                          f"not have (its dimensions: {', '.join(map(str, ds.dims))})")
    if keep and any(v.chunks for v in ds.data_vars.values()):
        return ds.chunk(chunks) if chunks else ds
    spec = {dim: chunks.get(str(dim), "auto") for dim in ds.dims}
    with dask.config.set({"array.chunk-size": DEFAULT_CHUNK_TARGET}):
        return ds.chunk(spec)


def _local_path(src: Any) -> Path:
    text = str(src)
    if "://" in text and not text.startswith("file://"):
        raise SourceError(f"{text}: publish reads a local file or zarr folder; copy remote data "
                          "with `objstore cp` first")
    path = Path(text.removeprefix("file://")).expanduser()
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if path.is_dir() and not _is_zarr_dir(path):
        raise SourceError(f"{path} is a folder but not a zarr store (no .zgroup or zarr.json)")
    return path


@contextmanager
def open_source(src: Any, chunks: dict[str, Any], note: Note) -> Iterator[xr.Dataset]:
    """The dataset a conversion of ``src`` (a Dataset, a file xarray opens, or a zarr folder to
    rechunk with ``chunks``) writes: netCDF storage details dropped, chunked for zarr. The file
    stays open while the dataset is in use. Raises :class:`SourceError`."""
    import xarray as xr

    if isinstance(src, xr.Dataset):
        note("converting the dataset to zarr")
        yield _chunked(_clean_for_zarr(src), chunks, keep=True)
        return
    path = _local_path(src)
    if path.is_dir():
        note(f"rechunking {path.name} ({_chunks_text(chunks)})")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = xr.open_zarr(path, consolidated=None)
        with ds:
            yield _chunked(_clean_for_zarr(ds), chunks, keep=True)
        return
    try:
        ds = xr.open_dataset(path, chunks={})
    except Exception as exc:
        raise SourceError(f"{path}: xarray cannot open it ({type(exc).__name__}: "
                          f"{scrub(str(exc).splitlines()[0])[:200] if str(exc) else ''})") from None
    note(f"converting {path.name} to zarr"
         + (f" ({_chunks_text(chunks)})" if chunks else f" (chunks about {DEFAULT_CHUNK_TARGET})"))
    with ds:
        yield _chunked(_clean_for_zarr(ds), chunks, keep=False)


def stage(src: Any, note: Note) -> Staged:
    """A zarr folder ``src``, used as it is (never modified): its objects, with consolidated
    metadata checked (built in memory if missing or stale). Raises :class:`SourceError`."""
    path = _local_path(src)
    if not path.is_dir():
        raise SourceError(f"{path} is a file: publish converts it (open_source), not stages it")
    return _finish_stage(path, [], note)


def _chunks_text(chunks: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in chunks.items())


def _finish_stage(root: Path, notes: list[str], note: Note) -> Staged:
    items = scan_local(root)
    items.pop(MARKER, None)
    if ZARR_JSON in items:
        fmt = 3
    elif ZGROUP_JSON in items or ZMETADATA_V2_JSON in items:
        fmt = 2
    else:
        raise SourceError(f"{root} is a zarr array, not a group: publish takes a dataset "
                          "(a zarr group, as xarray writes)")
    staged = Staged(root, items, fmt, [], notes)
    _check_consolidated(staged, note)
    if fmt == 2:
        staged.final = [n for n in (ZGROUP_JSON, ZATTRS_JSON) if n in items] + [ZMETADATA_V2_JSON]
    else:
        staged.final = [ZARR_JSON]
    _check_chunks(staged)
    return staged


def _consolidate_in_memory(items: dict[str, Item], fmt: int) -> bytes:
    """Consolidated metadata built by zarr from the cube's metadata documents alone."""
    import zarr
    from zarr.core.buffer import default_buffer_prototype
    from zarr.storage import MemoryStore

    proto = default_buffer_prototype()
    docs = {rel: proto.buffer.from_bytes(_read(item)) for rel, item in items.items()
            if rel.rsplit("/", 1)[-1] in METADATA_DOCS}
    store = MemoryStore(store_dict=docs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zarr.consolidate_metadata(store, zarr_format=fmt)  # type: ignore[arg-type]
    return docs[consolidated_key(fmt)].to_bytes()


def _read(item: Item) -> bytes:
    if item.data is not None:
        return item.data
    assert item.path is not None
    return Path(item.path).read_bytes()


def consolidated_part(doc: bytes, fmt: int) -> Any:
    data = json.loads(doc)
    return data.get("metadata") if fmt == 2 else (data.get("consolidated_metadata") or {}).get(
        "metadata")


def _check_consolidated(staged: Staged, note: Note) -> None:
    fmt, items = staged.zarr_format, staged.items
    key = consolidated_key(fmt)
    try:
        fresh = _consolidate_in_memory(items, fmt)
    except Exception as exc:
        raise SourceError(f"{staged.root}: its zarr metadata cannot be read "
                          f"({type(exc).__name__}: {scrub(str(exc))[:200]})") from None
    current = items.get(key)
    try:
        present = consolidated_part(_read(current), fmt) if current is not None else None
    except ValueError:
        present = None
    if present is not None and present == consolidated_part(fresh, fmt):
        return
    text = ("consolidated metadata created (it was missing)" if present is None else
            "consolidated metadata rebuilt: it did not match the arrays' own metadata")
    staged.notes.append(text)
    note(text)
    staged.items[key] = Item(key, len(fresh), data=fresh)
    staged.consolidated_ok = False


_V2_CHUNK = re.compile(r"^\d+(?:[./]\d+)*$")


def _check_chunks(staged: Staged) -> None:
    """Chunk files must lie inside their array's chunk grid: others betray stale metadata."""
    import math

    meta = consolidated_part(_read(staged.items[consolidated_key(staged.zarr_format)]),
                             staged.zarr_format) or {}
    arrays: dict[str, tuple[list[int], list[int]]] = {}
    for key, doc in meta.items():
        if staged.zarr_format == 2 and key.endswith(ZARRAY_JSON):
            arrays[key[: -len(ZARRAY_JSON)].rstrip("/")] = (doc["shape"], doc["chunks"])
        elif staged.zarr_format == 3 and isinstance(doc, dict) and doc.get("node_type") == "array":
            grid = doc.get("chunk_grid", {}).get("configuration", {}).get("chunk_shape")
            if grid is not None:
                arrays[key.strip("/")] = (doc["shape"], grid)
    bad: list[str] = []
    for rel in staged.items:
        folder, _, name = rel.rpartition("/")
        if name in METADATA_DOCS or name == ZMETADATA_V2_JSON:
            continue
        for array, (shape, chunk) in arrays.items():
            prefix = f"{array}/" if array else ""
            if not rel.startswith(prefix):
                continue
            tail = rel[len(prefix):]
            if staged.zarr_format == 3:
                if not tail.startswith("c"):
                    continue
                tail = tail[1:].lstrip("/.")
            if not _V2_CHUNK.match(tail):
                continue
            index = [int(x) for x in re.split(r"[./]", tail)]
            if len(index) != len(shape):
                continue
            limits = [max(1, math.ceil(s / c)) if c else 1 for s, c in zip(shape, chunk, strict=True)]
            if any(i >= n for i, n in zip(index, limits, strict=True)):
                bad.append(rel)
            break
    if bad:
        raise SourceError(
            f"{staged.root}: chunk files beyond their arrays' shapes ({', '.join(bad[:5])}"
            f"{', ...' if len(bad) > 5 else ''}): the metadata is stale (data appended without "
            "updating it?). Rewrite the cube, or delete those files")


