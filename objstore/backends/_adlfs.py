"""adlfs whose Azure client follows objstore's retry policy (objstore/retry.py), whose
uploads carry their MD5 (``validate_content``), so that the service refuses a damaged body (the
refusal is retried like any transient failure, then raised as RemoteError), and whose
whole-object reads are compared with the MD5 the service stored (``Content-MD5``; blobs uploaded
in blocks may have none), read again on a mismatch, then raised as RemoteError.
``checksums=False`` (a profile's ``checksums = false``) does neither.

adlfs builds its ``BlobServiceClient`` with the SDK's defaults: retries after 15, 18 and 24 s, and
sockets that may stall for 300 s. The SDK takes a ``retry_policy`` and connection/read timeouts
when the client is made; adlfs passes none, so this class makes the client itself from the
connection string (the only way objstore's profiles reach adlfs besides Azure AD credentials,
which keep adlfs's client and the SDK's defaults). Its retries are logged on ``objstore.retry``
and its 429/503 answers counted for the throttling warning, like every backend's.
"""

from __future__ import annotations

import errno
import os
from typing import Any

import adlfs

from ..errors import RemoteError
from ..md5 import md5_digest_async
from ..retry import (
    BACKOFF_FIRST,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    THROTTLE,
    THROTTLE_STATUSES,
    Attempts,
    RetryPolicy,
    log,
    service_of,
)

__all__ = ["AzureBlobFileSystem"]

#: ExponentialRetry waits ``initial + base ** retry`` (+- jitter) seconds: 0.1, 1.6, 2.4, 3.5 ...
_INCREMENT_BASE = 1.5
_JITTER = 0.5
#: reads of one blob whose body does not match its stored MD5, before it is an error
_REREADS = 3


def _retry_policy(**kwargs: Any) -> Any:
    """azure-core's ExponentialRetry, telling objstore.retry of each retry and throttled answer."""
    from urllib.parse import urlsplit

    from azure.storage.blob.aio import ExponentialRetry

    class Retry(ExponentialRetry):  # type: ignore[misc]
        def increment(self, settings: Any, request: Any, response: Any = None,
                      error: Any = None) -> bool:
            url = str(getattr(request, "url", "") or "")
            status = getattr(response, "status_code", None)
            if status in THROTTLE_STATUSES:
                THROTTLE.throttled(service_of(url))
            more = bool(super().increment(settings, request, response=response, error=error))
            if more:
                why = f"HTTP {status}" if status else type(error).__name__
                log.info("retry of %s %s%s: %s", getattr(request, "method", ""),
                         service_of(url), urlsplit(url).path, why)
            return more

    return Retry(**kwargs)


class AzureBlobFileSystem(adlfs.AzureBlobFileSystem):
    """``adlfs.AzureBlobFileSystem`` taking ``retry_total`` (retries of one request) and giving
    its timeouts and retries to the Azure client it builds."""

    def __init__(self, *args: Any, retry_total: int = DEFAULT_RETRIES, checksums: bool = True,
                 **kwargs: Any) -> None:
        self.retry_total = int(retry_total)
        self.checksums = bool(checksums)  # False: no Content-MD5 sent, no read compared
        super().__init__(*args, **kwargs)

    def do_connect(self) -> None:
        if self.connection_string is None:
            return super().do_connect()
        from azure.storage.blob.aio import BlobServiceClient

        timeouts = {k: self._timeout_kwargs.get(k, DEFAULT_TIMEOUT)
                    for k in ("connection_timeout", "read_timeout")}
        policy = _retry_policy(initial_backoff=BACKOFF_FIRST, increment_base=_INCREMENT_BASE,
                                retry_total=self.retry_total, random_jitter_range=_JITTER)
        try:
            self.service_client = BlobServiceClient.from_connection_string(
                conn_str=self.connection_string, user_agent=adlfs.spec._USER_AGENT,
                retry_policy=policy, **timeouts)
        except Exception as exc:  # what adlfs raises for a bad connection string
            raise ValueError(f"unable to connect to account for {exc}") from exc
        return None

    async def _pipe_file(self, path: str, value: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("validate_content", self.checksums)
        tries = Attempts(RetryPolicy(retries=self.retry_total), f"upload to az://{path}")
        while True:
            try:
                return await super()._pipe_file(path, value, *args, **kwargs)
            except Exception as exc:
                if not _md5_refused(exc):
                    raise
                why = "the service refused a body that did not match its Content-MD5"
                if not await tries.retry(why):
                    raise RemoteError(f"upload to az://{path}: {why} {tries.gave_up()}",
                                      url=f"az://{path}") from None


    async def _cat_file(self, path: str, start: Any = None, end: Any = None,
                        max_concurrency: Any = None, **kwargs: Any) -> bytes:
        if start is not None or end is not None or not self.checksums:
            return await super()._cat_file(path, start, end, max_concurrency, **kwargs)
        tries = Attempts(RetryPolicy(retries=min(self.retry_total, _REREADS)), f"GET az://{path}")
        while True:
            data, md5 = await self._whole(path, max_concurrency)
            if not md5 or await md5_digest_async(data) == bytes(md5):
                return data
            why = "the body does not match the MD5 the service stored (Content-MD5)"
            if not await tries.retry(why):
                raise RemoteError(f"GET az://{path}: {why} {tries.gave_up()}: the stored blob "
                                  "is damaged; rewrite it", url=f"az://{path}")

    async def _whole(self, path: str, max_concurrency: Any) -> tuple[bytes, Any]:
        """The blob's bytes and its stored Content-MD5 (adlfs's ``_cat_file``, keeping the MD5)."""
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        container, blob, version_id = self.split_path(self._strip_protocol(path))
        async with self.service_client.get_blob_client(container=container, blob=blob) as bc:
            try:
                stream = await bc.download_blob(
                    version_id=version_id, max_concurrency=max_concurrency or self.max_concurrency,
                    **self._timeout_kwargs)
            except ResourceNotFoundError as exc:
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path) from exc
            except HttpResponseError as exc:
                if version_id is not None:
                    raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path) from exc
                raise
            data = await stream.readall()
            return data, stream.properties.content_settings.content_md5


def _md5_refused(exc: BaseException) -> bool:
    return getattr(exc, "error_code", None) == "Md5Mismatch" or (
        type(exc).__name__ == "HttpResponseError" and "md5" in str(exc).lower())
