"""HTTP plumbing of the Swift filesystem: per-loop aiohttp sessions closed at exit, request
counters, path quoting, streaming local files, body checksums, and secret-hiding strings."""

from __future__ import annotations

import asyncio
import atexit
import errno
import hashlib
import mimetypes
import threading
import weakref
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urlsplit

import aiohttp

from ..errors import scrub

__all__ = ["RequestStats", "BodyError"]

_CHUNK = 1 << 20


class _Secret(str):
    """A str that hides itself in ``repr`` (so printing ``fs.storage_options`` shows no secret)."""

    def __repr__(self) -> str:
        return "'**********'"

    def __reduce__(self) -> tuple[Any, ...]:
        return (str, (str(self),))


@dataclass
class RequestStats:
    """Request counters of one filesystem (for tests and benchmarks)."""

    requests: Counter[str] = field(default_factory=Counter)  # by HTTP method
    in_flight: int = 0
    max_in_flight: int = 0
    auth_requests: int = 0  # tokens fetched from the server (cache hits not counted)
    retries: int = 0


class BodyError(Exception):
    """A response body that cannot be what the server sent: checksum mismatch, truncated, or not
    the JSON a listing is. Retried like a reset."""


@dataclass
class _Reply:
    status: int
    headers: Any
    body: bytes = b""
    result: Any = None
    attempts: int = 1


def is_manifest(headers: Any) -> bool:
    """A large object (SLO or DLO): its ETag is not the MD5 of its bytes."""
    return (headers.get("X-Static-Large-Object", "").lower() == "true"
            or "X-Object-Manifest" in headers)


def check_etag(headers: Any, digest: str, what: str) -> None:
    """BodyError unless the response's ETag is ``digest`` (skipped for large objects)."""
    etag = headers.get("Etag", "").strip('"')
    if etag and not is_manifest(headers) and etag != digest:
        raise BodyError(f"{what}: body does not match its ETag (MD5 {digest}, ETag {etag})")


def md5_file(path: str | Path | IO[bytes], offset: int = 0, length: int | None = None) -> str:
    """MD5 of ``length`` bytes of a local file (path or open binary file) from ``offset`` (to
    the end when None)."""
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") if isinstance(path, (str, Path)) else nullcontext(path) as f:
        f.seek(offset)
        left = length
        while left is None or left > 0:
            chunk = f.read(_CHUNK if left is None else min(_CHUNK, left))
            if not chunk:
                break
            h.update(chunk)
            if left is not None:
                left -= len(chunk)
    return h.hexdigest()


_ALL_SESSIONS: weakref.WeakSet[_Sessions] = weakref.WeakSet()


def _close_every_session() -> None:
    for sessions in list(_ALL_SESSIONS):
        sessions.close_all()


class _Sessions:
    """One aiohttp session (and renewal lock) per event loop; closed when the filesystem goes.

    At exit, sessions close before the event loops of fsspec and zarr stop: the exit hook is
    registered again with each new session, after those libraries registered theirs.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout  # seconds to connect, and without a byte read
        self.by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[
            aiohttp.ClientSession, asyncio.Lock]] = weakref.WeakKeyDictionary()
        self.lock = threading.Lock()

    def get(self, limit: int) -> tuple[aiohttp.ClientSession, asyncio.Lock]:
        loop = asyncio.get_running_loop()
        with self.lock:
            found = self.by_loop.get(loop)
            if found is None or found[0].closed:
                session = aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(limit=limit, ttl_dns_cache=300),
                    timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.timeout,
                                                  sock_read=self.timeout),
                    auto_decompress=False,  # objects are bytes as stored, Content-Encoding or not
                    skip_auto_headers=("Content-Type",),
                )
                found = self.by_loop[loop] = (session, asyncio.Lock())
                _ALL_SESSIONS.add(self)
                atexit.unregister(_close_every_session)  # (re)registered last, so it runs first
                atexit.register(_close_every_session)
            return found

    def close_all(self) -> None:
        with self.lock:
            items = list(self.by_loop.items())
            self.by_loop.clear()
        for loop, (session, _lock) in items:
            if session.closed:
                continue
            if loop.is_running() and not loop.is_closed():
                try:
                    done = asyncio.run_coroutine_threadsafe(_close_session(session), loop)
                except RuntimeError:
                    pass
                else:
                    if not _inside(loop):  # from another thread: wait a little for a clean close
                        try:
                            done.result(timeout=1.0)
                        except Exception:
                            pass
                    continue
            connector = session.connector
            if connector is not None:
                try:
                    connector._close()  # the loop is gone or stopped: close the sockets directly
                except Exception:  # pragma: no cover - best effort at shutdown
                    pass


async def _close_session(session: aiohttp.ClientSession) -> None:
    await session.close()
    await asyncio.sleep(0)  # let the transports' connection_lost callbacks run


def _inside(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _quote_path(container: str, key: str = "") -> str:
    out = "/" + quote(container, safe="") if container else ""
    return out + ("/" + quote(key, safe="/") if key else "")


def _content_type(key: str) -> str:
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


async def _file_chunks(path: str | Path | IO[bytes], offset: int, length: int
                       ) -> AsyncIterator[bytes]:
    """``length`` bytes of a local file (path or open binary file) from ``offset``, in chunks."""
    f = open(path, "rb") if isinstance(path, (str, Path)) else path  # noqa: SIM115
    try:
        f.seek(offset)
        while length > 0:
            chunk = f.read(min(_CHUNK, length))
            if not chunk:
                raise OSError(errno.EIO, f"{path}: file shrank while uploading")
            length -= len(chunk)
            yield chunk
            await asyncio.sleep(0)
    finally:
        if f is not path:
            f.close()


def _safe(exc: BaseException) -> str:
    """An exception's text without URLs' query strings (tokens never travel there, but be sure)."""
    text = scrub(str(exc).splitlines()[0]) if str(exc) else ""
    for word in text.split():
        if "://" in word and "?" in word:
            u = urlsplit(word.strip("'\"(),"))
            text = text.replace(word, f"{u.scheme}://{u.netloc}{u.path}")
    return text[:200]
