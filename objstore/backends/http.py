"""Plain http(s) reads through fsspec's HTTPFileSystem."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..profiles import HTTPProfile, Profile, Source
from ..urls import ObjectURL
from .base import Backend

if TYPE_CHECKING:
    from ..api import Resolved
    from ..registry import ProfileRegistry

REQUIRES = ("aiohttp",)


def protocol(url: ObjectURL) -> str:
    return url.scheme


def path(url: ObjectURL) -> str:
    return url.url


def storage_options(profile: Profile, url: ObjectURL) -> dict[str, Any]:
    if isinstance(profile, HTTPProfile) and profile.headers:
        headers = {k: v.get_secret_value() for k, v in profile.headers.items()}
        return {"client_kwargs": {"headers": headers}}
    return {}


class HTTPBackend(Backend):
    """Plain http(s): read-only, no buckets; the URL is already public."""

    name = "http"
    protocols = ("https", "http")
    requires = REQUIRES
    profile_class = HTTPProfile
    has_buckets = False
    allows_writes = False

    def protocol(self, url: ObjectURL) -> str:
        return protocol(url)

    def path(self, url: ObjectURL) -> str:
        return path(url)

    def storage_options(self, profile: Profile, url: ObjectURL) -> dict[str, Any]:
        return storage_options(profile, url)

    def default_profile(self, registry: ProfileRegistry, parsed: ObjectURL) -> Profile:
        return HTTPProfile(name="(anonymous)", source=Source(kind="default"))

    def public_url(self, r: Resolved) -> str:
        return r.url.url


BACKEND = HTTPBackend()
