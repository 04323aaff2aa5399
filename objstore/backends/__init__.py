"""Backends: one :class:`~objstore.backends.base.Backend` object per kind of store.

``get(name)`` / ``for_url(parsed)`` / ``for_protocol(protocol)`` find it, importing only its module
(a lazy table, the way fsspec's registry does it); its library (s3fs, gcsfs, adlfs, aiohttp) is
imported when a filesystem is made, and a missing one is a BackendNotInstalledError naming the
extra. ``storage_options(profile, url)`` is where secrets leave ``SecretStr``.
"""

from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING, Any

from ..profiles import Profile
from ..urls import ObjectURL
from . import env  # noqa: F401 - the env tables: data, imported by the sources too

if TYPE_CHECKING:
    from .base import Backend

__all__ = ["get", "for_url", "for_protocol", "names", "filesystem_class", "storage_options"]

_MODULES: dict[str, str] = {  # backend name -> module in this package
    "s3": "s3",
    "gcs": "gcs",
    "azure": "azure",
    "swift": "swift",
    "http": "http",
    "file": "local",
    "memory": "memory",
}


def names() -> tuple[str, ...]:
    """Every backend name."""
    return tuple(_MODULES)


def get(name: str) -> Backend:
    """The backend called ``name`` (``s3``, ``gcs``, ``azure``, ``swift``, ``http``, ``file``,
    ``memory``)."""
    module = importlib.import_module(f"{__name__}.{_MODULES[name]}")
    return module.BACKEND


def for_url(url: ObjectURL) -> Backend:
    """The backend of a parsed URL."""
    return get(url.backend)


@functools.cache
def for_protocol(protocol: str) -> Backend:
    """The backend serving an fsspec protocol (``s3a``, ``gs``, ``abfs``, ...)."""
    for name in _MODULES:
        backend = get(name)
        if protocol in backend.protocols:
            return backend
    return get("file")  # a protocol no backend claims: plain fsspec defaults


def storage_options(profile: Profile, url: ObjectURL) -> tuple[str, str, dict[str, Any]]:
    """``(protocol, path, storage_options)`` for ``url`` under ``profile``."""
    backend = for_url(url)
    backend.require()
    options = backend.storage_options(profile, url)
    options.update(profile.storage_options)
    if not profile.checksums:
        options = backend.checksums_off(options)
    return backend.protocol(url), backend.path(url), options


def filesystem_class(protocol: str) -> Any:
    """The fsspec filesystem class for ``protocol``: fsspec's, except objstore's subclasses of
    s3fs (no ``Expect: 100-continue`` round trip before small PUTs, see ``_s3fs``), gcsfs (reads
    checked against their MD5, ``_gcsfs``) and adlfs (the retry policy, ``_adlfs``)."""
    return for_protocol(protocol).filesystem_class(protocol)
