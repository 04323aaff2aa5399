"""``xr.open_dataset(url, engine="objstore", profile=...)``: open_cube as an xarray backend.

This is what catalogs point at for private cubes: the reader's own profile supplies the
credentials, and the catalog carries only the profile's name. Opening delegates to
:func:`objstore.open_cube` (same requests, same errors); xarray then applies ``chunks``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from xarray.backends import BackendEntrypoint

__all__ = ["ObjstoreBackendEntrypoint"]


class ObjstoreBackendEntrypoint(BackendEntrypoint):
    """Open a zarr cube on any object store through objstore's profiles."""

    description = "Open zarr cubes on any object store with objstore's named profiles"
    open_dataset_parameters = (
        "filename_or_obj", "drop_variables", "mask_and_scale", "decode_times",
        "concat_characters", "decode_coords", "use_cftime", "decode_timedelta",
        "profile", "consolidated", "group", "zarr_format",
    )

    def open_dataset(  # type: ignore[override]
        self,
        filename_or_obj: str | os.PathLike[Any],
        *,
        drop_variables: str | Iterable[str] | None = None,
        mask_and_scale: bool | None = None,
        decode_times: bool | None = None,
        concat_characters: bool | None = None,
        decode_coords: bool | str | None = None,
        use_cftime: bool | None = None,
        decode_timedelta: bool | None = None,
        profile: str | None = None,
        consolidated: bool | None = None,
        group: str | None = None,
        zarr_format: int | None = None,
    ) -> Any:
        from ..cube import open_cube

        given = {
            "drop_variables": drop_variables, "mask_and_scale": mask_and_scale,
            "decode_times": decode_times, "concat_characters": concat_characters,
            "decode_coords": decode_coords, "use_cftime": use_cftime,
            "decode_timedelta": decode_timedelta, "group": group, "zarr_format": zarr_format,
        }
        kwargs = {k: v for k, v in given.items() if v is not None}
        # chunks=None: lazily indexed arrays; xarray chunks them as the caller asked
        return open_cube(os.fspath(filename_or_obj), profile, consolidated=consolidated,
                         chunks=None, **kwargs)

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        return False  # only when asked for by name: engine="objstore"
