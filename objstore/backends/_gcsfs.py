"""gcsfs following objstore's retry policy, whose reads and uploads of whole objects are checked
against their MD5, and retried.

gcsfs retries each request 6 times with waits of 1, 2, 4, 8, 16 s, fixed when its class is
defined; this class retries its requests itself with the profile's ``retries`` and the policy's
backoff and deadline (objstore/retry.py), deciding what is retriable as gcsfs does, and counts
429/503 answers for the throttling warning.

GCS answers a whole-object GET with ``x-goog-hash: crc32c=...,md5=...``; gcsfs checks it only when
downloading to a file, so a chunk read (``cat``) damaged on the way would be taken for data. An
upload is checked by gcsfs (``consistency="md5"``, set by objstore.retry) but a mismatch is raised
as gcsfs's ChecksumError, with the damaged object left in place. Here both are retried
(objstore/retry.py; a new upload replaces the damaged object), then raised as RemoteError.
Composite objects carry no MD5 and are not checked. ``checksums=False`` (a profile's
``checksums = false``, with ``consistency="none"``) checks no read.
"""

from __future__ import annotations

import base64
import importlib
from typing import Any

import fsspec

from ..errors import RemoteError
from ..md5 import md5_digest_async
from ..retry import (
    DEFAULT_RETRIES,
    THROTTLE,
    THROTTLE_STATUSES,
    Attempts,
    RetryPolicy,
    service_of,
)
from . import _gcs_switch  # noqa: F401 - before fsspec imports gcsfs (the class below)

__all__ = ["GCSFileSystem", "md5_of_hash_header"]


def md5_of_hash_header(value: str | None) -> bytes | None:
    """The MD5 digest in an ``x-goog-hash`` header, if it has one."""
    for part in (value or "").split(","):
        name, _, b64 = part.strip().partition("=")
        if name == "md5" and b64:
            try:
                return base64.b64decode(b64)
            except ValueError:
                return None
    return None


def _status(exc: BaseException) -> int | None:
    code = getattr(exc, "code", None) or getattr(exc, "status", None)
    return code if isinstance(code, int) else None


class GCSFileSystem(fsspec.get_filesystem_class("gs")):  # type: ignore[misc]
    """``gcsfs.GCSFileSystem`` retrying with objstore's policy (``retries``: retries of one
    request) and checking whole-object reads against their MD5."""

    def __init__(self, *args: Any, retries: int = DEFAULT_RETRIES, checksums: bool = True,
                 **kwargs: Any) -> None:
        self.retries = int(retries)
        self.checksums = bool(checksums)  # False: whole-object reads are not compared
        super().__init__(*args, **kwargs)

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(retries=self.retries)

    async def _request(self, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        retry = importlib.import_module("gcsfs.retry")
        plain = super()._request.__wrapped__  # gcsfs's request without its fixed retry loop
        retried = (retry.HttpError, retry.ChecksumError, retry.requests.exceptions.RequestException,
                   retry.google.auth.exceptions.GoogleAuthError,
                   retry.aiohttp.client_exceptions.ClientError, *retry.RETRIABLE_EXCEPTIONS)
        tries = Attempts(self.retry_policy, f"{method} {self._format_path(path, ())}")
        while True:
            try:
                return await plain(self, method, path, *args, **kwargs)
            except retried as exc:
                status = _status(exc)
                if status == 404 or not retry.is_retriable(exc) or (
                        status == 400 and "requester pays" in str(exc)):
                    raise
                if status in THROTTLE_STATUSES:
                    THROTTLE.throttled(service_of(self.base))
                if not await tries.retry(f"{type(exc).__name__}: {exc}"):
                    raise

    async def _cat_file_sequential(self, path: str, start: Any = None, end: Any = None,
                                   **kwargs: Any) -> bytes:
        if start is not None or end is not None or not self.checksums:
            return await super()._cat_file_sequential(path, start=start, end=end, **kwargs)
        url = self.url(path, generation=kwargs.get("generation"))
        tries = Attempts(self.retry_policy, f"GET {url}")
        while True:
            headers, out = await self._call("GET", url, cache_type=kwargs.get("cache_type"),
                                            cache_source=kwargs.get("cache_source"))
            expected = md5_of_hash_header(headers.get("x-goog-hash"))
            if expected is None or await md5_digest_async(out) == expected:
                return out
            why = "the body does not match its MD5 (x-goog-hash)"
            if not await tries.retry(why):
                raise RemoteError(f"GET {url}: {why} {tries.gave_up()}", url=url)

    async def _pipe_file(self, path: str, data: Any, *args: Any, **kwargs: Any) -> Any:
        ChecksumError = importlib.import_module("gcsfs.retry").ChecksumError  # noqa: N806

        tries = Attempts(self.retry_policy, f"upload to gs://{path}")
        while True:
            try:
                out = await super()._pipe_file(path, data, *args, **kwargs)
            except ChecksumError:
                why = "the MD5 the server stored differs from the bytes sent"
                if not await tries.retry(why):
                    raise RemoteError(f"upload to gs://{path}: {why} {tries.gave_up()}",
                                      url=f"gs://{path}") from None
            else:
                stored = out.get("name") if isinstance(out, dict) else None
                if stored is not None and stored != self.split_path(path)[1]:
                    # the upload's metadata part (which carries the name) was damaged on the way
                    raise RemoteError(f"upload to gs://{path} was stored as {stored!r}: that "
                                      "object may now hold these bytes; rewrite both", url=path)
                return out
