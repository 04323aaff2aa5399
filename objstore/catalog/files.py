"""Read and write a catalog file that is a local path, an object-store URL or (read only) a
plain https URL."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ..api import resolve
from ..boundary import mapped_errors

if TYPE_CHECKING:
    from ..profiles import Profile

__all__ = ["read_text", "write_text", "is_local"]


def is_local(target: str | os.PathLike[str]) -> bool:
    text = os.fspath(target)
    return "://" not in text or text.startswith("file://")


def read_text(target: str | os.PathLike[str], profile: str | Profile | None = None) -> str | None:
    """The file's text, or None when it does not exist. https URLs are read anonymously."""
    text = os.fspath(target)
    if is_local(text):
        path = Path(text.removeprefix("file://"))
        return path.read_text() if path.exists() else None
    if text.startswith(("http://", "https://")) and profile is None:
        import fsspec

        fs = fsspec.filesystem("http", skip_instance_cache=True)
        try:
            return fs.cat_file(text).decode()
        except FileNotFoundError:
            return None
    r = resolve(text, profile)
    with mapped_errors(r):
        try:
            return r.fs.cat_file(r.path).decode()
        except FileNotFoundError:
            return None


def write_text(target: str | os.PathLike[str], content: str,
               profile: str | Profile | None = None) -> None:
    """Write ``content`` to a local file (atomically) or upload it to an object store."""
    text = os.fspath(target)
    if is_local(text):
        path = Path(text.removeprefix("file://"))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w") as f:
            f.write(content)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        return
    r = resolve(text, profile)
    with mapped_errors(r):
        r.fs.pipe_file(r.path, content.encode())
