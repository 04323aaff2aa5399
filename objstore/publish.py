"""``publish``: a data cube from a NetCDF file, a zarr folder or an ``xarray.Dataset`` to an object
store, in one step that never leaves a half-published or accidentally overwritten cube.

A zarr folder (:func:`_publish_folder`) and a source to convert (:func:`_publish_converted`: a
file xarray opens, a Dataset, a folder to rechunk) go through the same steps, each a function:

1. :func:`~objstore.publish_stage.stage` a zarr folder (used as it is, never modified; its
   consolidated metadata checked), or :func:`~objstore.publish_stage.open_source` a conversion.
2. :func:`plan` (a folder) or :func:`plan_conversion`: one listing of the destination decides.
   A complete cube there that differs from the source is refused unless ``overwrite``; objects
   left by an interrupted publish (marked by :data:`MARKER`) are resumed; what is already there
   with the same size and checksum is skipped (:func:`objstore.transfer.plan`, the planner ``cp``
   uses too; for a conversion the stream applies the same test as it encodes).
3. :func:`claim`: the marker goes up before anything changes; with ``overwrite``
   :func:`unpublish_old` then deletes the old consolidated metadata (and the old root documents)
   *first*, then stale objects, so readers never see old metadata over new chunks.
4. :func:`upload` (a folder: chunks first, then array metadata, concurrently) or
   :func:`~objstore.publish_stream.stream` (a conversion, written straight to the destination
   while it is encoded: no local copy).
5. :func:`verify_upload`: a fresh listing (the plan's, when nothing was sent) must match the
   source: object count, sizes and MD5 checksums where the backend reports them, or the publish
   stops with the cube unpublished.
6. :func:`commit`: the root metadata documents, then the consolidated metadata, last; then the
   marker goes.
7. ``public``: :func:`make_public` the backend's way (:mod:`objstore.public`), then :func:`prove`
   it by opening the cube over https with plain fsspec + xarray and no credentials.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable, Mapping
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
from .publish_stage import (
    METADATA_DOCS,
    Staged,
    consolidated_part,
    open_source,
    parse_chunks,
    stage,
)
from .scratch_prefix import check_write_allowed
from .transfer import (
    Item,
    Mismatch,
    Plan,
    SendStats,
    VerificationError,
    VerifyReport,
    concurrency_for,
    delete,
    human_bytes,
    list_tree,
    same,
    send,
    verify,
)
from .transfer import plan as plan_copy
from .write_marker import PUBLISH_MARKER
from .zarr_keys import (
    COMMIT_NAMES,
    ZARRAY_JSON,
    ZATTRS_JSON,
    ZGROUP_JSON,
    ZMETADATA_V2_JSON,
    consolidated_key,
)

if TYPE_CHECKING:
    import xarray as xr

    from .api import Resolved
    from .profiles import Profile
    from .public import PublicResult
    from .publish_stream import Streamed

__all__ = ["publish", "PublishResult", "PublishPlan", "Reporter", "PublicReadError", "MARKER",
           "parse_chunks", "SourceError", "stage", "open_source", "plan", "plan_conversion", "claim", "unpublish_old", "upload",
           "verify_upload", "commit", "make_public", "prove"]

#: Put at the destination before the first chunk and removed after the consolidated metadata:
#: objects next to it are an interrupted publish, which a re-run may resume.
MARKER = PUBLISH_MARKER

Note = Callable[[str], None]


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


# ------------------------------------------------------------------------------------ publish
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
    r = _destination(dest, profile, public=public, force=force)
    spec = parse_chunks(chunks)
    n = concurrency_for(r, concurrency)
    if _needs_conversion(src, spec):
        listing = None if overwrite else _refuse_early(r, src, spec)
        result = _publish_converted(src, r, spec, zarr_format, overwrite=overwrite, public=public,
                                    concurrency=n, rep=rep, listing=listing)
    else:
        result = _publish_folder(src, r, overwrite=overwrite, public=public, concurrency=n,
                                 rep=rep)
    if catalog is not None:
        from .catalog.update import add_to_catalog

        result.catalog = add_to_catalog(catalog, dest, profile, public=public)
    result.seconds = time.perf_counter() - t0
    return result


def _publish_folder(src: Any, r: Resolved, *, overwrite: bool, public: bool, concurrency: int,
                    rep: Reporter) -> PublishResult:
    """A zarr folder, step by step: stage, plan, claim, upload, verify, commit, make public."""
    staged = stage(src, rep.note)
    say = _teller(staged.notes, rep)
    with mapped_errors(r):
        p = plan(staged, r, overwrite=overwrite)
        if p.identical:
            say("the cube is already there and identical: nothing to upload")
        claimed = claim(r, p)
        deleted = unpublish_old(r, p, say)
        put_kwargs = _upload_acl(r, public)
        stats = upload(r, p, concurrency=concurrency, reporter=rep, put_kwargs=put_kwargs, say=say)
        return _finish(staged, r, p, stats, claimed=claimed, deleted=deleted,
                       put_kwargs=put_kwargs, public=public, concurrency=concurrency, say=say)


def _publish_converted(src: Any, r: Resolved, chunks: dict[str, Any], zarr_format: int, *,
                       overwrite: bool, public: bool, concurrency: int, rep: Reporter,
                       listing: dict[str, Item] | None) -> PublishResult:
    """A source to convert, step by step, with no local copy: open, plan, claim, stream (the
    upload), verify, commit, make public."""
    from .publish_stream import stream  # zarr: imported when a conversion needs it

    notes: list[str] = []
    say = _teller(notes, rep)
    with open_source(src, chunks, say) as ds, mapped_errors(r):
        p = plan_conversion(ds, r, zarr_format, overwrite=overwrite, listing=listing)
        if p.compare:  # a complete cube of the same shapes is there: the same source again?
            streamed = stream(ds, r, zarr_format=zarr_format, known=p.there, dry=True)
            _refuse_unless_identical(r, p, streamed)
            say("the cube is already there and identical: nothing to upload")
            claimed, deleted, put_kwargs = False, 0, {}
        else:
            claimed = claim(r, p)
            deleted = unpublish_old(r, p, say)
            put_kwargs = {}  # streamed objects carry no ACL: make_public sets it on each
            rep.upload_started(_chunk_count(ds), 0)
            try:
                streamed = stream(ds, r, zarr_format=zarr_format, known=p.there,
                                  progress=rep.advance)
            finally:
                rep.upload_finished()
            deleted += _remove_stale(r, p, streamed, say)
            if streamed.kept:
                size = human_bytes(sum(i.size for i in streamed.kept))
                say(f"{'kept' if overwrite else 'resuming:'} {len(streamed.kept)} objects ({size}) "
                    "already there and identical, skipped")
        staged = Staged(None, streamed.objects, zarr_format, streamed.final, notes,
                        consolidated_ok=True)
        p.body, p.final = Plan(streamed.sent, streamed.kept, []), staged.final_groups()
        stats = SendStats(len(streamed.sent), sum(i.size for i in streamed.sent))
        return _finish(staged, r, p, stats, claimed=claimed, deleted=deleted,
                       put_kwargs=put_kwargs, public=public, concurrency=concurrency, say=say)


def _finish(staged: Staged, r: Resolved, p: PublishPlan, stats: SendStats, *, claimed: bool,
            deleted: int, put_kwargs: Mapping[str, Any], public: bool, concurrency: int,
            say: Note) -> PublishResult:
    """The steps after the upload: verify, commit, and with ``public`` make public and prove."""
    report, listing = verify_upload(staged, r, p, sent=stats.objects > 0)
    done = commit(staged, r, p, listing, put_kwargs=put_kwargs, claimed=claimed)
    result = _result(staged, r, p, stats, done, deleted, report.checksums, say)
    if public:
        pub = make_public(r, p, done, concurrency=concurrency, put_kwargs=put_kwargs, say=say)
        prove(pub.url, staged.dataset() if staged.root is not None else _opened(r))
        say("anonymous read over https with plain fsspec + xarray: OK")
        result.public_url, result.snippet = pub.url, _snippet(pub.url)
    return result


def _teller(notes: list[str], rep: Reporter) -> Note:
    def say(text: str) -> None:
        notes.append(text)
        rep.note(text)

    return say


def _destination(dest: str, profile: str | Profile | None, *, public: bool,
                 force: bool) -> Resolved:
    """``dest`` resolved, once it is known to be a place a cube can be published (before a
    conversion that may take long)."""
    r = resolve(dest, profile)
    if not r.backend.allows_writes:
        raise InvalidURLError(f"{dest}: cannot publish to a plain https URL; use the store's own "
                              "URL (s3://, gs://, az://, swift://)")
    if not r.url.key and r.backend.has_buckets:
        raise InvalidURLError(f"{dest}: give the cube a name inside the bucket, e.g. "
                              f"{dest.rstrip('/')}/cube.zarr")
    check_write_allowed(r.url, force=force)
    with mapped_errors(r):
        require_bucket(r)
    if public and not r.backend.can_be_public:
        raise InvalidURLError(f"{dest}: --public needs an object store (s3, gs, az, swift), "
                              f"not a {r.url.backend} URL")
    return r


def _refuse_early(r: Resolved, src: Any, chunks: dict[str, Any]) -> dict[str, Item] | None:
    """Before a conversion that may take long: is the name taken by a different cube? Returns
    the destination's listing, which :func:`plan` uses rather than listing it again."""
    if not _needs_conversion(src, chunks):
        return None
    with mapped_errors(r):
        return _refuse_if_a_different_cube_is_there(r, src)


def _describe(tree: Mapping[str, Item]) -> str:
    return describe_existing(list({rel.split("/", 1)[0] for rel in tree}), objects=len(tree),
                             nbytes=sum(i.size for i in tree.values()))


def _is_metadata(rel: str) -> bool:
    return rel.rsplit("/", 1)[-1] in METADATA_DOCS or rel == ZMETADATA_V2_JSON


def _consolidated(staged: Staged) -> str:
    return consolidated_key(staged.zarr_format)


# ------------------------------------------------------------------------------------ plan
@dataclass
class PublishPlan:
    """What publishing a staged cube at a destination does, decided from one listing of it."""

    base: str  # the cube's path in the destination's filesystem
    there: dict[str, Item]  # the destination's objects, marker aside, once the removals are done
    interrupted: bool  # an interrupted publish's marker is there
    identical: bool  # the complete cube there is this one: nothing to send
    overwrite: bool
    replacing: bool  # overwrite of something else: the old cube goes first
    unpublish: list[str]  # consolidated metadata, deleted first, one after the other
    remove: list[str]  # then these stale objects
    body: Plan  # all but the final documents: copy (chunks, then array metadata) and skip
    final: list[list[str]]  # sent last, in groups: the root documents, then consolidated
    compare: bool = False  # a conversion of a complete cube's shapes: compared, not sent


def _there(r: Resolved, listing: Mapping[str, Item] | None) -> tuple[dict[str, Item], Item | None]:
    """What is at the destination (``listing``, or one listing now), without publish's marker,
    and the marker; refused if the destination is a single object."""
    remote = dict(list_tree(r) if listing is None else listing)
    if "" in remote:
        raise CubeExistsError(f"{r.url.url} is an object, not a folder: refusing to publish over it")
    return remote, remote.pop(MARKER, None)


def _refuse(r: Resolved, remote: Mapping[str, Item], foreign: list[str], *,
            resumable: bool) -> None:
    """Something else is there and ``overwrite`` was not given: refuse, unless it is an
    interrupted publish of this same cube (``resumable``, nothing ``foreign``) to resume."""
    if not resumable:
        raise CubeExistsError(
            f"{r.url.url} already holds {_describe(remote)}; refusing to overwrite it. Pass "
            "--overwrite (overwrite=True) to replace it, or choose another name")
    if foreign:
        raise CubeExistsError(
            f"{r.url.url} holds an interrupted publish of a different cube "
            f"({_describe(remote)}; e.g. {', '.join(foreign[:3])} is not in this source). "
            "Pass --overwrite (overwrite=True) to replace it")


def plan(staged: Staged, r: Resolved, *, overwrite: bool = False,
         listing: Mapping[str, Item] | None = None) -> PublishPlan:
    """Decide what publishing ``staged`` at ``r`` does, from ``listing`` (one listing of ``r``,
    taken now unless given). Raises :class:`CubeExistsError` where publishing must not go on."""
    items = staged.items
    consolidated = _consolidated(staged)
    remote, marker = _there(r, listing)
    complete = consolidated in remote
    foreign = sorted(set(remote) - set(items))
    identical = complete and not foreign and all(
        rel in remote and same(item, remote[rel]) for rel, item in items.items())
    if remote and not overwrite and not identical:
        _refuse(r, remote, foreign, resumable=marker is not None and not complete)
    replacing = bool(remote) and overwrite and not identical
    unpublish: list[str] = []
    doomed: list[str] = []
    if replacing:
        # Readers first lose the old cube (consolidated metadata, then root documents and changed
        # metadata), then stale objects go. Never a mix of old metadata and new chunks.
        unpublish = [name for name in dict.fromkeys((consolidated, *COMMIT_NAMES))
                     if name in remote]
        for name in unpublish:
            remote.pop(name)
        doomed = [rel for rel, it in remote.items()
                  if rel not in items or rel in staged.final
                  or (_is_metadata(rel) and not same(items[rel], it))]
        doomed += [rel for rel in foreign if rel not in doomed]
        for rel in doomed:
            remote.pop(rel, None)
    body = plan_copy({rel: it for rel, it in items.items() if rel not in staged.final}, remote)
    body.copy.sort(key=lambda it: (_is_metadata(it.rel), it.rel))  # chunks first, then metadata
    return PublishPlan(r.path.rstrip("/"), remote, marker is not None, identical, overwrite,
                       replacing, unpublish, doomed, body, staged.final_groups())


def plan_conversion(ds: xr.Dataset, r: Resolved, zarr_format: int, *, overwrite: bool = False,
                    listing: Mapping[str, Item] | None = None) -> PublishPlan:
    """:func:`plan` for a source written straight to the destination, whose objects are known
    only as they are encoded: the body is planned by the stream (what it sent, what it kept).
    A complete cube there (its shapes are the source's: :func:`_refuse_early` checked) is to be
    compared; an interrupted publish is resumed; with ``overwrite`` the old cube goes first."""
    from .publish_stream import final_documents

    consolidated = consolidated_key(zarr_format)
    remote, marker = _there(r, listing)
    complete = consolidated in remote
    roots = set(_ROOT_NAMES)
    names = {str(k) for k in ds.variables}
    foreign = sorted(rel for rel in remote
                     if rel not in roots and rel.split("/", 1)[0] not in names)
    if remote and not overwrite and not complete:
        _refuse(r, remote, foreign, resumable=marker is not None)
    replacing = bool(remote) and overwrite
    unpublish: list[str] = []
    doomed: list[str] = []
    if replacing:
        unpublish = [name for name in dict.fromkeys((consolidated, *COMMIT_NAMES))
                     if name in remote]
        doomed = [rel for rel in remote if rel not in unpublish
                  and (rel in final_documents(zarr_format) or rel in foreign)]
        for rel in [*unpublish, *doomed]:
            remote.pop(rel)
    final = [[name] for name in final_documents(zarr_format)]
    return PublishPlan(r.path.rstrip("/"), remote, marker is not None, False, overwrite,
                       replacing, unpublish, doomed, Plan([], [], []), final,
                       compare=complete and not overwrite)


_ROOT_NAMES = (ZGROUP_JSON, ZATTRS_JSON, *COMMIT_NAMES)


def _refuse_unless_identical(r: Resolved, p: PublishPlan, streamed: Streamed) -> None:
    """After comparing a conversion with the complete cube there: identical, or refused."""
    objects = streamed.objects
    identical = not streamed.differ and set(objects) == set(p.there) and all(
        same(objects[rel], p.there[rel]) for rel in streamed.final)
    if not identical:
        raise CubeExistsError(
            f"{r.url.url} already holds {_describe(p.there)}; refusing to overwrite it. Pass "
            "--overwrite (overwrite=True) to replace it, or choose another name")
    p.identical = True


def _remove_stale(r: Resolved, p: PublishPlan, streamed: Streamed, say: Note) -> int:
    """Objects there that the conversion did not write (a chunk now empty, an array now smaller)
    would be read as the cube's data: with overwrite they go before the commit; a resumed publish
    that finds them is of another cube, and stops unpublished."""
    stale = sorted(rel for rel in p.there if rel not in streamed.objects)
    if not stale:
        return 0
    if not p.overwrite:
        raise CubeExistsError(
            f"{r.url.url} holds an interrupted publish of a different cube (e.g. "
            f"{', '.join(stale[:3])} is not in this source). Pass --overwrite (overwrite=True) "
            "to replace it")
    for rel in stale:
        p.there.pop(rel)
    removed = delete(r, [f"{p.base}/{rel}" for rel in stale])
    say(f"removed {removed} objects of the old cube that the new one does not have")
    return removed


def _chunk_count(ds: xr.Dataset) -> int:
    """About how many objects a write of ``ds`` sends (for the progress bar)."""
    import math

    return sum(math.prod(len(c) for c in v.chunks) for v in ds.variables.values()
               if v.chunks) + len(ds.variables)


# ------------------------------------------------------------------------------------ claim
def claim(r: Resolved, p: PublishPlan) -> bool:
    """Put the marker at the destination before anything changes (objects next to it are
    resumable). Returns whether it was put (not when the identical cube is already there)."""
    if p.identical:
        return False
    mark = json.dumps({"objstore": "publish", "started": time.time(),
                       "objects": len(p.body.copy) + len(p.body.skip)
                       + sum(map(len, p.final))}).encode()
    try:
        send([Item(MARKER, len(mark), data=mark)], r, p.base, concurrency=1)
    except Exception as exc:
        if not isinstance(exc, FileNotFoundError) and \
                type(exc).__name__ != "ResourceNotFoundError":  # azure.core's
            raise
        raise CubeNotFoundError(
            f"cannot publish to {r.url.url}: the bucket or container {r.url.bucket!r} does "
            f"not exist (or profile {r.profile.name!r} cannot see it); create it first"
        ) from None
    return True


def unpublish_old(r: Resolved, p: PublishPlan, say: Note) -> int:
    """With overwrite: delete the old consolidated metadata, then the stale objects. Returns how
    many objects were deleted."""
    if not p.replacing:
        return 0
    deleted = 0
    for name in p.unpublish:
        deleted += delete(r, [f"{p.base}/{name}"])
    deleted += delete(r, [f"{p.base}/{rel}" for rel in p.remove])
    say(f"replacing the cube at {r.url.url}: removed {deleted} old objects")
    return deleted


# ------------------------------------------------------------------------------------ upload
def _upload_acl(r: Resolved, public: bool) -> dict[str, Any]:
    """The arguments every PUT carries: a public cube's objects get their ACL as they go, where
    the backend sets one per object (S3)."""
    return r.backend.upload_arguments(r) if public else {}


def upload(r: Resolved, p: PublishPlan, *, concurrency: int, reporter: Reporter,
           put_kwargs: Mapping[str, Any], say: Note) -> SendStats:
    """Send what the plan says is missing or different (chunks first, then array metadata)."""
    skipped = p.body.skip
    if skipped and not p.identical:
        size = human_bytes(p.body.skip_bytes)
        say(f"{'kept' if p.overwrite else 'resuming:'} {len(skipped)} objects ({size}) already "
            "there and identical, skipped")
    reporter.upload_started(len(p.body.copy), p.body.copy_bytes)
    try:
        return send(p.body.copy, r, p.base, concurrency=concurrency, progress=reporter.advance,
                    put_kwargs=put_kwargs)
    finally:
        reporter.upload_finished()


# ------------------------------------------------------------------------------------ verify
def verify_upload(staged: Staged, r: Resolved, p: PublishPlan, *,
                  sent: bool = True) -> tuple[VerifyReport, dict[str, Item]]:
    """Check everything but the final documents against one fresh listing, or against the plan's
    when nothing was ``sent`` (what it skipped it had compared already). Raises
    :class:`VerificationError`; returns the report and the listing it used."""
    if sent:
        listing = list_tree(r)
        listing.pop(MARKER, None)
    else:
        listing = dict(p.there)
    body = {rel: it for rel, it in staged.items.items() if rel not in staged.final}
    report = verify(body, r, p.base, listing={k: v for k, v in listing.items()
                                              if k not in staged.final})
    report.mismatches += [Mismatch(rel, "at the destination but not in the source")
                          for rel in sorted(set(listing) - set(staged.items))]
    if not report.ok:
        _fail(r, report, _consolidated(staged))
    return report, listing


# ------------------------------------------------------------------------------------ commit
@dataclass
class Committed:
    sent: list[Item]  # final documents uploaded
    kept: list[Item]  # final documents already there and identical
    report: VerifyReport


def commit(staged: Staged, r: Resolved, p: PublishPlan, listing: Mapping[str, Item], *,
           put_kwargs: Mapping[str, Any], claimed: bool) -> Committed:
    """The root metadata documents, then the consolidated metadata (the commit point), each
    verified; then the marker goes. A failed verification takes the consolidated metadata back."""
    items = staged.items
    sent: list[Item] = []
    kept: list[Item] = []
    for group in p.final:
        batch: list[Item] = []
        for rel in group:
            item, there = items[rel], listing.get(rel)
            (kept if there is not None and same(item, there) else batch).append(item)
        send(batch, r, p.base, concurrency=len(batch) or 1, put_kwargs=put_kwargs)
        sent += batch
    known = {} if sent else {rel: listing[rel] for rel in staged.final if rel in listing}
    report = verify({rel: items[rel] for rel in staged.final}, r, p.base, listing=known)
    if not report.ok:
        delete(r, [f"{p.base}/{_consolidated(staged)}"])
        _fail(r, report, _consolidated(staged))
    if claimed or p.interrupted:
        delete(r, [f"{p.base}/{MARKER}"])
    return Committed(sent, kept, report)


def _result(staged: Staged, r: Resolved, p: PublishPlan, stats: SendStats, done: Committed,
            deleted: int, body_checksums: int, say: Note) -> PublishResult:
    items = staged.items
    checksums = body_checksums + done.report.checksums
    total_bytes = sum(i.size for i in items.values())
    say(f"verified {len(items)} objects, {human_bytes(total_bytes)}"
        + (f" (MD5 of {checksums})" if checksums else " (sizes; this store reports no checksums)"))
    kept = p.body.skip + done.kept
    return PublishResult(
        url=r.url.url, public_url=None, objects=len(items), bytes=total_bytes,
        skipped=len(kept), skipped_bytes=sum(i.size for i in kept),
        uploaded=stats.objects + len(done.sent),
        uploaded_bytes=stats.bytes + sum(i.size for i in done.sent),
        deleted=deleted, checksums=checksums, zarr_format=staged.zarr_format, notes=staged.notes,
    )


# ------------------------------------------------------------------------------------ public
def make_public(r: Resolved, p: PublishPlan, done: Committed, *, concurrency: int,
                put_kwargs: Mapping[str, Any], say: Note) -> PublicResult:
    """World-readable, the backend's way (objects already uploaded with an ACL are not touched
    again on S3)."""
    s3_objects = None
    if put_kwargs:
        s3_objects = [f"{p.base}/{i.rel}" for i in p.body.skip]  # the rest carry the ACL already
        s3_objects += [f"{p.base}/{i.rel}" for i in done.kept]
    pub = _make_public(r, s3_objects=s3_objects, concurrency=concurrency)
    for text in pub.notes:
        say(text)
    say(f"made public: {pub.how}")
    return pub


def _opened(r: Resolved) -> xr.Dataset:
    """The published cube as its owner reads it (what an anonymous reader must see too)."""
    import xarray as xr

    return xr.open_zarr(r.zarr_store(read_only=True), consolidated=True)


def _snippet(url: str) -> str:
    return reader_snippet(url)


def _needs_conversion(src: Any, chunks: dict[str, Any]) -> bool:
    if chunks or not isinstance(src, (str, os.PathLike)):
        return True
    path = Path(str(src).removeprefix("file://")).expanduser()
    return not path.is_dir()


def _refuse_if_a_different_cube_is_there(r: Resolved, src: Any) -> dict[str, Item]:
    """Before converting: a cube at ``r`` whose arrays (names, shapes) differ from the source's is
    refused at once. One that matches is compared object by object after the conversion, so the
    same source published again sends nothing (conversion is deterministic). Returns the
    listing."""
    listing = list_tree(r)
    tree = {k: v for k, v in listing.items() if k != MARKER}
    names = sorted(set(tree) & set(COMMIT_NAMES))
    if not names:
        return listing
    theirs = _remote_shapes(r, names[0])
    if theirs is not None and theirs == _source_shapes(src):
        return listing
    raise CubeExistsError(
        f"{r.url.url} already holds {_describe(tree)}, not this source; refusing to overwrite "
        "it. Pass --overwrite (overwrite=True) to replace it (objects that did not change are "
        "not sent again), or choose another name")


def _remote_shapes(r: Resolved, name: str) -> dict[str, tuple[int, ...]] | None:
    """``{array: shape}`` from the consolidated metadata at ``r`` (None if unreadable)."""
    try:
        meta = consolidated_part(r.fs.cat_file(f"{r.path.rstrip('/')}/{name}"),
                                  2 if name == ZMETADATA_V2_JSON else 3) or {}
    except (OSError, ValueError):
        return None
    shapes: dict[str, tuple[int, ...]] = {}
    for key, doc in meta.items():
        if key.endswith(ZARRAY_JSON) and isinstance(doc, dict):
            shapes[key[: -len(ZARRAY_JSON)].strip("/")] = tuple(doc.get("shape", ()))
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



def _fail(r: Resolved, report: VerifyReport, consolidated: str) -> None:
    raise VerificationError(
        f"publishing {r.url.url} failed verification, so the cube was left unpublished "
        f"(no {consolidated}): {report.describe()}. Re-run the same command to re-send what "
        "differs", report)


def prove(url: str, ours: xr.Dataset) -> None:
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

