"""gcsfs whose reads and uploads of whole objects are checked against their MD5, and retried.

GCS answers a whole-object GET with ``x-goog-hash: crc32c=...,md5=...``; gcsfs checks it only when
downloading to a file, so a chunk read (``cat``) damaged on the way would be taken for data. An
upload is checked by gcsfs (``consistency="md5"``, set by objstore.retry) but a mismatch is raised
as gcsfs's ChecksumError, with the damaged object left in place. Here both are retried
(objstore/retry.py; a new upload replaces the damaged object), then raised as RemoteError.
Composite objects carry no MD5 and are not checked.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
from typing import Any

import fsspec

from ..errors import RemoteError
from ..retry import Attempts, RetryPolicy
from . import _gcs_switch  # noqa: F401 - before fsspec imports gcsfs

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


class GCSFileSystem(fsspec.get_filesystem_class("gs")):  # type: ignore[misc]
    """``gcsfs.GCSFileSystem`` checking whole-object reads against their MD5."""

    async def _cat_file_sequential(self, path: str, start: Any = None, end: Any = None,
                                   **kwargs: Any) -> bytes:
        if start is not None or end is not None:
            return await super()._cat_file_sequential(path, start=start, end=end, **kwargs)
        url = self.url(path, generation=kwargs.get("generation"))
        tries = Attempts(RetryPolicy(), f"GET {url}")
        while True:
            headers, out = await self._call("GET", url, cache_type=kwargs.get("cache_type"),
                                            cache_source=kwargs.get("cache_source"))
            expected = md5_of_hash_header(headers.get("x-goog-hash"))
            if expected is None or hashlib.md5(out, usedforsecurity=False).digest() == expected:
                return out
            why = "the body does not match its MD5 (x-goog-hash)"
            if not await tries.retry(why):
                raise RemoteError(f"GET {url}: {why} {tries.gave_up()}", url=url)

    async def _pipe_file(self, path: str, data: Any, *args: Any, **kwargs: Any) -> Any:
        ChecksumError = importlib.import_module("gcsfs.retry").ChecksumError  # noqa: N806

        tries = Attempts(RetryPolicy(), f"upload to gs://{path}")
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
