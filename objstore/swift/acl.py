"""Public containers: ``make_public`` / ``make_private`` set or remove ``X-Container-Read``.

A public container (``.r:*,.rlistings``) can be read and listed by anyone with its https URL, with
plain fsspec/xarray and no credentials. The ``<container>_segments`` container of large objects
gets the same ACL, or their reads would fail.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import InvalidURLError

if TYPE_CHECKING:
    from ..profiles import Profile
    from .filesystem import SwiftFileSystem

__all__ = ["PUBLIC_READ", "make_public", "make_private"]

PUBLIC_READ = ".r:*,.rlistings"


def _resolve(url: str, profile: str | Profile | None) -> tuple[SwiftFileSystem, str, str]:
    from ..api import resolve
    from .filesystem import SwiftFileSystem

    r = resolve(url, profile)
    if not isinstance(r.fs, SwiftFileSystem) or not r.url.bucket:
        raise InvalidURLError(f"{url}: not a Swift container URL (swift://container/key)")
    return r.fs, r.url.bucket, r.url.key


def _public_url(fs: SwiftFileSystem, container: str, key: str) -> str:
    from ._http import _quote_path

    return fs.storage_url() + _quote_path(container, key)


def make_public(url: str, profile: str | Profile | None = None) -> str:
    """Let anyone read and list the container of ``url``; returns the https URL readers use."""
    fs, container, key = _resolve(url, profile)
    fs.set_container_read(container, PUBLIC_READ)
    return _public_url(fs, container, key)


def make_private(url: str, profile: str | Profile | None = None) -> str:
    """Remove the container's read ACL (only the account's users may read it again)."""
    fs, container, key = _resolve(url, profile)
    fs.set_container_read(container, None)
    return _public_url(fs, container, key)
