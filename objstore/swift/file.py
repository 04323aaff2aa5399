"""SwiftFile: fsspec's buffered file on Swift (ranged reads; spooled writes, SLO when large)."""

from __future__ import annotations

import tempfile
import time
from typing import IO, TYPE_CHECKING, Any

from fsspec.spec import AbstractBufferedFile

from ._http import _CHUNK, _file_chunks, md5_file

if TYPE_CHECKING:
    from .filesystem import SwiftFileSystem

__all__ = ["SwiftFile"]


class SwiftFile(AbstractBufferedFile):
    """Reads with ranged GETs; writes spool locally and upload one object, or an SLO when the
    data outgrows the filesystem's ``segment_size`` (segments are uploaded as they fill)."""

    fs: SwiftFileSystem

    def _fetch_range(self, start: int, end: int) -> bytes:
        return self.fs.cat_file(self.path, start=start, end=end)

    def _initiate_upload(self) -> None:
        self._spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=64 * 2**20)
        self._segments: list[dict[str, Any]] = []
        self._prefix = f"{self.fs.split_path(self.path)[1]}/slo/{time.time():.6f}/stream/"

    def _spooled(self) -> int:
        return self._spool.seek(0, 2)

    def _upload_chunk(self, final: bool = False) -> bool:
        self._spool.seek(0, 2)
        self._spool.write(self.buffer.getbuffer())
        size = self.fs.segment_size
        while self._spooled() > size:
            self._send_segment(size)
        if final and self.autocommit:
            self.commit()
        return True

    def _send_segment(self, n: int) -> None:
        from fsspec.asyn import sync

        fs = self.fs
        container, _ = fs.split_path(self.path)
        spool = self._spool

        async def send() -> dict[str, Any]:
            seg = await fs._ensure_segments_container(container)
            name = f"{self._prefix}{fs.segment_size}/{len(self._segments):08d}"
            return await fs._put_segment(seg, name, lambda: _file_chunks(spool, 0, n), n,
                                         md5_file(spool, 0, n) if fs.checksums else None)

        self._segments.append(sync(fs.loop, send))
        rest = tempfile.SpooledTemporaryFile(max_size=64 * 2**20)
        spool.seek(n)
        while chunk := spool.read(_CHUNK):
            rest.write(chunk)
        spool.close()
        self._spool = rest

    def commit(self) -> None:
        from fsspec.asyn import sync

        fs = self.fs
        container, key = fs.split_path(self.path)
        mode = "create" if "x" in self.mode else "overwrite"
        if self._segments:
            if self._spooled():
                self._send_segment(self._spooled())
            sync(fs.loop, fs._put_manifest, container, key, self._segments, mode)
        else:
            n = self._spooled()
            spool = self._spool
            sync(fs.loop, fs._put_object, container, key, lambda: _file_chunks(spool, 0, n), n,
                 mode, etag=md5_file(spool, 0, n) if fs.checksums else None)
        self._spool.close()

    def discard(self) -> None:
        from fsspec.asyn import sync

        if getattr(self, "_segments", None):
            sync(self.fs.loop, self.fs._delete_segments, self._segments)
        if getattr(self, "_spool", None) is not None:
            self._spool.close()
