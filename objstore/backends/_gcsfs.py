"""gcsfs following objstore's retry policy, whose reads and uploads of whole objects are checked
against their CRC32C, and retried.

gcsfs retries each request 6 times with waits of 1, 2, 4, 8, 16 s, fixed when its class is
defined; this class retries its requests itself with the profile's ``retries`` and the policy's
backoff and deadline (objstore/retry.py), deciding what is retriable as gcsfs does, and counts
429/503 answers for the throttling warning.

GCS answers a whole-object GET with ``x-goog-hash: crc32c=...,md5=...``; gcsfs checks it only when
downloading to a file, so a chunk read (``cat``) damaged on the way would be taken for data. Here
it is compared with the body's CRC32C (the MD5 where a server sends no CRC32C): CRC32C is GCS's own
integrity check, on every object (composite ones too), and costs an eighth of an MD5's CPU.

A body below :data:`ONE_REQUEST_BELOW` is uploaded in one request sent from the caller's buffer a
slice at a time, a media upload (multipart only with metadata to send): gcsfs joins metadata and
body into one new bytes object, a copy of every chunk, sends bodies from 50 MiB in three or more
requests, and hashes the body on the event loop after the upload. The CRC32C the server answers
is compared with the body's; bigger bodies go through gcsfs, which compares their MD5
(``consistency="md5"``, set by objstore.retry). A mismatch is retried (a new upload replaces the
damaged object), then raised as RemoteError. ``checksums=False`` (a profile's
``checksums = false``, with ``consistency="none"``) checks nothing.
"""

from __future__ import annotations

import base64
import importlib
from typing import Any
from urllib.parse import quote

import aiohttp
import fsspec
import google_crc32c

from .. import request_body
from ..errors import RemoteError
from ..md5 import hash_off_the_loop, md5_digest_async
from ..retry import (
    DEFAULT_RETRIES,
    THROTTLE,
    THROTTLE_STATUSES,
    Attempts,
    RetryPolicy,
    service_of,
)
from . import _gcs_switch  # noqa: F401 - before fsspec imports gcsfs (the class below)

__all__ = ["ONE_REQUEST_BELOW", "GCSFileSystem", "crc32c_b64"]

#: bodies below this size are uploaded in one request (gcsfs's resumable uploads take three or more)
ONE_REQUEST_BELOW = 100 * 2**20


def crc32c_b64(data: Any) -> str:
    """A body's CRC32C as GCS writes it (base64 of its four big-endian bytes)."""
    return base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode()


def _hashes(header: str | None) -> dict[str, str]:
    """``{"crc32c": ..., "md5": ...}`` of an ``x-goog-hash`` header (base64, as sent)."""
    parts = (part.strip().partition("=") for part in (header or "").split(","))
    return {name: value for name, _, value in parts if value}


async def _matches(data: Any, hashes: dict[str, str]) -> bool:
    """The body against its CRC32C, else its MD5 (base64); True when the server sent neither."""
    if hashes.get("crc32c"):
        return await hash_off_the_loop(crc32c_b64, data) == hashes["crc32c"]
    if hashes.get("md5"):
        digest = base64.b64encode(await md5_digest_async(data)).decode()
        return digest.rstrip("=") == hashes["md5"].rstrip("=")
    return True


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
            if await _matches(out, _hashes(headers.get("x-goog-hash"))):
                return out
            why = "the body does not match its checksum (x-goog-hash)"
            if not await tries.retry(why):
                raise RemoteError(f"GET {url}: {why} {tries.gave_up()}", url=url)

    async def _pipe_file(self, path: str, data: Any, *args: Any, **kwargs: Any) -> Any:
        one_request = (not args and isinstance(data, bytes | bytearray | memoryview)
                       and memoryview(data).nbytes < ONE_REQUEST_BELOW)
        send = self._upload_in_one_request if one_request else self._upload_through_gcsfs
        tries = Attempts(self.retry_policy, f"upload to gs://{path}")
        while True:
            out, why = await send(path, data, *args, **kwargs)
            if why is None:
                break
            if not await tries.retry(why):
                raise RemoteError(f"upload to gs://{path}: {why} {tries.gave_up()}",
                                  url=f"gs://{path}")
        stored = out.get("name") if isinstance(out, dict) else None
        if stored is not None and stored != self.split_path(path)[1]:
            # the upload's metadata part (which carries the name) was damaged on the way
            raise RemoteError(f"upload to gs://{path} was stored as {stored!r}: that "
                              "object may now hold these bytes; rewrite both", url=path)
        return out

    async def _upload_through_gcsfs(self, path: str, data: Any, *args: Any,
                                    **kwargs: Any) -> tuple[Any, str | None]:
        ChecksumError = importlib.import_module("gcsfs.retry").ChecksumError  # noqa: N806
        try:
            return await super()._pipe_file(path, data, *args, **kwargs), None
        except ChecksumError:
            return None, "the MD5 the server stored differs from the bytes sent"

    async def _upload_in_one_request(
            self, path: str, data: Any, metadata: dict[str, str] | None = None,
            consistency: str | None = None, content_type: str = "application/octet-stream",
            fixed_key_metadata: dict[str, Any] | None = None, chunksize: int = 0,
            mode: str = "overwrite") -> tuple[Any, str | None]:
        """One POST sending ``data`` from its own buffer (a media upload, or a multipart one when
        there is metadata to send with it); checked against the CRC32C the server answers unless
        ``consistency`` is ``"none"``."""
        core = importlib.import_module("gcsfs.core")
        bucket, key, _ = self.split_path(path)
        fixed = core._convert_fixed_key_metadata(fixed_key_metadata)
        checked = (consistency or self.consistency) not in (None, "none")
        expected = await hash_off_the_loop(crc32c_b64, data) if checked else None
        params: dict[str, Any] = {"ifGenerationMatch": "0"} if mode == "create" else {}
        # multipart also where the GCS emulator misreads a media upload (empty, or JSON it parses)
        if (metadata or fixed or not memoryview(data).nbytes
                or content_type.startswith("application/json")):
            with aiohttp.MultipartWriter("related", boundary="==0==") as body:
                body.append_json({"name": key, **({"metadata": metadata} if metadata else {}),
                                  **fixed})
                body.append(data, {"Content-Type": content_type})
            params.update(uploadType="multipart", data=body,
                          headers={"Content-Type": body.content_type})
        else:
            params.update(uploadType="media", name=key, data=request_body.body(data),
                          headers={"Content-Type": content_type})
        out = await self._call("POST", f"{self._location}/upload/storage/v1/b/{quote(bucket)}/o",
                               json_out=True, **params)
        if expected is not None and out.get("crc32c", expected) != expected:
            return out, "the CRC32C the server stored differs from the bytes sent"
        update = getattr(self, "_write_file_cache_update", None)
        if update is not None:
            await update(path)
        else:
            self.invalidate_cache(path)
        return out, None
