"""open_cube and write_cube: xarray + zarr on a resolved store, consolidated metadata last.

The default is zarr format 2 with a ``.zmetadata`` file, which every reader in this field (zarr 2 and
3, xarray, intake, the https snippet readers paste) understands; pass ``zarr_format=3`` for format 3.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Literal

from .api import Resolved, resolve
from .boundary import mapped_errors
from .errors import CubeExistsError, CubeNotFoundError, ObjstoreError
from .not_a_cube import not_a_cube
from .profiles import Profile
from .scratch_prefix import check_write_allowed
from .transfer import human_bytes
from .write_marker import (
    MARKER,
    PUBLISH_MARKER,
    claim,
    describe,
    fingerprint,
    interrupted_error,
    is_append,
    new_marker,
    same_write,
)
from .zarr_keys import ZARR_JSON, ZARRAY_JSON, ZGROUP_JSON, ZMETADATA_V2_JSON

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["open_cube", "write_cube", "cube_contents"]

_METADATA = (ZMETADATA_V2_JSON, ZGROUP_JSON, ZARRAY_JSON, ZARR_JSON)


def cube_contents(r: Resolved) -> list[str]:
    """Names directly under the cube's path (empty if nothing is there), from one listing."""
    try:
        entries = r.fs.ls(r.path, detail=False, refresh=True, **r.backend.one_listing_options())
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(str(e).rstrip("/").rsplit("/", 1)[-1] for e in entries)


def describe_existing(names: list[str], *, objects: int | None = None,
                      nbytes: int | None = None, marker: bytes | None = None) -> str:
    """What already is at a cube's URL, for "refusing to overwrite" messages: ``names`` directly
    under it; ``objects``/``nbytes`` when the whole tree was listed; ``marker``, the content of
    an unfinished write's marker."""
    interrupted = MARKER in names
    names = sorted(n for n in names if n != MARKER)
    shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    if interrupted:
        kind = (f"a zarr cube whose write did not finish (an interrupted write, or one still "
                f"running: a write_cube {describe(marker)})")
    elif any(n in _METADATA for n in names):
        kind = "a zarr cube"
    else:
        kind = "objects that are not a zarr cube"
    count = (f"{objects} objects" if objects is not None else
             f"{len(names)} {'entry' if len(names) == 1 else 'entries'}")
    size = f", {human_bytes(nbytes)}" if nbytes is not None else ""
    return f"{kind}: {count}{size} ({shown})"


def _read_marker(r: Resolved) -> bytes | None:
    try:
        return bytes(r.fs.cat_file(f"{r.path}/{MARKER}"))
    except (FileNotFoundError, OSError):
        return None


def open_cube(
    url: str, profile: str | Profile | None = None, *, consolidated: bool | None = None,
    **kwargs: Any,
) -> xr.Dataset:
    """Open the cube at ``url`` lazily, from its consolidated metadata.

    Without consolidated metadata the cube still opens, with a warning (``consolidated=None``).
    A cube whose write did not finish raises :class:`InterruptedWriteError`; something that is
    not a cube raises :class:`NotACubeError` or :class:`CubeNotFoundError`, saying what is there.
    ``cache=True`` (or a folder; ``cache_size=``) keeps the chunks read on local disk for the
    next read (:mod:`objstore.cache`; the profile's ``cache`` when not given).
    """
    from zarr.errors import NodeNotFoundError

    from .cube_open import NoConsolidatedMetadata, open_dataset

    r = resolve(url, profile)
    with mapped_errors(r):
        if consolidated is False:
            marker = _read_marker(r)
            if marker is not None and not is_append(marker):
                raise interrupted_error(url, marker, r.profile.name)
            try:
                return open_dataset(r, consolidated=False, **kwargs)
            except (NodeNotFoundError, FileNotFoundError, NotADirectoryError):
                raise not_a_cube(r, cube_contents(r)) from None
        try:
            return open_dataset(r, consolidated=True, **kwargs)
        except NoConsolidatedMetadata as exc:
            found = exc.found
        except (FileNotFoundError, NotADirectoryError) as exc:
            if isinstance(exc, ObjstoreError):
                raise
            found = False
        names = cube_contents(r)
        if MARKER in names:
            raise interrupted_error(url, _read_marker(r), r.profile.name)
        if PUBLISH_MARKER in names:
            raise interrupted_error(url, None, r.profile.name, publish=True)
        if not found and not any(n in _METADATA for n in names):
            raise not_a_cube(r, names)
        if consolidated:
            raise CubeNotFoundError(
                f"{url} is a zarr cube without consolidated metadata; open it with "
                "consolidated=None, or consolidate it (zarr.consolidate_metadata)",
                url=url, profile=r.profile.name)
        warnings.warn(
            f"{url} has no consolidated metadata; opening it object by object, which costs "
            "several requests per array. Fix: publish it with consolidated metadata "
            "(objstore publish, objstore.write_cube, or zarr.consolidate_metadata).",
            stacklevel=2,
        )
        return open_dataset(r, consolidated=False, **kwargs)


def _exists_error(r: Resolved, names: list[str], marker: bytes | None) -> CubeExistsError:
    url = r.url.url
    then = (" (running the same write with resume=True finishes it, sending only what is "
            "missing)" if marker else " or mode='a' to append")
    names = names if marker is None or MARKER in names else [*names, MARKER]
    return CubeExistsError(
        f"{url} already holds {describe_existing(names, marker=marker)}; pass mode='w' to "
        f"replace it{then}", url=url, profile=r.profile.name)


def write_cube(
    ds: xr.Dataset, url: str, profile: str | Profile | None = None, *,
    mode: Literal["w-", "w", "a", "r+"] = "w-", zarr_format: Literal[2, 3] = 2,
    consolidated: bool = True, force: bool = False, resume: bool = False, **kwargs: Any,
) -> Resolved:
    """Write ``ds`` to ``url`` as zarr; refuse to overwrite an existing cube unless ``mode="w"``.

    Chunks are written first and consolidated metadata last, so a half-written cube never looks
    complete; until it is, a marker makes :func:`open_cube` refuse it (InterruptedWriteError),
    and running the same write with ``mode="w"`` finishes it. ``mode="w-"`` claims the place with
    that marker, atomically where the store allows (docs/cubes.md). ``mode="a"`` with
    ``append_dim=`` appends; the cube keeps its old length until the append completes. Each
    variable's encoding is kept as ``to_zarr`` keeps it. Dask-backed data is written by the current
    dask scheduler, a ``dask.distributed`` cluster included. Writing into the shared scratch bucket
    outside your own ``$SCRATCH_BUCKET`` prefix is refused unless ``force=True``.

    ``resume=True`` (with ``mode="w-"``) finishes an interrupted write of the same dataset: chunks
    already stored and identical (size and checksum) are not sent again, and a warning says how
    many were there. A dataset laid out differently (variables, shapes, chunks, encodings) is
    refused rather than mixed into the interrupted cube.
    """
    r = resolve(url, profile)
    check_write_allowed(r.url, force=force)
    with mapped_errors(r):
        if resume and mode != "w-":
            raise ValueError("resume=True finishes an interrupted mode='w-' write; "
                             f"it does not apply to mode={mode!r}")
        existing = cube_contents(r)
        print_ = fingerprint(ds, kwargs.get("encoding"), zarr_format) if mode in ("w-", "w") \
            else None
        resuming: bytes | None = None
        if existing and mode == "w-":
            marker = _read_marker(r) if MARKER in existing else None
            if not (resume and marker is not None):
                raise _exists_error(r, existing, marker)
            if not same_write(marker, print_ or ""):
                raise CubeExistsError(
                    f"{url} holds an interrupted write of a different dataset (its variables, "
                    "shapes, chunks or encodings differ), which resume=True will not mix in; "
                    "pass mode='w' to replace it", url=url, profile=r.profile.name)
            resuming = marker
        claimed = resuming is not None
        if mode == "w-" and not claimed:  # atomically where the store allows: one writer goes on
            other = claim(r.fs, r.path, new_marker(mode, print_))
            if other is not None:
                raise _exists_error(r, cube_contents(r), other)
            claimed = True
        from .cube_write import write_dataset

        write_dataset(ds, r, mode=mode, zarr_format=zarr_format, consolidated=consolidated,
                      fresh=not existing or resuming is not None, claimed=claimed,
                      resuming=resuming, layout=print_, **kwargs)
    return r
