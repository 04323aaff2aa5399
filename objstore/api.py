"""resolve(), filesystem(), store(): wire URL parsing, the profile registry and the backend adapters.

Resolving does no network I/O. Filesystems are cached here, keyed by their full storage options and
the credential environment, and built with ``skip_instance_cache`` so that fsspec's own instance
cache can never hand a changed profile a filesystem made with old credentials.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from . import backends, closing, perf, scratch_prefix
from .boundary import mapped_errors, status_of
from .errors import ObjstoreError
from .profiles import Profile
from .registry import ProfileRegistry, _fingerprint, default_registry
from .retry import policy_for
from .urls import ObjectURL, parse

if TYPE_CHECKING:
    import fsspec
    import zarr.abc.store

    from .backends.base import Backend

__all__ = ["Resolved", "resolve", "filesystem", "store"]

_fs_cache: dict[tuple[object, ...], Any] = {}
_fs_lock = threading.Lock()


def _make_fs(protocol: str, options: dict[str, Any], *, asynchronous: bool) -> fsspec.AbstractFileSystem:
    key = (protocol, asynchronous, json.dumps(options, sort_keys=True, default=str),
           _fingerprint(os.environ))
    with _fs_lock:
        if key in _fs_cache:
            return _fs_cache[key]
    cls = backends.filesystem_class(protocol)
    if asynchronous and not cls.async_impl:
        from fsspec.implementations.asyn_wrapper import AsyncFileSystemWrapper

        fs = AsyncFileSystemWrapper(_make_fs(protocol, options, asynchronous=False), asynchronous=True)
    elif asynchronous:  # used by zarr stores, on zarr's event loop
        fs = cls(skip_instance_cache=True, asynchronous=True, **options)
        closing.close_at_exit(fs, backends.for_protocol(protocol).closer(fs))
    else:
        fs = cls(skip_instance_cache=True, **options)
    with _fs_lock:
        _fs_cache[key] = fs
    return fs


_obstore_cache: dict[tuple[object, ...], Any] = {}


def _obstore(protocol: str, path: str, options: dict[str, Any], n: int, read_only: bool,
             checksums: bool = True) -> Any:
    """The obstore engine's store for ``path``, made once per process (building its HTTP client
    is most of what a second open would otherwise cost)."""
    from .obstore_engine import obstore_store

    key = (os.getpid(), protocol, path, read_only, n, checksums,  # a forked child: its own client
           json.dumps(options, sort_keys=True, default=str), _fingerprint(os.environ))
    with _fs_lock:
        if key in _obstore_cache:
            return _obstore_cache[key]
    store = obstore_store(protocol, path, options, n, read_only, checksums)
    with _fs_lock:
        while len(_obstore_cache) >= 32:  # the oldest first
            del _obstore_cache[next(iter(_obstore_cache))]
        _obstore_cache[key] = store
    return store


@dataclass(frozen=True, repr=False)
class Resolved:
    """A URL bound to a profile: the fsspec filesystem, path, storage options, zarr store, mapper."""

    url: ObjectURL
    profile: Profile
    protocol: str
    path: str
    storage_options: dict[str, Any] = field(default_factory=dict)  # holds secrets: never printed

    def __repr__(self) -> str:
        return f"Resolved(url={self.url.url!r}, profile={self.profile.name!r}, protocol={self.protocol!r})"

    @property
    def backend(self) -> Backend:
        """What objstore knows about this kind of store (:mod:`objstore.backends`)."""
        return backends.for_url(self.url)

    @cached_property
    def io_options(self) -> dict[str, Any]:
        """``storage_options`` plus the profile's retry policy in the library's own words
        (each Backend's ``library_options``): what objstore's filesystems are made with."""
        return self.backend.library_options(policy_for(self.profile), self.storage_options)

    @cached_property
    def fs(self) -> fsspec.AbstractFileSystem:
        """A synchronous fsspec filesystem for this URL."""
        return _make_fs(self.protocol, self.io_options, asynchronous=False)

    @property
    def fsspec_url(self) -> str:
        """The URL as fsspec understands it (use with ``storage_options``)."""
        return self.path if "://" in self.path else f"{self.protocol}://{self.path}"

    def mapper(self) -> fsspec.FSMap:
        return self.fs.get_mapper(self.path)

    def zarr_store(self, read_only: bool = False) -> zarr.abc.store.Store:
        """A zarr 3 store: LocalStore for files, FsspecStore (async filesystem) otherwise, in a
        :class:`~objstore.cubestore.CubeStore` (``max_concurrency`` in flight, no HEAD before GET;
        see docs/performance.md)."""
        from .cubestore import CubeStore

        n = perf.max_concurrency(self.profile)
        if self.backend.on_disk:
            from zarr.storage import LocalStore

            store = CubeStore(LocalStore(self.path, read_only=read_only), max_concurrency=n)
        elif perf.engine(self.profile, self.protocol, self.storage_options,
                         reading=read_only) == "obstore":
            inner = _obstore(self.protocol, self.path, self.io_options, n, read_only,
                             self.profile.checksums)
            store = CubeStore(inner, max_concurrency=n)
        else:
            from zarr.storage import FsspecStore

            options = self.backend.io_options(self.io_options, n)
            fs = _make_fs(self.protocol, options, asynchronous=True)
            store = CubeStore(FsspecStore(fs, path=self.path, read_only=read_only),
                              max_concurrency=n)
        store.errors = ReadErrors(self.url, _without_secrets(self.profile))
        return store


def _without_secrets(profile: Profile) -> Profile:
    """``profile`` with every secret field and its free-form storage options emptied: what error
    messages need (name, source, endpoint), safe to pickle for dask workers."""
    from pydantic import SecretStr

    cleared: dict[str, Any] = {name: None for name, value in profile if isinstance(value, SecretStr)}
    return profile.model_copy(update={**cleared, "storage_options": {}})


@dataclass(frozen=True)
class ReadErrors:
    """``mapped_errors`` for a store's reads (picklable, for dask workers; holds no secret)."""

    url: ObjectURL
    profile: Profile

    @contextmanager
    def __call__(self) -> Iterator[None]:
        try:
            with mapped_errors(Resolved(self.url, self.profile, "", "")):
                yield
        except ObjstoreError as exc:
            exc.url = exc.url or self.url.url
            exc.profile = exc.profile or self.profile.name
            if exc.status is None and exc.__context__ is not None and (
                    status := status_of(exc.__context__)):
                exc.status = status
                if f"HTTP {status}" not in str(exc) and exc.args:
                    exc.args = (f"{exc.args[0]} (HTTP {status})", *exc.args[1:])
            raise



def resolve(
    url: str | os.PathLike[str], profile: str | Profile | None = None,
    *, registry: ProfileRegistry | None = None,
) -> Resolved:
    """Bind ``url`` to a profile (explicit, then ``match``, then the backend's default)."""
    parsed: ObjectURL = parse(url)
    reg = registry or default_registry()
    prof = reg.for_url(parsed, profile)
    protocol, path, options = backends.storage_options(prof, parsed)
    if (seconds := scratch_prefix.object_expiry_seconds(parsed)) is not None:
        for k, v in backends.for_url(parsed).expiry_options(seconds).items():
            options.setdefault(k, v)
    return Resolved(parsed, prof, protocol, path, options)


def filesystem(url: str, profile: str | Profile | None = None) -> fsspec.AbstractFileSystem:
    """The configured fsspec filesystem for ``url``."""
    return resolve(url, profile).fs


def store(url: str, profile: str | Profile | None = None, *, read_only: bool = False) -> Any:
    """The zarr store for ``url``."""
    return resolve(url, profile).zarr_store(read_only=read_only)
