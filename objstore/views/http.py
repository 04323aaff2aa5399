"""HTTP helpers shared by the view routes: errors as statuses, ETags, work off the event loop."""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from fastapi import HTTPException, Request, Response

from ..errors import ObjstoreError, scrub

__all__ = ["CACHE_CONTROL", "http_errors", "etag_of", "not_modified", "off_loop"]

CACHE_CONTROL = "public, max-age=3600"
MAX_CONCURRENT = 2  # views computed at once (each holds its data and a figure in memory)

T = TypeVar("T")
_limiters: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()  # one per loop


@contextmanager
def http_errors() -> Iterator[None]:
    """objstore errors as HTTP errors: a view error is 400 or 413, a store error its status
    (502 when it has none, as has a failed read of the data)."""
    try:
        yield
    except ObjstoreError as exc:
        raise HTTPException(exc.status or 502, detail=scrub(str(exc))) from None
    except OSError as exc:  # the store failed while the data was read: no foreign text shown
        raise HTTPException(502, detail=f"reading the data failed ({type(exc).__name__}); "
                                        "try again later") from None


def etag_of(*parts: Any) -> str:
    """A strong ETag for the request parts (the dataset's token among them)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]
    return f'"{digest}"'


def not_modified(request: Request, etag: str) -> Response | None:
    """A 304 response when the client already holds ``etag``."""
    header = request.headers.get("if-none-match", "")
    tags = {t.strip().removeprefix("W/") for t in header.split(",") if t.strip()}
    if etag in tags or "*" in tags:
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": CACHE_CONTROL})
    return None


async def off_loop(fn: Callable[[], T]) -> T:
    """Run ``fn`` in a worker thread (at most :data:`MAX_CONCURRENT` at once): reading and
    computing with dask never blocks the event loop."""
    import asyncio

    import anyio

    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = _limiters[loop] = anyio.CapacityLimiter(MAX_CONCURRENT)
    with http_errors():
        return await anyio.to_thread.run_sync(fn, limiter=limiter)
