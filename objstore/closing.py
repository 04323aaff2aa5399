"""The asynchronous filesystems behind zarr stores close their HTTP sessions at exit, on zarr's
event loop and before that loop stops.

s3fs closes only its synchronous instances' sessions, and adlfs leaves it to weakref finalizers
that call a loop which, for an asynchronous instance, is not there: a user's script would end with
"Unclosed client session" or a "Loop is not running" traceback. The hook is registered again with
each new filesystem so that it runs before zarr's and fsspec's own exit hooks.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
import weakref
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["close_at_exit"]

_open: list[tuple[Any, Callable[[], Coroutine[Any, Any, None]]]] = []
_lock = threading.Lock()


def _detach_loopless_finalizers() -> None:
    """Detach adlfs's weakref finalizers of asynchronous instances (ours, and those dask's
    tokenizer unpickles): they call ``fsspec.asyn.sync`` without a loop, which can only fail."""
    from fsspec.asyn import sync

    registry = getattr(weakref.finalize, "_registry", {})  # CPython's, stable since 3.4
    for finalizer, info in list(registry.items()):
        if info.func is sync and bool(info.args) and info.args[0] is None:
            finalizer.detach()


def close_at_exit(fs: Any, closer: Callable[[], Coroutine[Any, Any, None]] | None) -> None:
    """Run ``closer`` (from ``fs``'s Backend: it closes the sessions) at exit; None: nothing to
    do."""
    if closer is None:
        return
    with _lock:
        _open.append((fs, closer))
        atexit.unregister(_close_all)
        atexit.register(_close_all)


def _close_all() -> None:
    from zarr.core import sync as zsync

    with _lock:
        items = list(_open)
        _open.clear()
    if any(type(fs).__module__.startswith("adlfs") for fs, _ in items):
        _detach_loopless_finalizers()
    loop = zsync.loop[0]
    if loop is None or loop.is_closed() or not loop.is_running():
        return
    for _fs, closer in items:
        try:
            asyncio.run_coroutine_threadsafe(closer(), loop).result(timeout=5)
        except Exception:  # noqa: BLE001, S110 - at exit, a session that will not close is moot
            pass
