"""A big request body handed to the socket a piece at a time, without a copy of the whole.

aiohttp writes a bytes-like body in one call: it joins the body with the headers (one copy) and
the transport keeps what the socket did not take at once (a second copy), so each big PUT in
flight held its chunk three times. :func:`body` hands such a body over in pieces instead (Swift's
PUTs, GCS's uploads). A payload can be sent again (a retry).
"""

from __future__ import annotations

from typing import Any

from aiohttp.abc import AbstractStreamWriter
from aiohttp.payload import Payload

__all__ = ["PIECE", "body"]

#: The size of each write to the socket; bodies up to this size go to aiohttp as they are.
PIECE = 2**20


class _Piecewise(Payload):
    """A bytes-like body written ``PIECE`` bytes at a time, from a memoryview (no copies)."""

    def __init__(self, value: Any) -> None:
        view = memoryview(value).cast("B")
        super().__init__(view)
        self._size = view.nbytes

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return bytes(self._value).decode(encoding, errors)

    async def write(self, writer: AbstractStreamWriter) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(self, writer: AbstractStreamWriter,
                                content_length: int | None) -> None:
        end = self._size if content_length is None else min(self._size, content_length)
        for start in range(0, end, PIECE):
            await writer.write(self._value[start:min(start + PIECE, end)])


def body(data: Any) -> Any:
    """``data`` as aiohttp should get it: a big bytes-like object in pieces, the rest as it is."""
    if isinstance(data, bytes | bytearray | memoryview) and memoryview(data).nbytes > PIECE:
        return _Piecewise(data)
    return data
