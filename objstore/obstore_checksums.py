"""MD5 checks for objects zarr writes and reads through the obstore engine.

obstore sends no ``Content-MD5`` with an upload and returns none it could compare on a read, so a
bit flipped on the way (Azure: no checksum at all) would be taken for data. Here every object
written carries the MD5 of its bytes as user metadata (``x-ms-meta-objstore_md5``,
``x-amz-meta-objstore_md5``), covered by the request's signature; every whole-object read that
finds it compares. A mismatch is read again (a flip on the way back), then is an error: the stored
object itself differs from what was written (a flip on the way there), and must be rewritten.
On S3 a whole object without that metadata (written by another tool, or from a server that
returns no user metadata on a GET, as older moto did) is compared with its ETag where that is
its MD5 (the backend's ``obstore_etags``: one part, no KMS or customer key), and every PUT's
answered ETag is compared with the MD5 sent (moto, like some S3-compatible stores, checks no
payload). Elsewhere, objects written by other tools carry no such metadata and are not checked.
Bodies above :data:`objstore.md5.HASH_IN_THREAD` are hashed in a thread (``objstore.md5``).
"""

from __future__ import annotations

from typing import Any

from zarr.storage import ObjectStore

from .md5 import md5_hex_async
from .retry import Attempts, RetryPolicy

__all__ = ["MD5_KEY", "SinglePutObjectStore", "ChecksummedObjectStore"]

MD5_KEY = "objstore_md5"
#: reads of one object whose body does not match its MD5, before it is an error
REREADS = 3
#: objects below this size go in one PUT (Azure's limit for one; S3's is 5 GiB): on S3 that keeps
#: the ETag of every object objstore writes its MD5, and one PUT is fewer round trips than a
#: multipart upload's three at least
SINGLE_PUT_BELOW = 5000 * 2**20


def _in_one_put(buf: Any) -> bool:
    return memoryview(buf).nbytes < SINGLE_PUT_BELOW


def _one_put(buf: Any) -> dict[str, Any]:
    return {"use_multipart": False} if _in_one_put(buf) else {}


class SinglePutObjectStore(ObjectStore):  # type: ignore[type-arg]
    """zarr's ``ObjectStore`` sending objects below :data:`SINGLE_PUT_BELOW` in one PUT (obstore
    starts a multipart upload above 5 MiB). What a profile's ``checksums = false`` gets."""

    async def set(self, key: str, value: Any) -> None:
        self._check_writable()
        await self._put(key, value.as_buffer_like())

    async def set_if_not_exists(self, key: str, value: Any) -> None:
        import obstore as obs

        self._check_writable()
        try:
            await self._put(key, value.as_buffer_like(), mode="create")
        except obs.exceptions.AlreadyExistsError:
            pass

    async def _put(self, key: str, buf: Any, mode: str | None = None) -> None:
        import obstore as obs

        await obs.put_async(self.store, key, buf, mode=mode,  # type: ignore[arg-type]
                            **_one_put(buf))


class ChecksummedObjectStore(SinglePutObjectStore):
    """zarr's ``ObjectStore`` writing each object's MD5 as metadata and checking it on reads."""

    #: the backend's ETag reader (``Backend.obstore_etags``), or None
    etags: Any = None

    def with_read_only(self, read_only: bool = False) -> Any:
        new = super().with_read_only(read_only)
        new.etags = self.etags
        return new

    async def get(self, key: str, prototype: Any, byte_range: Any = None) -> Any:
        if byte_range is not None:
            return await super().get(key, prototype, byte_range)
        import obstore as obs

        tries = Attempts(RetryPolicy(retries=REREADS), f"GET {key}")
        while True:
            try:
                resp = await obs.get_async(self.store, key)
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                return None  # as zarr's ObjectStore answers
            data = await resp.bytes_async()
            expected = (resp.attributes or {}).get(MD5_KEY)
            etag = expected is None and self.etags is not None
            if etag:
                expected = self.etags.md5(resp.meta)
            if expected is None or await md5_hex_async(data) == expected:
                return prototype.buffer.from_bytes(data)
            if etag and tries.made == 1 and not await self.etags.are_md5(key):
                return prototype.buffer.from_bytes(data)  # encrypted: its ETag is no MD5
            why = "the body does not match the MD5 it was written with"
            if not await tries.retry(why):
                raise OSError(f"GET {key}: {why} {tries.gave_up()}: the stored object is "
                              "damaged; rewrite it")

    async def _put(self, key: str, buf: Any, mode: str | None = None) -> None:
        """PUT ``buf`` with its MD5 as metadata. Where the backend's ETag is the MD5 (S3: one
        part, so objects below :data:`SINGLE_PUT_BELOW` go in one PUT), the ETag answered is
        compared with it: a server that stored a damaged body without checking gets it again."""
        import obstore as obs

        md5 = await md5_hex_async(buf)
        extra = _one_put(buf)
        check = self.etags is not None and _in_one_put(buf)  # one part: its ETag is its MD5
        tries = Attempts(RetryPolicy(retries=REREADS), f"PUT {key}")
        while True:
            done = await obs.put_async(self.store, key, buf, mode=mode,  # type: ignore[arg-type]
                                       attributes={MD5_KEY: md5}, **extra)
            stored = self.etags.md5(done) if check else None
            if stored is None or stored == md5:
                return
            if tries.made == 1 and not await self.etags.are_md5(key):
                return  # encrypted: its ETag is no MD5
            mode = None  # what the first attempt created is ours: overwrite it
            why = "the server stored a body whose MD5 differs from the one sent"
            if not await tries.retry(why):
                raise OSError(f"PUT {key}: {why} {tries.gave_up()}")
