"""OpenStack Swift for objstore: an fsspec filesystem on aiohttp, tokens, public containers, and a
zarrswift-compatible zarr store. A leaf package: it imports nothing of objstore but its errors and
retry policy (docs/architecture.md), so it works as a plain fsspec filesystem.

    SwiftFileSystem   fsspec ``swift://container/key`` (the "swift" fsspec.specs entry point)
    get_token         (storage_url, token, expires_at), from the token cache or the server
    make_public       X-Container-Read: .r:*,.rlistings on (fs, path); returns the https URL
    make_private      removes it
    SwiftStore        zarr 3 store, argument-compatible with zarrswift's SwiftStore

``SwiftFileSystem.sign(path, expiration)`` gives a TempURL (:mod:`.tempurl`): a private object
read by anyone with the URL, no token, until it expires.

Names load on first use, so reading the environment table (:mod:`.env`) imports no aiohttp.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .acl import PUBLIC_READ, make_private, make_public
    from .auth import get_token
    from .filesystem import DEFAULT_SEGMENT_SIZE, SwiftFileSystem
    from .store import SwiftStore

__all__ = ["SwiftFileSystem", "SwiftStore", "get_token", "make_public", "make_private",
           "PUBLIC_READ", "DEFAULT_SEGMENT_SIZE"]

_LAZY = {"SwiftFileSystem": "filesystem", "DEFAULT_SEGMENT_SIZE": "filesystem",
         "get_token": "auth", "make_public": "acl", "make_private": "acl", "PUBLIC_READ": "acl",
         "SwiftStore": "store"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    if not name.startswith("__") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")  # a submodule, as objstore.swift.auth
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
