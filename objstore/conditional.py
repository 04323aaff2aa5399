"""Whether a store honours conditional creates, found out by trying (never assumed).

``write_cube(mode="w-")`` claims a cube's URL with a create that must fail when the object exists
(S3 and Swift ``If-None-Match: *``, GCS ``ifGenerationMatch=0``, Azure ``If-None-Match: *``).
Some servers take the header and ignore it, or check it before the upload without a lock, so that
two creates at the same moment both succeed. A probe in a temporary prefix tells them apart: a
create over an existing object, then pairs of creates racing for one new name. The verdict is kept
per store for the life of the process, and :func:`warn_if_not_atomic` warns once per store.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
import warnings
from dataclasses import dataclass
from typing import Any

from .errors import NotAtomicWarning

__all__ = ["Verdict", "probe", "verdict_for", "warn_if_not_atomic"]

log = logging.getLogger("objstore.conditional")

#: pairs of creates racing for one name; one pair where both win is enough to know
RACES = 3


@dataclass(frozen=True)
class Verdict:
    """``atomic``: of two creates of one name, one is refused, even at the same moment.
    ``kind``: "atomic", "checked" (refused only when the object is already there), "ignored"
    (the condition is not looked at) or "unknown" (the probe could not run)."""

    kind: str
    detail: str

    @property
    def atomic(self) -> bool:
        return self.kind == "atomic"


_verdicts: dict[Any, Verdict] = {}
_warned: set[Any] = set()
_lock = threading.Lock()


async def _create(fs: Any, path: str, data: bytes) -> bool:
    """True if created, False if refused because it exists."""
    try:
        await fs._pipe_file(path, data, mode="create")
        return True
    except FileExistsError:
        return False


async def _probe(fs: Any, prefix: str) -> Verdict:
    base = f"{prefix.rstrip('/')}/.objstore-probe-{uuid.uuid4().hex[:12]}"
    made: list[str] = []
    try:
        made.append(f"{base}/once")
        await _create(fs, made[-1], b"first")
        if await _create(fs, made[-1], b"second"):
            return Verdict("ignored", "a create over an existing object succeeded: the server "
                           "ignores the condition")
        for i in range(RACES):
            made.append(f"{base}/race{i}")
            won = await asyncio.gather(_create(fs, made[-1], b"a" * 1024),
                                       _create(fs, made[-1], b"b" * 1024))
            if all(won):
                return Verdict("checked", "an existing object is protected, but two creates at "
                               "the same moment both succeeded: the check is not atomic")
        return Verdict("atomic", f"one of two racing creates was refused ({RACES} of {RACES} "
                       "races)")
    finally:  # one DELETE each: no listing or HEAD first
        gone = await asyncio.gather(*(fs._rm_file(p) for p in made), return_exceptions=True)
        for path, exc in zip(made, gone, strict=True):
            if isinstance(exc, Exception) and not isinstance(exc, FileNotFoundError):
                log.info("could not remove the probe object %s: %s", path, exc)


def probe(fs: Any, prefix: str) -> Verdict:
    """Try conditional creates under ``prefix`` (removed afterwards) and say what the server did."""
    from fsspec.asyn import AsyncFileSystem, sync
    from fsspec.implementations.local import LocalFileSystem

    if isinstance(fs, LocalFileSystem):
        return Verdict("atomic", "an exclusive create (O_EXCL) on local disk")
    if not isinstance(fs, AsyncFileSystem):
        return Verdict("unknown", f"{type(fs).__name__} cannot be probed")
    return sync(fs.loop, _probe, fs, prefix)


def _store_key(fs: Any) -> Any:
    return (type(fs).__name__, getattr(fs, "_fs_token", None) or id(fs))


def verdict_for(fs: Any, prefix: str) -> Verdict:
    """:func:`probe`, once per store (endpoint and credentials) in this process."""
    key = _store_key(fs)
    with _lock:
        known = _verdicts.get(key)
    if known is not None:
        return known
    try:
        found = probe(fs, prefix)
    except Exception as exc:  # noqa: BLE001 - a store we may not write to the side: not known
        found = Verdict("unknown", f"the probe failed: {type(exc).__name__}: {exc}")
    with _lock:
        _verdicts.setdefault(key, found)
    return found


def warn_if_not_atomic(fs: Any, prefix: str, url: str) -> Verdict:
    """Probe the store of ``url`` (once) and warn, once per store, when its conditional creates
    cannot keep two writers apart."""
    verdict = verdict_for(fs, prefix)
    key = _store_key(fs)
    if verdict.kind in ("ignored", "checked"):
        with _lock:
            first = key not in _warned
            _warned.add(key)
        if first:
            warnings.warn(
                f"Conditional creates are not atomic on the server of {url} "
                f"({verdict.detail}), so two write_cube(mode='w-') to one URL at the same moment can both go ahead "
                "and mix their chunks. Fix: make sure one writer at a time writes a given URL "
                "here (`objstore doctor` checks the server)", NotAtomicWarning, stacklevel=4)
    return verdict
