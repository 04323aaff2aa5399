"""OpenStack Swift for objstore: an fsspec filesystem on aiohttp, tokens, public containers, and a
zarrswift-compatible zarr store.

    SwiftFileSystem   fsspec ``swift://container/key`` (the "swift" fsspec.specs entry point)
    get_token         (storage_url, token, expires_at), from the token cache or the server
    make_public       X-Container-Read: .r:*,.rlistings; returns the https URL readers use
    make_private      removes it
    SwiftStore        zarr 3 store, argument-compatible with zarrswift's SwiftStore

``SwiftFileSystem.sign(path, expiration)`` gives a TempURL (:mod:`.tempurl`): a private object
read by anyone with the URL, no token, until it expires.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .acl import PUBLIC_READ, make_private, make_public
from .auth import get_token
from .filesystem import DEFAULT_SEGMENT_SIZE, SwiftFileSystem

if TYPE_CHECKING:
    from .store import SwiftStore

__all__ = ["SwiftFileSystem", "SwiftStore", "get_token", "make_public", "make_private",
           "PUBLIC_READ", "DEFAULT_SEGMENT_SIZE"]


def __getattr__(name: str) -> Any:  # zarr is imported only when SwiftStore is used
    if name == "SwiftStore":
        from .store import SwiftStore

        return SwiftStore
    raise AttributeError(name)
