"""A read-only file over a bytes-like object that copies only what is read.

``io.BytesIO(data)`` shares a ``bytes`` object until someone asks for its buffer, then copies all
of it; aiohttp asks (for the body's size) before it sends a file-like body, so each big PUT that
botocore wraps that way held its chunk twice. :class:`BufferReader` serves reads from a
memoryview instead, and is a ``BytesIO`` so that aiohttp streams it the same way.
"""

from __future__ import annotations

import io
from typing import Any

__all__ = ["BufferReader"]


class BufferReader(io.BytesIO):
    """Read-only, seekable, ``len()`` = its size; reads return copies of the pieces read."""

    def __init__(self, data: Any) -> None:
        super().__init__()
        self._view = memoryview(data).cast("B")
        self._pos = 0

    def __len__(self) -> int:
        return self._view.nbytes

    def getbuffer(self) -> memoryview:
        return self._view[:]

    def getvalue(self) -> bytes:
        return self._view.tobytes()

    def read(self, size: int | None = -1) -> bytes:
        start = self._pos
        end = len(self) if size is None or size < 0 else min(len(self), start + size)
        self._pos = max(start, end)
        return self._view[start:end].tobytes()

    read1 = read

    def readinto(self, b: Any) -> int:
        data = self.read(memoryview(b).nbytes)
        memoryview(b).cast("B")[:len(data)] = data
        return len(data)

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self)}[whence]
        self._pos = max(0, base + pos)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def writable(self) -> bool:
        return False

    def write(self, b: Any) -> int:
        raise io.UnsupportedOperation("BufferReader is read-only")
