"""How a catalog's reader reaches a cube: anonymously with plain fsspec (checked, not guessed),
or through ``engine="objstore"`` with the name of a profile (never a secret).

Public S3 cubes get ``s3://`` with ``anon`` and the endpoint (the form the Pangeo/2i2c guides
write by hand); the other backends' public cubes get their plain https URL, which fsspec's http
filesystem reads with no options at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..api import resolve
from ..zarr_keys import COMMIT_NAMES

if TYPE_CHECKING:
    from ..api import Resolved
    from ..profiles import Profile

__all__ = ["Access", "reader_access", "without_query", "anonymous_address", "can_read_anonymously",
           "profile_name"]

ENGINE = "objstore"
_METADATA = COMMIT_NAMES


@dataclass
class Access:
    """What a catalog entry tells a reader: where to open and with which options."""

    url: str  # the objstore URL the cube was catalogued from
    public: bool
    urlpath: str  # what the reader opens
    storage_options: dict[str, Any] = field(default_factory=dict)  # plain fsspec, no secrets
    engine: str | None = None  # "objstore" for private cubes
    profile: str | None = None  # a profile name, for private cubes

    @property
    def open_kwargs(self) -> dict[str, Any]:
        """``xr.open_dataset`` keyword arguments besides the URL and storage_options."""
        if self.public:
            return {"engine": "zarr", "consolidated": True, "chunks": {}}
        kw: dict[str, Any] = {"engine": ENGINE, "chunks": {}}
        if self.profile:
            kw["profile"] = self.profile
        return kw


def without_query(url: str) -> str:
    """``url`` without its query string: signed URLs (SAS, TempURL, presigned) carry secrets
    there, and no catalog entry may hold one."""
    return url.split("?", 1)[0]


def anonymous_address(r: Resolved) -> tuple[str, dict[str, Any]]:
    """The URL and plain fsspec options an anonymous reader would use for ``r``."""
    return r.backend.anonymous_address(r)


def can_read_anonymously(urlpath: str, storage_options: dict[str, Any]) -> bool:
    """Whether an anonymous reader gets the cube's metadata (one or two GETs, no credentials)."""
    import fsspec

    protocol = urlpath.split("://", 1)[0] if "://" in urlpath else "file"
    try:
        fs = fsspec.filesystem(protocol, skip_instance_cache=True, **storage_options)
    except Exception:
        return False
    base = urlpath if urlpath.startswith(("http://", "https://")) else fs._strip_protocol(urlpath)
    for name in _METADATA:
        try:
            fs.cat_file(f"{base.rstrip('/')}/{name}")
            return True
        except Exception:
            continue
    return False


def profile_name(profile: str | Profile | None, r: Resolved) -> str | None:
    """The profile name a private entry carries: the one given, else the one the URL resolved
    to, unless that is a built-in default (``(ambient)``) or an environment profile
    (``aws-env``): then none, and the reader's own default applies."""
    if isinstance(profile, str):
        return profile
    name = getattr(profile, "name", None) or r.profile.name
    if not name or name.startswith("(") or name.endswith("-env"):
        return None
    return str(name)


def reader_access(url: str, profile: str | Profile | None = None, *,
                  private: bool = False) -> Access:
    """How a reader opens the cube at ``url``: anonymously when that works (unless ``private``),
    else through objstore with a profile name."""
    r = resolve(url, profile)
    plain = without_query(r.url.url)
    if r.backend.is_local:  # on this machine: a path, no credentials
        return Access(plain, True, r.path if r.backend.on_disk else r.fsspec_url, {})
    if not private:
        urlpath, options = anonymous_address(r)
        if can_read_anonymously(urlpath, options):
            return Access(plain, True, urlpath, options)
    return Access(plain, False, plain, {}, ENGINE, profile_name(profile, r))
