"""SwiftStore: a zarr 3 store on Swift, argument-compatible with zarrswift's ``SwiftStore``.

It is zarr's ``FsspecStore`` over an asynchronous :class:`SwiftFileSystem` at
``container/prefix``, plus the mapping methods zarrswift users call, synchronous as there:
``keys()``, ``items()``, ``values()``, ``store[key]``, ``key in store``, ``len(store)``,
``listdir``, ``rmdir``, ``getsize`` and ``clear``. ``clear`` and ``getsize`` are also zarr 3's
async ``Store`` methods: called by zarr on its own event loop they return the coroutine zarr
awaits; called from your code (a script, or a notebook cell inside a running loop) they do the
work and return its result. Deleting never removes the container itself, only objects under the
prefix. Credentials fall back to ST_AUTH/ST_USER/ST_KEY and OS_STORAGE_URL/OS_AUTH_TOKEN, as in
zarrswift. The container is created by the first write, not by the constructor, which does no
network I/O.
"""

from __future__ import annotations

import asyncio
import copy
import os
from collections.abc import Iterator
from typing import Any

from zarr.core import sync as zarr_sync
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

    def items(self) -> list[tuple[str, bytes]]:
        return [(k, self[k]) for k in self.keys()]

    def values(self) -> list[bytes]:
        return [v for _, v in self.items()]

    def rmdir(self, path: str | None = None) -> None:
        """Delete every object under ``path`` (default: the whole prefix); never the container."""
        sync(self.delete_dir(path.strip("/") if path else ""))

    # ------------------------------------------- zarrswift's sync names that zarr 3 made async
    def clear(self) -> Any:  # type: ignore[override]
        """Delete every object under the prefix (the container stays)."""
        if _on_zarr_loop():
            return self.delete_dir("")
        sync(self.delete_dir(""))
        return None

    def getsize(self, key: str | None = None) -> Any:  # type: ignore[override]
        """Bytes of the object ``key``, or of everything under it (a folder; None: the whole
        prefix); 0 when nothing is there, as in zarrswift."""
        if _on_zarr_loop():
            return super().getsize(key or "")
        return sync(self._size_under(key or "", missing_ok=True))

    async def getsize_prefix(self, prefix: str) -> int:
        return await self._size_under(prefix)

    async def _size_under(self, key: str, missing_ok: bool = False) -> int:
        """One listing: the object's size, or the total under ``key`` as a folder."""
        path = self._full(key)
        found = await self.fs._find(path, detail=True, withdirs=False)
        if not found and not missing_ok:
            raise FileNotFoundError(key)
        return sum(int(info.get("size") or 0) for info in found.values())

    async def delete_dir(self, prefix: str) -> None:
        """Delete the objects under ``prefix`` in one listing and bulk deletes; unlike fsspec's
        recursive ``rm`` of a container path, the container itself (and its ACLs) stays."""
        self._check_writable()
        path = self._full(prefix)
        found = await self.fs._find(path, detail=True, withdirs=False)
        found.pop(path, None)  # an object named like the folder is not inside it
        plain = [n for n, info in found.items() if not info.get("slo")]
        large = [n for n, info in found.items() if info.get("slo")]
        await asyncio.gather(
            *([self.fs._bulk_delete(plain)] if plain else []),
            *(self.fs._delete_object(n, known_slo=True, missing_ok=True) for n in large))

    def _full(self, key: str) -> str:
        key = key.strip("/")
        return f"{self.path}/{key}" if key else self.path


def _on_zarr_loop() -> bool:
    """True when zarr itself calls us on its event loop thread (and awaits what we return)."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        return False
    return running is zarr_sync.loop[0]
