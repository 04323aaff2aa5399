"""Backend adapters: turn a profile and a URL into ``(protocol, path, storage_options)``.

A lazy table from backend name to module, with the extra to install when its library is missing
(the way fsspec's registry does it). Each module has ``PROTOCOL``, ``REQUIRES`` and
``storage_options(profile, url) -> dict``; secrets leave ``SecretStr`` only there.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType
from typing import Any

from ..errors import BackendNotInstalledError
from ..profiles import Profile
from ..urls import ObjectURL

__all__ = ["adapter", "filesystem_class", "storage_options"]

_TABLE: dict[str, tuple[str, str]] = {  # backend -> (module, extra)
    "s3": ("s3", "s3"),
    "gcs": ("gcs", "gcs"),
    "azure": ("azure", "azure"),
    "swift": ("swift", "swift"),
    "http": ("http", ""),
    "file": ("local", ""),
    "memory": ("local", ""),
}


def adapter(backend: str) -> ModuleType:
    module_name, extra = _TABLE[backend]
    module = importlib.import_module(f"{__name__}.{module_name}")
    for requirement in getattr(module, "REQUIRES", ()):
        if importlib.util.find_spec(requirement) is None:
            raise BackendNotInstalledError(
                f"the {backend} backend needs {requirement!r}: pip install 'objstore[{extra or 'all'}]'"
            )
    return module


def storage_options(profile: Profile, url: ObjectURL) -> tuple[str, str, dict[str, Any]]:
    """``(protocol, path, storage_options)`` for ``url`` under ``profile``."""
    mod = adapter(url.backend)
    options = mod.storage_options(profile, url)
    options.update(profile.storage_options)
    return mod.protocol(url), mod.path(url), options


def filesystem_class(protocol: str) -> Any:
    """The fsspec filesystem class for ``protocol``: fsspec's, except objstore's subclasses of
    s3fs (no ``Expect: 100-continue`` round trip before small PUTs, see ``_s3fs``), gcsfs (reads
    checked against their MD5, ``_gcsfs``) and adlfs (the retry policy, ``_adlfs``)."""
    if protocol in ("s3", "s3a"):
        from ._s3fs import S3FileSystem

        return S3FileSystem
    if protocol in ("gs", "gcs"):
        from ._gcsfs import GCSFileSystem

        return GCSFileSystem
    if protocol in ("az", "abfs", "abfss"):
        from ._adlfs import AzureBlobFileSystem

        return AzureBlobFileSystem
    import fsspec

    return fsspec.get_filesystem_class(protocol)
