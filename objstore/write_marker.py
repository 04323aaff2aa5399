"""The in-progress marker: a small JSON object at a cube's root while ``write_cube`` runs.

It is written before any chunk and removed only after the consolidated metadata (the commit
point) is written, so a cube whose write did not finish can be told from a complete one: objstore
refuses to open it (:class:`~objstore.errors.InterruptedWriteError`) and says who wrote it, when,
and how to finish it. It names the writer (host, pid) so that it can later become an atomic claim.
"""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime
from typing import Any

from .conditional import warn_if_not_atomic
from .errors import InterruptedWriteError

__all__ = ["MARKER", "PUBLISH_MARKER", "new_marker", "claim", "describe", "is_append",
           "interrupted_error", "fingerprint", "same_write"]

MARKER = ".objstore-write"
#: publish's own marker (``objstore.publish.MARKER``): an interrupted publish, which it resumes
PUBLISH_MARKER = ".objstore-publishing"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("objstore")
    except PackageNotFoundError:
        return "unknown"


def fingerprint(ds: Any, encoding: Any, zarr_format: int) -> str:
    """What a write would lay out: each variable's dims, shape, dtype, chunks and encoding, and
    the encodings asked for. A resumed write must match the interrupted one on all of them."""
    import hashlib

    layout = [(str(k), v.dims, v.shape, str(v.dtype), getattr(v, "chunks", None),
               sorted((str(a), repr(b)) for a, b in v.encoding.items()
                      if a not in ("source", "original_shape", "preferred_chunks")))
              for k, v in sorted(ds.variables.items(), key=lambda kv: str(kv[0]))]
    asked = sorted((str(k), sorted((str(a), repr(b)) for a, b in dict(v).items()))
                   for k, v in dict(encoding or {}).items())
    text = repr((zarr_format, layout, asked))
    return hashlib.sha256(text.encode()).hexdigest()


def same_write(raw: bytes | None, print_: str) -> bool:
    """Whether the interrupted write behind marker ``raw`` laid out what ``print_`` describes."""
    return bool(print_) and _fields(raw).get("fingerprint") == print_


def new_marker(mode: str, print_: str | None = None, *,
               writer: str = "objstore.write_cube") -> bytes:
    """The marker's content for a write in ``mode`` starting now in this process; ``print_``
    is the write's :func:`fingerprint`, so that a re-run can tell it is the same write."""
    return json.dumps({
        "fingerprint": print_,
        "writer": writer,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": mode,
        "objstore": _version(),
    }).encode()


def claim(fs: Any, cube_path: str, data: bytes) -> bytes | None:
    """Create the marker under ``cube_path`` only if there is none, atomically where the store
    allows (S3 and Swift ``If-None-Match: *``, GCS ``ifGenerationMatch=0``, Azure's
    ``overwrite=False``, ``O_EXCL`` on local disk). Returns None once claimed, else the marker
    that is already there (another writer's, or an interrupted write's). Once claimed, a store
    whose server does not make that create atomic is warned about (objstore/conditional.py)."""
    from fsspec.implementations.local import LocalFileSystem

    path = f"{cube_path.rstrip('/')}/{MARKER}"
    try:
        if isinstance(fs, LocalFileSystem):
            os.makedirs(cube_path, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        else:
            fs.pipe_file(path, data, mode="create")
    except Exception:
        try:  # refused because it exists? (each backend says so differently)
            return bytes(fs.cat_file(path))
        except (FileNotFoundError, OSError):
            pass
        raise
    if not isinstance(fs, LocalFileSystem):  # probed next to the cube, not inside it
        beside = cube_path.rstrip("/").rpartition("/")[0] or cube_path
        warn_if_not_atomic(fs, beside, fs.unstrip_protocol(cube_path))
    return None


def _fields(raw: bytes | None) -> dict[str, Any]:
    try:
        doc = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def is_append(raw: bytes | None) -> bool:
    """An append leaves the cube it grows as it was until it completes (a region write,
    ``mode="r+"``, does not: it rewrites chunks in place)."""
    return _fields(raw).get("mode") == "a"


def describe(raw: bytes | None) -> str:
    """``started 2026-01-05 06:40:12 UTC on host h (pid 12), mode 'w'`` from a marker."""
    doc = _fields(raw)
    started = str(doc.get("started", "at an unknown time")).replace("T", " ").replace(
        "+00:00", " UTC")
    who = f" on host {doc['host']} (pid {doc.get('pid', '?')})" if doc.get("host") else ""
    mode = f", mode {doc['mode']!r}" if doc.get("mode") else ""
    return f"started {started}{who}{mode}"


def interrupted_error(url: str, raw: bytes | None, profile: str | None = None, *,
                      publish: bool = False) -> InterruptedWriteError:
    """The error for opening a cube whose write (or ``publish``, or ``cp``) did not finish."""
    if _fields(raw).get("writer") == "objstore.cp":
        return InterruptedWriteError(
            f"{url} is an interrupted copy: an objstore cp {describe(raw)} did not finish, so its "
            "objects are incomplete. Fix: run the same objstore cp again to resume it",
            url=url, profile=profile)
    if publish:
        return InterruptedWriteError(
            f"{url} is an interrupted publish: its objects are incomplete. Fix: run the same "
            "objstore publish again to resume it", url=url, profile=profile)
    return InterruptedWriteError(
        f"{url} is an interrupted write: a write_cube {describe(raw)} did not finish (it was "
        "stopped, or is still running), so its data is incomplete. Fix: run the same "
        "write_cube(..., resume=True) again to finish it (it sends only what is missing), "
        "mode='w' to rewrite it, or delete it "
        f"(objstore rm -r {url})",
        url=url, profile=profile,
    )
