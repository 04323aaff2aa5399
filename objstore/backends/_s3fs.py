"""s3fs without ``Expect: 100-continue`` on PutObject/UploadPart, and with every whole-object GET
checked.

Reads: botocore checks a GET against the CRC or SHA checksum the object was stored with; an object
written without one (by a tool that sends none) has only its ETag, which for a single-part upload
without KMS or a customer key is its MD5. Such a GET is checked against it here
(:func:`_check_etag`), raising botocore's own ``FlexibleChecksumError`` on a mismatch, so that it
is retried and reported like any damaged body.

Writes: every PUT and part also carries its ``Content-MD5`` (:func:`_add_md5`), besides the CRC32
botocore sends: every S3-compatible server checks an MD5 (Ceph and moto ignore the CRC32 header),
so a body damaged on the way is refused, and the stored object's ETag is the MD5 of what was sent,
which the obstore engine's reads compare (``_obstore.S3Etags``).

``Expect: 100-continue``: botocore adds that header to every PUT whose body is file-like (s3fs
always passes one), and aiohttp then waits for the server's ``100 Continue`` before it sends the
body: one more round trip per chunk written (measured in docs/performance.md). The header only
pays off for bodies so large that sending them in vain would cost more than a round trip, so it
is kept above :data:`KEEP_EXPECT_ABOVE` bytes.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
from functools import partial
from typing import Any

import s3fs
from aiobotocore.httpchecksum import AioStreamingChecksumBody
from botocore.exceptions import HTTPClientError
from botocore.httpchecksum import BaseChecksum
from botocore.utils import determine_content_length
from fsspec.asyn import sync_wrapper

from ..buffer_reader import BufferReader
from ..md5 import md5_digest
from ..retry import botocore_throttle_hook  # 429/503/SlowDown: the warning, 429 retried
from ._s3_etag import encrypted, etag_md5

__all__ = ["S3FileSystem"]

# A credential refresh that fails (an SSO login needed, a failing credential_process) is raised
# and reported by objstore as one line; aiobotocore also logs it with a traceback, which Python
# prints when no logging is configured. botocore has this handler on its own logger already.
logging.getLogger("aiobotocore").addHandler(logging.NullHandler())

KEEP_EXPECT_ABOVE = 16 * 2**20
# botocore's add_expect_header runs on "before-call.s3"; the request exists by "before-sign"
_EVENTS = ("before-sign.s3.PutObject", "before-sign.s3.UploadPart")


def _drop_expect(request: Any = None, **_: Any) -> None:
    if request is None or "Expect" not in request.headers:
        return
    size = determine_content_length(request.body)
    if size is not None and size <= KEEP_EXPECT_ABOVE:
        del request.headers["Expect"]


def _add_md5(request: Any = None, **_: Any) -> None:
    """Before a PUT or part is signed: its ``Content-MD5``, kept for :func:`_check_put_etag`."""
    body = getattr(request, "body", None)
    if body is None or "Content-MD5" in request.headers:
        return
    if isinstance(body, io.BytesIO):
        digest = md5_digest(body.getbuffer())
    elif isinstance(body, (bytes, bytearray, memoryview)):
        digest = md5_digest(body)
    else:
        return  # a stream: its CRC32 trailer covers it
    request.headers["Content-MD5"] = base64.b64encode(digest).decode()
    request.context[_SENT_MD5] = digest.hex()


def _check_put_etag(parsed: Any = None, context: Any = None, **_: Any) -> None:
    """After a PUT or part: the ETag the server answers is the MD5 of what it stored (one part,
    no KMS or customer key); a different one means the body was damaged on the way and the
    server did not check (moto, some S3-compatible stores): an error s3fs retries."""
    sent = (context or {}).pop(_SENT_MD5, None)
    if not sent or not parsed or encrypted(parsed):
        return
    etag = etag_md5(parsed.get("ETag"))
    if etag is not None and etag != sent:
        raise HTTPClientError(error="the server stored a body whose MD5 differs from the one "
                                    "sent (damaged on the way)")


class _Md5(BaseChecksum):
    def __init__(self) -> None:
        self._hash = hashlib.md5(usedforsecurity=False)

    def update(self, chunk: bytes) -> None:
        self._hash.update(chunk)

    def digest(self) -> bytes:
        return self._hash.digest()


_SENT_MD5 = "objstore_sent_md5"


def _check_etag(http_response: Any = None, parsed: Any = None, context: Any = None,
                **_: Any) -> None:
    """After a GetObject: a whole object that botocore does not check (no stored CRC/SHA) is
    read through an MD5 check against its ETag, where the ETag is the MD5 (one part, no KMS or
    customer key)."""
    if not parsed or "Body" not in parsed or parsed.get("ContentRange"):
        return
    if ((context or {}).get("checksum") or {}).get("response_algorithm"):
        return  # botocore checks the stored checksum already
    etag = etag_md5(parsed.get("ETag"))
    if etag is None or encrypted(parsed):
        return
    parsed["Body"] = AioStreamingChecksumBody(http_response.raw, parsed.get("ContentLength"),
                                              _Md5(), base64.b64encode(bytes.fromhex(etag)))


class S3FileSystem(s3fs.S3FileSystem):
    """``s3fs.S3FileSystem`` whose client sends small PUTs in one round trip."""

    async def set_session(self, refresh: bool = False, kwargs: dict[str, Any] | None = None) -> Any:
        client = await super().set_session(refresh=refresh, kwargs=kwargs or {})
        for event in _EVENTS:
            client.meta.events.register_last(event, _drop_expect, unique_id=f"objstore-{event}")

        retries = client.meta.config.retries or {}
        most = retries.get("total_max_attempts") or retries.get("max_attempts")
        client.meta.events.register("needs-retry.s3", partial(botocore_throttle_hook,
                                                              max_attempts=most),
                                    unique_id="objstore-throttle")
        if client.meta.config.request_checksum_calculation != "when_required":  # checksums on
            for event in _EVENTS:
                client.meta.events.register_first(event, _add_md5,
                                                  unique_id=f"objstore-md5-{event}")
            for op in ("PutObject", "UploadPart"):
                client.meta.events.register(f"after-call.s3.{op}", _check_put_etag,
                                            unique_id=f"objstore-put-etag-{op}")
        if client.meta.config.response_checksum_validation != "when_required":
            client.meta.events.register("after-call.s3.GetObject", _check_etag,
                                        unique_id="objstore-etag")
        return client

    _connect = set_session
    connect = sync_wrapper(set_session)

    async def _pipe_file(self, path: str, data: Any, chunksize: int = 50 * 2**20,
                         **kwargs: Any) -> Any:
        # one PutObject: a reader, which botocore and aiohttp send without copying the body
        if isinstance(data, bytes | bytearray | memoryview) and len(data) < 2 * chunksize:
            data = BufferReader(data)
        return await super()._pipe_file(path, data, chunksize=chunksize, **kwargs)

