"""The :class:`Backend` base class: everything objstore knows about one kind of store.

Workflows (open, write, publish, cp, scratch, catalogs, the server, doctor) ask the backend of a
resolved URL (``r.backend``) instead of comparing its name. The base class holds the answers of a
plain object store; each backend in this package overrides what differs. Importing a backend never
imports its library (s3fs, gcsfs, adlfs, aiohttp): that happens when a filesystem is made.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import BackendNotInstalledError, InvalidURLError
from ..profiles import LocalProfile, Profile, Source
from ..retry import DEFAULT_MAX_CONCURRENCY
from ..urls import _SCHEMES, ObjectURL
from . import checksums
from .env import EnvVar, hint

if TYPE_CHECKING:
    from ..api import Resolved
    from ..registry import ProfileRegistry
    from ..retry import RetryPolicy
    from ..transfer import Item

__all__ = ["Backend", "PublicResult"]


@dataclass
class PublicResult:
    url: str  # the https URL of the cube
    how: str  # what was done, for humans
    notes: list[str] = field(default_factory=list)


class Backend:
    """One kind of store. Class attributes describe it; methods do what differs per backend."""

    #: The name in :class:`~objstore.urls.ObjectURL` ``.backend`` and in profiles.
    name: str = ""
    #: fsspec protocols it serves; :meth:`protocol` gives the one objstore uses.
    protocols: tuple[str, ...] = ()
    #: ``pip install 'objstore[extra]'`` and the packages that extra brings.
    extra: str = ""
    requires: tuple[str, ...] = ()
    #: Its profile model (``backend = "<name>"`` in a profile).
    profile_class: type[Any] = LocalProfile
    #: Environment variables its ``*-env`` profile reads (docs and error hints are made from it).
    env: tuple[EnvVar, ...] = ()
    #: What the store calls a bucket.
    bucket_word: str = "bucket"
    #: URLs name a bucket (or container) that must exist on the server.
    has_buckets: bool = True
    #: A write creates a missing bucket, as the store's own upload tool does.
    creates_bucket_on_write: bool = False
    #: Data on this machine (no server, no endpoint, no credentials).
    is_local: bool = False
    #: Paths are files on this machine's disk.
    on_disk: bool = False
    #: objstore may write here.
    allows_writes: bool = True
    #: :meth:`make_public` works here.
    can_be_public: bool = False
    #: ``find()`` on the path of one object lists that object.
    find_lists_single_object: bool = False
    #: The engine when neither the profile nor ``OBJSTORE_ENGINE`` names one.
    default_engine: str = "fsspec"
    #: The obstore engine serves it.
    obstore_offered: bool = False
    #: what the fsspec engine runs on, in words (``objstore profiles show``)
    library: str = "fsspec"

    def __repr__(self) -> str:
        return f"<Backend {self.name}>"

    @property
    def schemes(self) -> tuple[str, ...]:
        """URL schemes that :func:`objstore.urls.parse` maps to this backend."""
        return tuple(s for s, b in _SCHEMES.items() if b == self.name)

    @property
    def credentials_hint(self) -> str:
        """Where credentials come from, for "no credentials" and "access denied" errors."""
        return hint(self.env) if self.env else ""

    # ------------------------------------------------------------------ reaching it
    def require(self) -> None:
        """Raise :class:`BackendNotInstalledError` naming the extra when a library is missing."""
        for requirement in self.requires:
            if importlib.util.find_spec(requirement) is None:
                raise BackendNotInstalledError(
                    f"the {self.name} backend needs {requirement!r}: "
                    f"pip install 'objstore[{self.extra or 'all'}]'")

    def protocol(self, url: ObjectURL) -> str:
        return self.protocols[0]

    def path(self, url: ObjectURL) -> str:
        return url.path

    def storage_options(self, profile: Profile, url: ObjectURL) -> dict[str, Any]:
        """The fsspec keyword arguments for ``url`` under ``profile`` (secrets unwrapped here)."""
        return {}

    def filesystem_class(self, protocol: str) -> Any:
        import fsspec

        return fsspec.get_filesystem_class(protocol)

    def default_profile(self, registry: ProfileRegistry, parsed: ObjectURL) -> Profile:
        """The profile for ``parsed`` when none was given and no ``match`` pattern fits."""
        return LocalProfile(name=f"({self.name})", backend=self.name, source=Source(kind="default"))

    def closer(self, fs: Any) -> Callable[[], Coroutine[Any, Any, None]] | None:
        """What closes an asynchronous ``fs``'s sessions at exit on zarr's loop
        (:mod:`objstore.closing`), when its library does not do it; None: nothing to do."""
        return None

    def expiry_options(self, seconds: int) -> dict[str, Any]:
        """Storage options that make every object written expire after ``seconds`` (scratch
        space); ``{}`` where the store expires objects by its own lifecycle rules."""
        return {}

    def library_options(self, policy: RetryPolicy, options: dict[str, Any]) -> dict[str, Any]:
        """``options`` plus the retry policy in the library's words (what the user set wins)."""
        return options

    def io_options(self, options: dict[str, Any], n: int) -> dict[str, Any]:
        """``options`` with a connection pool of at least ``n`` connections."""
        return options

    def one_listing_options(self) -> dict[str, Any]:
        """``ls`` options that keep listing an empty or missing folder to one request."""
        return {}

    # ------------------------------------------------------------------ checksums
    def checksums_off(self, options: dict[str, Any]) -> dict[str, Any]:
        """``options`` turning off every integrity check objstore adds here, in the library's
        words (a profile's ``checksums = false``; what the user set wins)."""
        return options

    def md5(self, info: Mapping[str, Any]) -> str | None:
        """The content MD5 (hex) in a listing or ``info`` entry, if the store reports one."""
        return checksums.etag_md5(info)

    def checksum(self, item: Item) -> str | None:
        """The MD5 the store reports for a listed object, or None."""
        return item.md5

    # ------------------------------------------------------------------ public access
    def public_url(self, r: Resolved) -> str:
        """The plain https URL an anonymous reader uses."""
        raise InvalidURLError(f"{r.url.url}: a {self.name} URL cannot be made public")

    def anonymous_address(self, r: Resolved) -> tuple[str, dict[str, Any]]:
        """The URL and plain fsspec options an anonymous reader would use."""
        return self.public_url(r).split("?", 1)[0], {}

    def make_public(self, r: Resolved, *, objects: list[str] | None = None,
                    concurrency: int = DEFAULT_MAX_CONCURRENCY) -> PublicResult:
        """Make ``r`` world-readable. ``objects``: the paths that still need it (default: all)."""
        raise InvalidURLError(f"{r.url.url}: cannot make a {self.name} URL public")

    def make_private(self, r: Resolved) -> str:
        """Undo :meth:`make_public`; returns the URL readers can no longer use."""
        raise InvalidURLError(f"{r.url.url}: a {self.name} URL has no access policy to change")

    def upload_arguments(self, r: Resolved) -> dict[str, Any]:
        """Before uploading a public cube: the PUT arguments that make each object public."""
        return {}

    # ------------------------------------------------------------------ the obstore engine
    def obstore_problem(self, protocol: str, options: Mapping[str, Any], *,
                        explicit: bool = True) -> str | None:
        """Why the obstore engine cannot do exactly what ``options`` say here (None: it can)."""
        return (f"the obstore engine is offered for S3 and Azure, not {protocol}://; "
                'use engine = "fsspec" or "auto"')

    def obstore_store(self, path: str, options: Mapping[str, Any], n: int, *,
                      checked: bool = True) -> Any:
        """obstore's store for ``path`` from the fsspec ``options``, ``n`` idle connections;
        ``checked``: objstore compares every object's MD5 (``obstore_checksums``)."""
        raise NotImplementedError(f"the obstore engine is not offered for {self.name}")

    def obstore_etags(self, path: str, options: Mapping[str, Any]) -> Any:
        """What tells, from an obstore GET's ``meta``, the MD5 a whole object must have when it
        carries no MD5 of objstore's (:class:`objstore.backends._obstore.S3Etags`), or None."""
        return None

    # ------------------------------------------------------------------ what the server honours
    #: how to let a browser on another origin read (``objstore doctor``'s CORS check)
    cors_fix: str = "allow GET and HEAD from that origin in the bucket's CORS rules"

    async def put_with_wrong_md5(self, fs: Any, bucket: str, key: str, data: bytes,
                                 wrong: bytes) -> bool:
        """PUT ``data`` at ``bucket/key`` announcing the MD5 ``wrong`` (of other bytes), the way
        this backend's library sends a checksum; True if the server refused it."""
        raise NotImplementedError(f"no way to send a checksum to a {self.name} store")

    # ------------------------------------------------------------------ buckets
    def create_bucket_command(self, r: Resolved) -> str | None:
        """The store's own command that creates ``r``'s bucket, or None."""
        return None
