"""open_cube and write_cube: xarray + zarr on a resolved store, consolidated metadata last.

The default is zarr format 2 with a ``.zmetadata`` file, which every reader in this field (zarr 2 and
3, xarray, intake, the https snippet readers paste) understands; pass ``zarr_format=3`` for format 3.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Literal

from .api import Resolved, resolve
from .boundary import mapped_errors
from .errors import CubeExistsError, CubeNotFoundError
from .profiles import Profile

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["open_cube", "write_cube", "cube_contents"]

_METADATA = (".zmetadata", ".zgroup", ".zarray", "zarr.json")


#: Protocols whose ``ls`` would follow an empty listing with a HEAD and another listing (is it a
#: file? a directory?), unless told ``return_glob=True`` (adlfs, objstore's Swift).
_ONE_LISTING = frozenset({"az", "swift"})


def cube_contents(r: Resolved) -> list[str]:
    """Names directly under the cube's path (empty if nothing is there), from one listing."""
    try:
        kw = {"return_glob": True} if r.protocol in _ONE_LISTING else {}
        entries = r.fs.ls(r.path, detail=False, refresh=True, **kw)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(str(e).rstrip("/").rsplit("/", 1)[-1] for e in entries)


def describe_existing(names: list[str], *, objects: int | None = None,
                      nbytes: int | None = None) -> str:
    """What already is at a cube's URL, for "refusing to overwrite" messages: ``names`` directly
    under it; ``objects``/``nbytes`` when the whole tree was listed."""
    from .transfer import human_bytes

    names = sorted(names)
    shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    kind = "a zarr cube" if any(n in _METADATA for n in names) else \
        "objects that are not a zarr cube"
    count = f"{objects} objects" if objects is not None else f"{len(names)} entries"
    size = f", {human_bytes(nbytes)}" if nbytes is not None else ""
    return f"{kind}: {count}{size} ({shown})"


def open_cube(
    url: str, profile: str | Profile | None = None, *, consolidated: bool | None = None,
    **kwargs: Any,
) -> xr.Dataset:
    """Open the cube at ``url`` lazily, from its consolidated metadata.

    Without consolidated metadata the cube still opens, with a warning (``consolidated=None``).
    """
    from .cube_open import NoConsolidatedMetadata, open_dataset

    r = resolve(url, profile)
    with mapped_errors(r):
        if consolidated is False:
            return open_dataset(r, consolidated=False, **kwargs)
        try:
            return open_dataset(r, consolidated=True, **kwargs)
        except NoConsolidatedMetadata as exc:
            if not exc.found and not cube_contents(r):
                raise CubeNotFoundError(f"no cube at {url}") from None
            if consolidated:
                raise CubeNotFoundError(f"{url} has no consolidated metadata") from None
            warnings.warn(
                f"{url} has no consolidated metadata; opening it object by object, which costs "
                "several requests per array. Fix: publish it with consolidated metadata "
                "(objstore publish, objstore.write_cube, or zarr.consolidate_metadata).",
                stacklevel=2,
            )
            return open_dataset(r, consolidated=False, **kwargs)


def write_cube(
    ds: xr.Dataset, url: str, profile: str | Profile | None = None, *,
    mode: Literal["w-", "w", "a", "r+"] = "w-", zarr_format: Literal[2, 3] = 2,
    consolidated: bool = True, force: bool = False, **kwargs: Any,
) -> Resolved:
    """Write ``ds`` to ``url`` as zarr; refuse to overwrite an existing cube unless ``mode="w"``.

    Chunks are written first and consolidated metadata last, so a half-written cube never looks
    complete. ``mode="a"`` with ``append_dim=`` appends. Dask-backed data is written by the current
    dask scheduler, a ``dask.distributed`` cluster included. Writing into the shared scratch bucket
    outside your own ``$SCRATCH_BUCKET`` prefix is refused unless ``force=True``.
    """
    from .scratch import check_write_allowed

    r = resolve(url, profile)
    check_write_allowed(r.url, force=force)
    with mapped_errors(r):
        existing = cube_contents(r)
        if existing and mode == "w-":
            raise CubeExistsError(
                f"{url} already holds {describe_existing(existing)}; pass mode='w' to replace it "
                "or mode='a' to append"
            )
        from .cube_write import write_dataset

        write_dataset(ds, r, mode=mode, zarr_format=zarr_format, consolidated=consolidated,
                      fresh=not existing, **kwargs)
    return r
