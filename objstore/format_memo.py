"""Which zarr format a cube was last seen in, so that opening it asks for one metadata key, not two.

Kept in the process and in ``platformdirs.user_cache_dir("objstore")/zarr-formats.json`` (keys
are hashes of the profile name and the URL without its query string: no secrets, no paths in
clear), best effort: a missing or broken file only costs the format probe. A cube never seen
gets the format last seen on the same bucket or container, since a collection is usually written
by one tool; with nothing known, format 2 is asked for first.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .urls import ObjectURL

__all__ = ["clear", "known", "remember"]

MAX_ENTRIES = 4096

_lock = threading.Lock()
_memo: OrderedDict[str, int] | None = None  # loaded from the file on first use


def _path() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("objstore")) / "zarr-formats.json"


def _keys(url: ObjectURL, profile: str) -> tuple[str, str]:
    exact = url.url.split("?", 1)[0].rstrip("/")
    store = f"{url.scheme}://{url.host}/{url.account}/{url.bucket}"

    def h(s: str) -> str:
        return hashlib.sha256(f"{profile}\0{s}".encode()).hexdigest()[:20]

    return h(exact), "b:" + h(store)


def _load() -> OrderedDict[str, int]:
    global _memo
    if _memo is None:
        _memo = OrderedDict()
        try:
            data = json.loads(_path().read_text())
            _memo.update((k, v) for k, v in data.items() if v in (2, 3))
        except (OSError, ValueError, AttributeError):
            pass
    return _memo


def known(url: ObjectURL, profile: str) -> int | None:
    """The format this cube (else its bucket) was last seen in, or None."""
    exact, store = _keys(url, profile)
    with _lock:
        memo = _load()
        return memo.get(exact) or memo.get(store)


def remember(url: ObjectURL, profile: str, fmt: int) -> None:
    exact, store = _keys(url, profile)
    with _lock:
        memo = _load()
        if memo.get(exact) == fmt and memo.get(store) == fmt:
            return
        for k in (exact, store):
            memo[k] = fmt
            memo.move_to_end(k)
        while len(memo) > MAX_ENTRIES:
            memo.popitem(last=False)
        _save(memo)


def _save(memo: OrderedDict[str, int]) -> None:
    path = _path()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(memo))
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)


def clear(*, disk: bool = False) -> None:
    """Forget the process's memo (and, with ``disk=True``, the file)."""
    global _memo
    with _lock:
        _memo = None if not disk else OrderedDict()
        if disk:
            _path().unlink(missing_ok=True)
