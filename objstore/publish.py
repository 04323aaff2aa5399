"""``publish``: a data cube from a NetCDF file, a zarr folder or an ``xarray.Dataset`` to an object
store, in one step that never leaves a half-published or accidentally overwritten cube.

1. Stage: a file or a Dataset is converted to a local zarr folder (chunked, CF attributes and
   encodings kept); a zarr folder is used as it is (never modified).
2. Consolidated metadata is built from the cube's own metadata documents and compared with the one
   present (created if missing, rebuilt if stale); chunk files are checked against array shapes.
3. The destination is listed once. A complete cube there (consolidated metadata present) that
   differs from the source is refused unless ``overwrite``; objects left by an interrupted
   publish (marked by :data:`MARKER`) are resumed: only missing or different objects are sent.
4. Upload: chunks and array metadata first, concurrently. Overwrite deletes the old consolidated
   metadata (and the old root documents) *before* anything else, so readers never see old
   metadata over new chunks.
5. Verify: the destination is listed again; object count, sizes and MD5 checksums (where the
   backend reports them) must match the source, or the publish stops with the cube unpublished.
6. The root metadata documents, then the consolidated metadata, are uploaded last.
7. ``public``: made world-readable the backend's way (:mod:`objstore.public`), then proved by
   opening the cube over https with plain fsspec + xarray and no credentials.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .api import resolve
from .boundary import mapped_errors
from .buckets import require_bucket
from .cube import describe_existing
from .errors import (
    CubeExistsError,
    CubeNotFoundError,
    InvalidURLError,
    PublicReadError,
    SourceError,
    scrub,
)
from .public import _make_public, reader_snippet
from .scratch_prefix import check_write_allowed
from .transfer import (
    Item,
    Mismatch,
    VerificationError,
    VerifyReport,
    concurrency_for,
    delete,
    human_bytes,
    list_tree,
    same,
    scan_local,
    send,
    verify,
)

if TYPE_CHECKING:
    import xarray as xr

    from .api import Resolved
    from .profiles import Profile

__all__ = ["publish", "PublishResult", "Reporter", "PublicReadError", "MARKER", "parse_chunks",
           "SourceError"]

#: Put at the destination before the first chunk and removed after the consolidated metadata:
#: objects next to it are an interrupted publish, which a re-run may resume.
MARKER = ".objstore-publishing"
_METADATA_DOCS = (".zgroup", ".zattrs", ".zarray", "zarr.json")
_NETCDF_ENCODINGS = {  # storage details of netCDF/HDF5 that mean nothing to zarr
    "chunks", "preferred_chunks", "zlib", "complevel", "shuffle", "fletcher32", "contiguous",
    "chunksizes", "source", "original_shape", "szip_coding", "szip_pixels_per_block",
    "blosc_shuffle", "compression", "endian", "least_significant_digit", "quantize_mode",
    "significant_digits", "compressor", "compressors", "filters", "serializer", "shards",
    "write_empty_chunks",
}
DEFAULT_CHUNK_TARGET = "16MiB"


class Reporter:
    """What ``publish`` tells its caller as it goes (the CLI draws a progress bar from it)."""

    def note(self, text: str) -> None:
        pass

    def upload_started(self, objects: int, nbytes: int) -> None:
        pass

    def advance(self, objects: int, nbytes: int) -> None:
        pass

    def upload_finished(self) -> None:
        pass


@dataclass
class PublishResult:
    url: str
    public_url: str | None
    objects: int  # objects in the published cube
    bytes: int
    skipped: int  # already at the destination and identical, not sent again
    skipped_bytes: int = 0
    uploaded: int = 0
    uploaded_bytes: int = 0
    deleted: int = 0  # stale objects removed (overwrite)
    checksums: int = 0  # objects whose MD5 the backend confirmed
    seconds: float = 0.0
    zarr_format: int = 2
    snippet: str | None = None
    notes: list[str] = field(default_factory=list)
    catalog: Any = None  # objstore.catalog.update.CatalogUpdate, with catalog=

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "public_url": self.public_url, "objects": self.objects,
                "bytes": self.bytes, "skipped": self.skipped}


# ------------------------------------------------------------------------------------ staging
@dataclass
class _Staged:
    root: Path
    items: dict[str, Item]
    zarr_format: int
    final: list[str]  # uploaded last, in this order (root documents, then consolidated)
    notes: list[str]
    tmp: tempfile.TemporaryDirectory[str] | None = None
    consolidated_ok: bool = True

    def cleanup(self) -> None:
        if self.tmp is not None:
            self.tmp.cleanup()

    def final_groups(self) -> list[list[str]]:
        """The final documents in upload order: root documents together, consolidated last."""
        *root, last = self.final
        return [root, [last]] if root else [[last]]

    def dataset(self) -> xr.Dataset:
        """The staged cube opened locally (what readers of the published one should see)."""
        import xarray as xr

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
    return path.is_dir() and any((path / n).is_file() for n in (".zgroup", "zarr.json", ".zarray",
                                                                  ".zmetadata"))


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


def _convert(ds: xr.Dataset, out: Path, chunks: dict[str, Any], zarr_format: int, *,
             keep: bool = True) -> None:
    ds = _chunked(_clean_for_zarr(ds), chunks, keep=keep)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        ds.to_zarr(out, mode="w-", consolidated=True, zarr_format=zarr_format)


def _stage(src: Any, chunks: dict[str, Any], zarr_format: int, reporter: Reporter) -> _Staged:
    import xarray as xr

    notes: list[str] = []

    def say(text: str) -> None:
        notes.append(text)
        reporter.note(text)

    if isinstance(src, xr.Dataset):
        tmp = tempfile.TemporaryDirectory(prefix="objstore-publish-")
        root = Path(tmp.name) / "cube.zarr"
        say("converting the dataset to zarr")
        _convert(src, root, chunks, zarr_format)
        return _finish_stage(root, notes, tmp, reporter)
    text = str(src)
    if "://" in text and not text.startswith("file://"):
        raise SourceError(f"{text}: publish reads a local file or zarr folder; copy remote data "
                          "with `objstore cp` first")
    path = Path(text.removeprefix("file://")).expanduser()
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if path.is_dir():
        if not _is_zarr_dir(path):
            raise SourceError(f"{path} is a folder but not a zarr store (no .zgroup or zarr.json)")
        if not chunks:
            return _finish_stage(path, notes, None, reporter)
        tmp = tempfile.TemporaryDirectory(prefix="objstore-publish-")
        root = Path(tmp.name) / "cube.zarr"
        say(f"rechunking {path.name} ({_chunks_text(chunks)})")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = xr.open_zarr(path, consolidated=None)
        _convert(ds, root, chunks, zarr_format)
        return _finish_stage(root, notes, tmp, reporter)
    tmp = tempfile.TemporaryDirectory(prefix="objstore-publish-")
    root = Path(tmp.name) / "cube.zarr"
    try:
        ds = xr.open_dataset(path, chunks={})
    except Exception as exc:
        tmp.cleanup()
        raise SourceError(f"{path}: xarray cannot open it ({type(exc).__name__}: "
                          f"{scrub(str(exc).splitlines()[0])[:200] if str(exc) else ''})") from None
    say(f"converting {path.name} to zarr"
        + (f" ({_chunks_text(chunks)})" if chunks else f" (chunks about {DEFAULT_CHUNK_TARGET})"))
    with ds:
        _convert(ds, root, chunks, zarr_format, keep=False)
    return _finish_stage(root, notes, tmp, reporter)


def _chunks_text(chunks: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in chunks.items())


def _finish_stage(root: Path, notes: list[str], tmp: Any, reporter: Reporter) -> _Staged:
    items = scan_local(root)
    items.pop(MARKER, None)
    if "zarr.json" in items:
        fmt = 3
    elif ".zgroup" in items or ".zmetadata" in items:
        fmt = 2
    else:
        raise SourceError(f"{root} is a zarr array, not a group: publish takes a dataset "
                          "(a zarr group, as xarray writes)")
    staged = _Staged(root, items, fmt, [], notes, tmp)
    _check_consolidated(staged, reporter)
    if fmt == 2:
        staged.final = [n for n in (".zgroup", ".zattrs") if n in items] + [".zmetadata"]
    else:
        staged.final = ["zarr.json"]
    _check_chunks(staged)
    return staged


def _consolidate_in_memory(items: dict[str, Item], fmt: int) -> bytes:
    """Consolidated metadata built by zarr from the cube's metadata documents alone."""
    import zarr
    from zarr.core.buffer import default_buffer_prototype
    from zarr.storage import MemoryStore

    proto = default_buffer_prototype()
    docs = {rel: proto.buffer.from_bytes(_read(item)) for rel, item in items.items()
            if rel.rsplit("/", 1)[-1] in _METADATA_DOCS}
    store = MemoryStore(store_dict=docs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zarr.consolidate_metadata(store, zarr_format=fmt)  # type: ignore[arg-type]
    return docs[".zmetadata" if fmt == 2 else "zarr.json"].to_bytes()


def _read(item: Item) -> bytes:
    if item.data is not None:
        return item.data
    assert item.path is not None
    return Path(item.path).read_bytes()


def _consolidated_part(doc: bytes, fmt: int) -> Any:
    data = json.loads(doc)
    return data.get("metadata") if fmt == 2 else (data.get("consolidated_metadata") or {}).get(
        "metadata")


def _check_consolidated(staged: _Staged, reporter: Reporter) -> None:
    fmt, items = staged.zarr_format, staged.items
    key = ".zmetadata" if fmt == 2 else "zarr.json"
    try:
        fresh = _consolidate_in_memory(items, fmt)
    except Exception as exc:
        raise SourceError(f"{staged.root}: its zarr metadata cannot be read "
                          f"({type(exc).__name__}: {scrub(str(exc))[:200]})") from None
    current = items.get(key)
    try:
        present = _consolidated_part(_read(current), fmt) if current is not None else None
    except ValueError:
        present = None
    if present is not None and present == _consolidated_part(fresh, fmt):
        return
    text = ("consolidated metadata created (it was missing)" if present is None else
            "consolidated metadata rebuilt: it did not match the arrays' own metadata")
    staged.notes.append(text)
    reporter.note(text)
    staged.items[key] = Item(key, len(fresh), data=fresh)
    staged.consolidated_ok = False


_V2_CHUNK = re.compile(r"^\d+(?:[./]\d+)*$")


def _check_chunks(staged: _Staged) -> None:
    """Chunk files must lie inside their array's chunk grid: others betray stale metadata."""
    import math

    meta = _consolidated_part(_read(staged.items[".zmetadata" if staged.zarr_format == 2
                                                  else "zarr.json"]), staged.zarr_format) or {}
    arrays: dict[str, tuple[list[int], list[int]]] = {}
    for key, doc in meta.items():
        if staged.zarr_format == 2 and key.endswith(".zarray"):
            arrays[key[: -len(".zarray")].rstrip("/")] = (doc["shape"], doc["chunks"])
        elif staged.zarr_format == 3 and isinstance(doc, dict) and doc.get("node_type") == "array":
            grid = doc.get("chunk_grid", {}).get("configuration", {}).get("chunk_shape")
            if grid is not None:
                arrays[key.strip("/")] = (doc["shape"], grid)
    bad: list[str] = []
    for rel in staged.items:
        folder, _, name = rel.rpartition("/")
        if name in _METADATA_DOCS or name == ".zmetadata":
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


# ------------------------------------------------------------------------------------ publish
def _describe(tree: dict[str, Item]) -> str:
    return describe_existing(list({rel.split("/", 1)[0] for rel in tree}), objects=len(tree),
                             nbytes=sum(i.size for i in tree.values()))


def _is_metadata(rel: str) -> bool:
    return rel.rsplit("/", 1)[-1] in _METADATA_DOCS or rel == ".zmetadata"


def publish(
    src: str | os.PathLike[str] | xr.Dataset,
    dest: str,
    profile: str | Profile | None = None,
    *,
    public: bool = False,
    overwrite: bool = False,
    chunks: str | dict[str, Any] | None = None,
    zarr_format: Literal[2, 3] = 2,
    concurrency: int | None = None,
    reporter: Reporter | None = None,
    force: bool = False,
    catalog: str | os.PathLike[str] | None = None,
) -> PublishResult:
    """Publish ``src`` (a NetCDF or other file xarray opens, a zarr folder, or a Dataset) at
    ``dest`` as a zarr cube with consolidated metadata; see the module docstring for the steps.

    Refuses (:class:`CubeExistsError`) if ``dest`` holds a different cube unless ``overwrite``;
    re-running an interrupted publish resumes it. Raises :class:`VerificationError` if what the
    store holds does not match the source (the cube stays unpublished). With ``public=True`` the
    result carries the https URL and the reader snippet. With ``catalog`` (a path or URL) the
    cube's entry is added to that intake catalog and its STAC collection (made public too).
    """
    t0 = time.perf_counter()
    rep = reporter or Reporter()
    r = resolve(dest, profile)
    if not r.backend.allows_writes:
        raise InvalidURLError(f"{dest}: cannot publish to a plain https URL; use the store's own "
                              "URL (s3://, gs://, az://, swift://)")
    if not r.url.key and r.backend.has_buckets:
        raise InvalidURLError(f"{dest}: give the cube a name inside the bucket, e.g. "
                              f"{dest.rstrip('/')}/cube.zarr")
    check_write_allowed(r.url, force=force)
    with mapped_errors(r):
        require_bucket(r)  # before a conversion that may take long
    if public and not r.backend.can_be_public:
        raise InvalidURLError(f"{dest}: --public needs an object store (s3, gs, az, swift), "
                              f"not a {r.url.backend} URL")
    spec = parse_chunks(chunks)
    if not overwrite and _needs_conversion(src, spec):
        with mapped_errors(r):  # before a conversion that may take long: is the name taken?
            _refuse_if_a_different_cube_is_there(r, src)
    staged = _stage(src, spec, zarr_format, rep)
    try:
        with mapped_errors(r):
            result = _publish_staged(staged, r, public=public, overwrite=overwrite,
                                     concurrency=concurrency, rep=rep)
    finally:
        staged.cleanup()
    if catalog is not None:
        from .catalog.update import add_to_catalog

        result.catalog = add_to_catalog(catalog, dest, profile, public=public)
    result.seconds = time.perf_counter() - t0
    return result


def _needs_conversion(src: Any, chunks: dict[str, Any]) -> bool:
    if chunks or not isinstance(src, (str, os.PathLike)):
        return True
    path = Path(str(src).removeprefix("file://")).expanduser()
    return not path.is_dir()


def _refuse_if_a_different_cube_is_there(r: Resolved, src: Any) -> None:
    """Before converting: a cube at ``r`` whose arrays (names, shapes) differ from the source's is
    refused at once. One that matches is compared object by object after the conversion, so the
    same source published again sends nothing (conversion is deterministic)."""
    tree = list_tree(r)
    tree.pop(MARKER, None)
    names = sorted(set(tree) & {".zmetadata", "zarr.json"})
    if not names:
        return
    theirs = _remote_shapes(r, names[0])
    if theirs is not None and theirs == _source_shapes(src):
        return
    raise CubeExistsError(
        f"{r.url.url} already holds {_describe(tree)}, not this source; refusing to overwrite "
        "it. Pass --overwrite (overwrite=True) to replace it (objects that did not change are "
        "not sent again), or choose another name")


def _remote_shapes(r: Resolved, name: str) -> dict[str, tuple[int, ...]] | None:
    """``{array: shape}`` from the consolidated metadata at ``r`` (None if unreadable)."""
    try:
        meta = _consolidated_part(r.fs.cat_file(f"{r.path.rstrip('/')}/{name}"),
                                  2 if name == ".zmetadata" else 3) or {}
    except (OSError, ValueError):
        return None
    shapes: dict[str, tuple[int, ...]] = {}
    for key, doc in meta.items():
        if key.endswith(".zarray") and isinstance(doc, dict):
            shapes[key[: -len(".zarray")].strip("/")] = tuple(doc.get("shape", ()))
        elif isinstance(doc, dict) and doc.get("node_type") == "array":
            shapes[key.strip("/")] = tuple(doc.get("shape", ()))
    return shapes


def _source_shapes(src: Any) -> dict[str, tuple[int, ...]] | None:
    """``{variable: shape}`` of the source, opened lazily (None if it cannot be opened: the
    conversion then says why)."""
    import xarray as xr

    if isinstance(src, xr.Dataset):
        return {str(k): tuple(v.shape) for k, v in src.variables.items()}
    path = Path(str(src).removeprefix("file://")).expanduser()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            opened = (xr.open_zarr(path, consolidated=None) if path.is_dir()
                      else xr.open_dataset(path, chunks={}))
        with opened as ds:
            return {str(k): tuple(v.shape) for k, v in ds.variables.items()}
    except Exception:
        return None


def _publish_staged(staged: _Staged, r: Resolved, *, public: bool, overwrite: bool,
                    concurrency: int | None, rep: Reporter) -> PublishResult:
    items = staged.items
    consolidated = ".zmetadata" if staged.zarr_format == 2 else "zarr.json"
    n = concurrency_for(r, concurrency)
    base = r.path.rstrip("/")
    notes = staged.notes

    def say(text: str) -> None:
        notes.append(text)
        rep.note(text)

    remote = list_tree(r)
    if "" in remote:
        raise CubeExistsError(f"{r.url.url} is an object, not a folder: refusing to publish over it")
    marker = remote.pop(MARKER, None)
    complete = consolidated in remote
    foreign = sorted(set(remote) - set(items))
    identical = complete and not foreign and all(
        rel in remote and same(item, remote[rel]) for rel, item in items.items())
    deleted = 0
    if remote and not overwrite and not identical:
        if complete or marker is None:
            raise CubeExistsError(
                f"{r.url.url} already holds {_describe(remote)}; refusing to overwrite it. Pass "
                "--overwrite (overwrite=True) to replace it, or choose another name")
        if foreign:
            raise CubeExistsError(
                f"{r.url.url} holds an interrupted publish of a different cube "
                f"({_describe(remote)}; e.g. {', '.join(foreign[:3])} is not in this source). "
                "Pass --overwrite (overwrite=True) to replace it")
    if identical:
        say("the cube is already there and identical: nothing to upload")
    mark = None
    if not identical:
        # Claim the destination before anything else: objects next to the marker are resumable.
        mark = json.dumps({"objstore": "publish", "started": time.time(),
                           "objects": len(items)}).encode()
        try:
            send([Item(MARKER, len(mark), data=mark)], r, base, concurrency=1)
        except Exception as exc:
            if not isinstance(exc, FileNotFoundError) and \
                    type(exc).__name__ != "ResourceNotFoundError":  # azure.core's
                raise
            raise CubeNotFoundError(
                f"cannot publish to {r.url.url}: the bucket or container {r.url.bucket!r} does "
                f"not exist (or profile {r.profile.name!r} cannot see it); create it first"
            ) from None
    if remote and overwrite and not identical:
        # Readers first lose the old cube (consolidated metadata, then root documents and changed
        # metadata), then stale objects go. Never a mix of old metadata and new chunks.
        for name in (consolidated, ".zmetadata", "zarr.json"):  # either format's
            if name in remote:
                deleted += delete(r, [f"{base}/{name}"])
                remote.pop(name)
        doomed = [rel for rel, it in remote.items()
                  if rel not in items or rel in staged.final
                  or (_is_metadata(rel) and not same(items[rel], it))]
        doomed += [rel for rel in foreign if rel not in doomed]
        deleted += delete(r, [f"{base}/{rel}" for rel in doomed])
        for rel in doomed:
            remote.pop(rel, None)
        say(f"replacing the cube at {r.url.url}: removed {deleted} old objects")

    put_kwargs: dict[str, Any] = {}
    if public:  # S3: objects carry a public-read ACL as they are written
        put_kwargs = r.backend.upload_arguments(r)

    body = {rel: it for rel, it in items.items() if rel not in staged.final}
    todo = [it for rel, it in body.items()
            if not (rel in remote and same(it, remote[rel]))]
    skipped = [it for rel, it in body.items() if rel in remote and same(it, remote[rel])]
    todo.sort(key=lambda it: (_is_metadata(it.rel), it.rel))  # chunks first, then array metadata
    if skipped and not identical:
        size = human_bytes(sum(i.size for i in skipped))
        say(f"{'kept' if overwrite else 'resuming:'} {len(skipped)} objects ({size}) already "
            "there and identical, skipped")
    rep.upload_started(len(todo), sum(i.size for i in todo))
    try:
        stats = send(todo, r, base, concurrency=n, progress=rep.advance, put_kwargs=put_kwargs)
    finally:
        rep.upload_finished()

    # Verify everything but the final documents against one fresh listing.
    listing = list_tree(r)
    listing.pop(MARKER, None)
    report = verify(body, r, base, listing={k: v for k, v in listing.items()
                                            if k not in staged.final})
    extra = sorted(set(listing) - set(items))
    if extra:
        report.mismatches += [Mismatch(rel, "at the destination but not in the source")
                              for rel in extra]
    if not report.ok:
        _fail(r, report, consolidated)

    # The final documents: root group metadata, then the consolidated metadata, in this order.
    final_sent: list[Item] = []
    final_kept: list[Item] = []
    for group in staged.final_groups():
        batch: list[Item] = []
        for rel in group:
            item, there = items[rel], listing.get(rel)
            (final_kept if there is not None and same(item, there) else batch).append(item)
        send(batch, r, base, concurrency=len(batch) or 1, put_kwargs=put_kwargs)
        final_sent += batch
    final_report = verify({rel: items[rel] for rel in staged.final}, r, base, listing={})
    if not final_report.ok:
        delete(r, [f"{base}/{consolidated}"])
        _fail(r, final_report, consolidated)
    if mark is not None or marker is not None:
        delete(r, [f"{base}/{MARKER}"])
    checksums = report.checksums + final_report.checksums
    total_bytes = sum(i.size for i in items.values())
    say(f"verified {len(items)} objects, {human_bytes(total_bytes)}"
        + (f" (MD5 of {checksums})" if checksums else " (sizes; this store reports no checksums)"))
    kept = skipped + final_kept
    result = PublishResult(
        url=r.url.url, public_url=None, objects=len(items), bytes=total_bytes,
        skipped=len(kept), skipped_bytes=sum(i.size for i in kept),
        uploaded=stats.objects + len(final_sent),
        uploaded_bytes=stats.bytes + sum(i.size for i in final_sent),
        deleted=deleted, checksums=checksums, zarr_format=staged.zarr_format, notes=notes,
    )
    if public:
        s3_objects = None
        if put_kwargs:
            s3_objects = [f"{base}/{i.rel}" for i in skipped]  # the rest carry the ACL already
            s3_objects += [f"{base}/{i.rel}" for i in final_kept]
        pub = _make_public(r, s3_objects=s3_objects, concurrency=n)
        for text in pub.notes:
            say(text)
        say(f"made public: {pub.how}")
        _prove(pub.url, staged)
        say("anonymous read over https with plain fsspec + xarray: OK")
        result.public_url = pub.url
        result.snippet = reader_snippet(pub.url)
    return result


def _fail(r: Resolved, report: VerifyReport, consolidated: str) -> None:
    raise VerificationError(
        f"publishing {r.url.url} failed verification, so the cube was left unpublished "
        f"(no {consolidated}): {report.describe()}. Re-run the same command to re-send what "
        "differs", report)


def _prove(url: str, staged: _Staged) -> None:
    """Open the published cube exactly as an anonymous reader would and compare it with the source."""
    import fsspec
    import numpy as np
    import xarray as xr

    try:
        theirs = xr.open_zarr(fsspec.get_mapper(url), consolidated=True)  # the reader's snippet
    except Exception as exc:
        raise PublicReadError(
            f"{url} was published and made public, but an anonymous reader cannot open it "
            f"({type(exc).__name__}: {scrub(str(exc).splitlines()[0])[:200] if str(exc) else ''})"
        ) from None
    ours = staged.dataset()
    problems = []
    if set(theirs.variables) != set(ours.variables):
        problems.append(f"variables {sorted(map(str, theirs.variables))} instead of "
                        f"{sorted(map(str, ours.variables))}")
    if dict(theirs.sizes) != dict(ours.sizes):
        problems.append(f"sizes {dict(theirs.sizes)} instead of {dict(ours.sizes)}")
    if theirs.attrs != ours.attrs:
        problems.append("global attributes differ")
    if not problems:
        for name, var in ours.data_vars.items():
            first = {d: slice(0, min(2, s)) for d, s in var.sizes.items()}
            a, b = theirs[name].isel(first).values, var.isel(first).values
            if a.shape != b.shape or not np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"):
                problems.append(f"the values of {name} differ")
                break
    if problems:
        raise PublicReadError(f"the cube read anonymously from {url} is not the source: "
                              + "; ".join(problems))

