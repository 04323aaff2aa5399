"""Local files: paths on this machine's disk, through zarr's LocalStore and fsspec's file system."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..profiles import Profile
from ..urls import ObjectURL
from .base import Backend

if TYPE_CHECKING:
    from ..transfer import Item


class LocalBackend(Backend):
    """Files on this machine's disk."""

    name = "file"
    protocols = ("file", "local")
    has_buckets = False
    is_local = True
    on_disk = True

    def path(self, url: ObjectURL) -> str:
        return url.key

    def storage_options(self, profile: Profile, url: ObjectURL) -> dict[str, Any]:
        return {"auto_mkdir": True}

    def checksum(self, item: Item) -> str | None:
        """No server reports one: the MD5 of the file."""
        return item.checksum()


BACKEND = LocalBackend()
