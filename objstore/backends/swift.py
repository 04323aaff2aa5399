"""OpenStack Swift through objstore's own :class:`objstore.swift.SwiftFileSystem` (aiohttp).

Keystone (auth_version 2/3) also needs ``keystoneauth1``, imported only when a token is fetched.
A profile from a config file hands the filesystem its key and token by reference
(:mod:`._swift_provider`): what is pickled for dask workers names the profile, never a secret.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from ..errors import CredentialsError, InvalidURLError
from ..profiles import Profile, Source, SwiftProfile
from ..retry import DEFAULT_MAX_CONCURRENCY
from ..urls import ObjectURL
from . import checksums
from .base import Backend, PublicResult
from .env import SWIFT, TABLES, hint

if TYPE_CHECKING:
    from ..api import Resolved
    from ..registry import ProfileRegistry
    from ..retry import RetryPolicy
from ._swift_provider import SwiftProfileSecrets, identity, secrets, travels_by_name

REQUIRES = ("aiohttp",)


def storage_options(profile: Profile, url: ObjectURL) -> dict[str, Any]:
    """SwiftFileSystem keyword arguments; the only place the profile's secrets are unwrapped."""
    if not isinstance(profile, SwiftProfile):
        raise InvalidURLError(f"{url.url}: profile {profile.name!r} is a {profile.backend} profile")
    storage_url = profile.storage_url or (url.swift_storage_url if url.host else None)
    if profile.anonymous:
        return _options(profile, url, storage_url=storage_url, anonymous=True)
    if travels_by_name(profile):
        return _by_name(profile, url, storage_url)
    fields = {**identity(profile), **secrets(profile), "storage_url": storage_url}
    return _options(profile, url, token_lifetime=profile.token_lifetime, **fields)


def _by_name(profile: SwiftProfile, url: ObjectURL, storage_url: str | None) -> dict[str, Any]:
    """Options whose secrets are a provider that pickles as the profile name (and identity)."""
    fields = identity(profile)
    fields["storage_url"] = storage_url  # type: ignore[assignment]
    provider = SwiftProfileSecrets(profile.name, identity(profile), secrets(profile),
                                  source=profile.source.kind)
    return _options(profile, url, credentials=provider, token_lifetime=profile.token_lifetime,
                    **fields)


def _options(profile: SwiftProfile, url: ObjectURL, **opts: Any) -> dict[str, Any]:
    if profile.segment_size:
        opts["segment_size"] = profile.segment_size
    if profile.max_concurrency:
        opts["max_concurrency"] = profile.max_concurrency
    out = {k: v for k, v in opts.items() if v is not None}
    if out.get("auth_version") == "1" and "auth_url" not in out:
        out.pop("auth_version")
    return out


class SwiftBackend(Backend):
    """OpenStack Swift (objstore's own filesystem, :mod:`objstore.swift`)."""

    name = "swift"
    library = "objstore's Swift filesystem"
    protocols = ("swift",)
    extra = "swift"
    cors_fix = ("set the container's X-Container-Meta-Access-Control-Allow-Origin to that origin "
                "(swift post CONTAINER -m Access-Control-Allow-Origin:ORIGIN)")

    async def put_with_wrong_md5(self, fs: Any, bucket: str, key: str, data: bytes,
                                 wrong: bytes) -> bool:
        reply = await fs._request("PUT", bucket, key, headers={
            "ETag": wrong.hex(), "Content-Length": str(len(data))}, data=data, allow=(422,))
        return bool(reply.status == 422)


    def expiry_options(self, seconds: int) -> dict[str, Any]:
        return {"object_headers": {"X-Delete-After": str(seconds)}}  # the store deletes them
    requires = REQUIRES
    profile_class = SwiftProfile
    can_be_public = True
    env = SWIFT
    bucket_word = "container"
    creates_bucket_on_write = True  # as `swift upload` does
    find_lists_single_object = True  # objstore's Swift find() does, with one HEAD

    def storage_options(self, profile: Profile, url: ObjectURL) -> dict[str, Any]:
        return storage_options(profile, url)

    def md5(self, info: Mapping[str, Any]) -> str | None:
        return checksums.swift_md5(info)

    def one_listing_options(self) -> dict[str, Any]:
        """Without ``return_glob`` an empty listing is followed by a HEAD and another listing."""
        return {"return_glob": True}

    def default_profile(self, registry: ProfileRegistry, parsed: ObjectURL) -> Profile:
        """https://HOST/v1/AUTH_x/...: a profile for that host, else anonymous; swift://: the
        ``swift-env`` profile, then ``default``."""
        if parsed.host:
            for p in registry.profiles.values():
                if isinstance(p, SwiftProfile) and _host_matches(p, parsed):
                    return p
            return SwiftProfile(
                name="(anonymous)", anonymous=True, storage_url=parsed.swift_storage_url,
                source=Source(kind="default", location="public container read"),
            )
        found = registry.named(TABLES["swift"][0], "swift") or registry.named("default", "swift")
        if found:
            return found
        raise CredentialsError(f"no Swift credentials for {parsed.url}: set {hint(SWIFT)}, "
                               "or pass profile= a swift profile")

    def library_options(self, policy: RetryPolicy, options: dict[str, Any]) -> dict[str, Any]:
        """objstore's Swift filesystem takes the policy itself."""
        return {"retries": policy.retries, "timeout": policy.timeout, **options}

    def checksums_off(self, options: dict[str, Any]) -> dict[str, Any]:
        """objstore's Swift filesystem sends no ETag and compares no read against one."""
        return {"checksums": False, **options}

    def io_options(self, options: dict[str, Any], n: int) -> dict[str, Any]:
        """``max_concurrency`` is the filesystem's pool size."""
        return {"max_concurrency": n, **options}

    def public_url(self, r: Resolved) -> str:
        fs: Any = r.fs
        key = quote(r.url.key, safe="/~")
        return (fs.storage_url().rstrip("/") + "/" + quote(r.url.bucket, safe="")
                + (f"/{key}" if key else ""))

    def make_public(self, r: Resolved, *, objects: list[str] | None = None,
                    concurrency: int = DEFAULT_MAX_CONCURRENCY) -> PublicResult:
        from ..swift import make_public

        url = make_public(r.fs, r.path)
        return PublicResult(url, "Swift container read ACL .r:*,.rlistings")

    def make_private(self, r: Resolved) -> str:
        from ..swift import make_private

        return make_private(r.fs, r.path)

    def create_bucket_command(self, r: Resolved) -> str | None:
        return f"swift post {shlex.quote(r.url.bucket)}"


def _host_matches(p: SwiftProfile, parsed: ObjectURL) -> bool:
    if p.storage_url:
        return p.storage_url.rstrip("/") == parsed.swift_storage_url
    return bool(p.auth_url) and urlsplit(p.auth_url).netloc == parsed.host


BACKEND = SwiftBackend()
