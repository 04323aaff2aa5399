"""The MD5 of a body: what objstore's integrity checks compare (S3 and Swift ETags, Azure's
Content-MD5, the obstore engine's ``objstore_md5``; GCS's CRC32C goes through
:func:`hash_off_the_loop` too).

The ``*_async`` forms hash bodies of :data:`HASH_IN_THREAD` bytes or more in a thread (hashlib
releases the GIL): hashed on the event loop, a 64 MiB chunk would stall every other request in
flight for a tenth of a second.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["HASH_IN_THREAD", "hash_off_the_loop", "md5_digest", "md5_hex", "md5_digest_async",
           "md5_hex_async"]

#: bodies at least this long are hashed off the event loop
HASH_IN_THREAD = 2**20


def md5_digest(data: Any) -> bytes:
    return hashlib.md5(data, usedforsecurity=False).digest()


def md5_hex(data: Any) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


async def md5_digest_async(data: Any) -> bytes:
    return await hash_off_the_loop(md5_digest, data)


async def md5_hex_async(data: Any) -> str:
    return await hash_off_the_loop(md5_hex, data)


_T = TypeVar("_T")


async def hash_off_the_loop(hash_of: Callable[[Any], _T], data: Any) -> _T:
    """``hash_of(data)``, in a thread for big bodies (for any hash releasing the GIL)."""
    if memoryview(data).nbytes >= HASH_IN_THREAD:
        return await asyncio.to_thread(hash_of, data)
    return hash_of(data)
