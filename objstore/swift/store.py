"""SwiftStore: a zarr 3 store on Swift, argument-compatible with zarrswift's ``SwiftStore``.

It is zarr's ``FsspecStore`` over an asynchronous :class:`SwiftFileSystem` at
``container/prefix``, plus the mapping methods zarrswift users call (``keys()``, ``store[key]``,
``key in store``, ``len(store)``, ``listdir``, ``rmdir``; not zarrswift's sync ``getsize``,
which would shadow zarr 3's async ``Store.getsize``). Credentials fall back to
ST_AUTH/ST_USER/ST_KEY and OS_STORAGE_URL/OS_AUTH_TOKEN, as in zarrswift. The container is created
by the first write, not by the constructor, which does no network I/O.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from typing import Any

from zarr.core.buffer import default_buffer_prototype
from zarr.core.sync import sync
from zarr.storage import FsspecStore

from ..errors import AuthMissingParameter
from .filesystem import SwiftFileSystem

__all__ = ["SwiftStore", "AuthMissingParameter"]


class SwiftStore(FsspecStore):
    """zarr store at ``swift://container/prefix``.

    Give ``(authurl, user, key)`` (v1 auth) and/or ``(preauthurl, preauthtoken)`` (a storage URL
    and a token; with credentials too, the token is used first and then renewed). Omitted values
    come from the environment. ``fs_kwargs`` go to :class:`SwiftFileSystem`.
    """

    def __init__(self, container: str, prefix: str = "", authurl: str | None = None,
                 user: str | None = None, key: str | None = None, preauthurl: str | None = None,
                 preauthtoken: str | None = None, *, read_only: bool = False,
                 **fs_kwargs: Any) -> None:
        env = os.environ
        authurl = authurl or env.get("ST_AUTH")
        user = user or env.get("ST_USER")
        key = key or env.get("ST_KEY")
        preauthurl = preauthurl or env.get("OS_STORAGE_URL")
        preauthtoken = preauthtoken or env.get("OS_AUTH_TOKEN")
        if not ((authurl and user and key) or (preauthurl and preauthtoken)):
            raise AuthMissingParameter(
                f"SwiftStore({container!r}): missing required values (authurl, user, key) or "
                "(preauthurl, preauthtoken); or set ST_AUTH, ST_USER, ST_KEY or OS_STORAGE_URL, "
                "OS_AUTH_TOKEN")
        fs = SwiftFileSystem(auth_url=authurl, user=user, key=key, storage_url=preauthurl,
                             token=preauthtoken, asynchronous=True, skip_instance_cache=True,
                             **fs_kwargs)
        self.container = container
        self.prefix = prefix.strip("/")
        path = f"{container}/{self.prefix}" if self.prefix else container
        super().__init__(fs, read_only=read_only, path=path)

    def __repr__(self) -> str:
        return f"<SwiftStore({self.path})>"

    def with_read_only(self, read_only: bool = False) -> SwiftStore:
        new = copy.copy(self)
        new._read_only = read_only
        new._is_open = False
        return new

    # ---------------------------------------------------------------- mapping, as zarrswift
    def keys(self) -> list[str]:
        """Every key under the prefix (relative to it)."""
        async def collect() -> list[str]:
            return [k async for k in self.list()]

        return sync(collect())

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def __bool__(self) -> bool:  # an empty store is still a store
        return True

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and sync(self.exists(key))

    def __getitem__(self, key: str) -> bytes:
        buf = sync(self.get(key, default_buffer_prototype()))
        if buf is None:
            raise KeyError(key)
        return buf.to_bytes()

    def __setitem__(self, key: str, value: bytes) -> None:
        sync(self.set(key, default_buffer_prototype().buffer.from_bytes(bytes(value))))

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        sync(self.delete(key))

    def listdir(self, path: str | None = None) -> list[str]:
        """Names directly under ``path`` (relative to the prefix)."""
        async def collect() -> list[str]:
            return [k async for k in self.list_dir(path or "")]

        return sync(collect())

    def rmdir(self, path: str | None = None) -> None:
        """Delete everything under ``path`` (default: the whole prefix)."""
        sync(self.delete_dir(path.strip("/") if path else ""))
