"""Public containers: ``make_public`` / ``make_private`` set or remove ``X-Container-Read``.

A public container (``.r:*,.rlistings``) can be read and listed by anyone with its https URL, with
plain fsspec/xarray and no credentials. The ``<container>_segments`` container of large objects
gets the same ACL, or their reads would fail. For a URL and a profile, use
:func:`objstore.make_public`, which resolves them and calls this.
"""

from __future__ import annotations

from ..errors import InvalidURLError
from ._http import _quote_path
from .filesystem import SwiftFileSystem

__all__ = ["PUBLIC_READ", "make_public", "make_private"]

PUBLIC_READ = ".r:*,.rlistings"


def _container(fs: SwiftFileSystem, path: str) -> tuple[str, str]:
    container, key = fs.split_path(path) if isinstance(fs, SwiftFileSystem) else ("", "")
    if not container:
        raise InvalidURLError(f"{path}: not a Swift container path (container/key)")
    return container, key


def _public_url(fs: SwiftFileSystem, container: str, key: str) -> str:
    return fs.storage_url() + _quote_path(container, key)


def make_public(fs: SwiftFileSystem, path: str) -> str:
    """Let anyone read and list the container of ``path``; returns the https URL readers use."""
    container, key = _container(fs, path)
    fs.set_container_read(container, PUBLIC_READ)
    return _public_url(fs, container, key)


def make_private(fs: SwiftFileSystem, path: str) -> str:
    """Remove the container's read ACL (only the account's users may read it again)."""
    container, key = _container(fs, path)
    fs.set_container_read(container, None)
    return _public_url(fs, container, key)
