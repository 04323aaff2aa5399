"""Signed URLs: share one private object for a limited time, with no credentials needed to read it.

The backend's own mechanism does the signing (fsspec's ``sign``): a Swift TempURL, an S3 presigned
URL, a GCS signed URL (needs a service-account key), an Azure SAS (needs the account key).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from .api import resolve
from .boundary import mapped_errors
from .errors import ConfigError, InvalidURLError, NotFoundError

if TYPE_CHECKING:
    from .profiles import Profile

__all__ = ["signed_url"]


def signed_url(url: str, profile: str | Profile | None = None, *,
               expires: float | timedelta = 3600) -> str:
    """A URL that reads the object at ``url`` without credentials for ``expires`` (seconds or a
    timedelta). The object must exist: a typo fails here, not in the reader's hands."""
    seconds = expires.total_seconds() if isinstance(expires, timedelta) else float(expires)
    if seconds < 1:
        raise ConfigError(f"expires={expires!r}: a signed URL must last at least one second")
    r = resolve(url, profile)
    with mapped_errors(r):
        try:
            info = r.fs.info(r.path)
        except FileNotFoundError:
            raise NotFoundError(f"nothing at {url} to sign: check the name with `objstore ls`",
                                url=url) from None
        if info.get("type") != "file":
            raise InvalidURLError(f"{url} is a folder, not an object: sign one object "
                                  "(e.g. a NetCDF file, or a cube's .zmetadata)", url=url)
        try:
            return str(r.fs.sign(r.path, expiration=int(seconds)))
        except NotImplementedError:
            raise InvalidURLError(f"{url}: {r.url.backend} objects cannot be signed; signed URLs "
                                  "work on swift://, s3://, gs:// and az://", url=url) from None
