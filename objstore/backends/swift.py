"""OpenStack Swift through objstore's own :class:`objstore.swift.SwiftFileSystem` (aiohttp).

Keystone (auth_version 2/3) also needs ``keystoneauth1``, imported only when a token is fetched.
A profile from a config file hands the filesystem its key and token by reference
(:mod:`._swift_provider`): what is pickled for dask workers names the profile, never a secret.
"""

from __future__ import annotations

from typing import Any

from .. import scratch_prefix
from ..errors import InvalidURLError
from ..profiles import Profile, SwiftProfile
from ..urls import ObjectURL
from ._swift_provider import SwiftProfileSecrets, identity, secrets, travels_by_name

REQUIRES = ("aiohttp",)


def protocol(url: ObjectURL) -> str:
    return "swift"


def path(url: ObjectURL) -> str:
    return url.path


def storage_options(profile: Profile, url: ObjectURL) -> dict[str, Any]:
    """SwiftFileSystem keyword arguments; the only place the profile's secrets are unwrapped."""
    if not isinstance(profile, SwiftProfile):
        raise InvalidURLError(f"{url.url}: profile {profile.name!r} is a {profile.backend} profile")
    storage_url = profile.storage_url or (url.swift_storage_url if url.host else None)
    if profile.anonymous:
        return _options(profile, url, storage_url=storage_url, anonymous=True)
    if travels_by_name(profile):
        return _by_name(profile, url, storage_url)
    return _options(
        profile,
        url,
        auth_url=profile.auth_url,
        auth_version=profile.auth_version,
        user=profile.user,
        key=profile.key.get_secret_value() if profile.key else None,
        storage_url=storage_url,
        token=profile.token.get_secret_value() if profile.token else None,
        project_name=profile.project_name,
        project_id=profile.project_id,
        user_domain_name=profile.user_domain_name,
        project_domain_name=profile.project_domain_name,
        region_name=profile.region_name,
        token_lifetime=profile.token_lifetime,
    )


def _by_name(profile: SwiftProfile, url: ObjectURL, storage_url: str | None) -> dict[str, Any]:
    """Options whose secrets are a provider that pickles as the profile name (and identity)."""
    fields = identity(profile)
    fields["storage_url"] = storage_url  # type: ignore[assignment]
    provider = SwiftProfileSecrets(profile.name, identity(profile), secrets(profile))
    return _options(profile, url, credentials=provider, token_lifetime=profile.token_lifetime,
                    **fields)


def _options(profile: SwiftProfile, url: ObjectURL, **opts: Any) -> dict[str, Any]:
    if profile.segment_size:
        opts["segment_size"] = profile.segment_size
    if profile.max_concurrency:
        opts["max_concurrency"] = profile.max_concurrency
    out = {k: v for k, v in opts.items() if v is not None}
    if expiry := scratch_prefix.object_expiry_headers(url):
        out["object_headers"] = expiry
    if out.get("auth_version") == "1" and "auth_url" not in out:
        out.pop("auth_version")
    return out
