"""S3 and S3-compatible stores through s3fs.

A profile with an AWS profile name and no secret of its own hands s3fs that *name*
(``profile=``): botocore resolves and refreshes its credentials, in this process and in every
dask worker that unpickles the filesystem, and no secret travels with the storage options.
"""

from __future__ import annotations

import base64
import shlex
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..errors import InvalidURLError
from ..profiles import Profile, S3Profile, Source
from ..retry import DEFAULT_MAX_CONCURRENCY
from ..urls import ObjectURL
from . import _obstore, s3_public
from .base import Backend, PublicResult
from .env import AWS, TABLES

if TYPE_CHECKING:
    from ..api import Resolved
    from ..registry import ProfileRegistry
    from ..retry import RetryPolicy

REQUIRES = ("s3fs",)


def storage_options(profile: Profile, url: ObjectURL) -> dict[str, Any]:
    if not isinstance(profile, S3Profile):
        raise InvalidURLError(f"{url.url}: profile {profile.name!r} is a {profile.backend} profile")
    opts: dict[str, Any] = {}
    if profile.anonymous:
        opts["anon"] = True
    elif profile.aws_profile and profile.secret is None:  # its `key` is only shown, not sent
        opts["profile"] = profile.aws_profile
    elif profile.key is not None:
        opts["key"] = profile.key.get_secret_value()
        opts["secret"] = profile.secret.get_secret_value() if profile.secret else None
        if profile.token is not None:
            opts["token"] = profile.token.get_secret_value()
    if profile.endpoint_url:
        opts["endpoint_url"] = profile.endpoint_url
    if profile.region:
        opts["client_kwargs"] = {"region_name": profile.region}
    if profile.requester_pays:
        opts["requester_pays"] = True
    return opts


class S3Backend(Backend):
    """S3 and S3-compatible stores (s3fs; obstore as an engine)."""

    name = "s3"
    library = "s3fs"
    protocols = ("s3", "s3a")
    extra = "s3"
    requires = REQUIRES
    profile_class = S3Profile
    can_be_public = True
    env = AWS
    obstore_offered = True
    #: obstore where the profile's options translate exactly: no botocore to import or build,
    #: a fraction of s3fs's CPU per request, every object checked against its ETag both ways
    #: (docs/performance.md)
    default_engine = "auto"
    cors_fix = ("add a CORS rule allowing GET and HEAD from that origin to the bucket "
                "(aws s3api put-bucket-cors --bucket BUCKET --cors-configuration file://cors.json)")
    def obstore_problem(self, protocol: str, options: Mapping[str, Any], *,
                        explicit: bool = True) -> str | None:
        return _obstore.s3_problem(options, explicit=explicit)

    def obstore_store(self, path: str, options: Mapping[str, Any], n: int, *,
                      checked: bool = True) -> Any:
        return _obstore.s3_store(path, options, n, checked=checked)

    def obstore_etags(self, path: str, options: Mapping[str, Any]) -> Any:
        return _obstore.S3Etags(path, options)


    async def put_with_wrong_md5(self, fs: Any, bucket: str, key: str, data: bytes,
                                 wrong: bytes) -> bool:
        try:
            await fs._call_s3("put_object", Bucket=bucket, Key=key, Body=data,
                              ContentMD5=base64.b64encode(wrong).decode())
        except OSError as exc:  # s3fs raises BadDigest as an OSError
            if any(w in str(exc).lower() for w in ("digest", "md5", "checksum")):
                return True
            raise
        return False


    @property
    def credentials_hint(self) -> str:
        return super().credentials_hint + ", or ~/.aws/credentials"

    def storage_options(self, profile: Profile, url: ObjectURL) -> dict[str, Any]:
        return storage_options(profile, url)

    def filesystem_class(self, protocol: str) -> Any:
        from ._s3fs import S3FileSystem

        return S3FileSystem

    def closer(self, fs: Any) -> Callable[[], Coroutine[Any, Any, None]] | None:
        """s3fs closes only its synchronous instances' sessions."""

        async def close_s3() -> None:
            if fs._s3 is not None:
                await fs._s3creator.__aexit__(None, None, None)

        return close_s3 if hasattr(fs, "_s3") else None

    def default_profile(self, registry: ProfileRegistry, parsed: ObjectURL) -> Profile:
        """``AWS_PROFILE``, then ``aws-env``, then ``default``, then botocore's own chain."""
        if name := registry.env.get("AWS_PROFILE"):
            if name not in registry.profiles:
                raise registry.unknown(name, " (from AWS_PROFILE)")
            return registry.profiles[name]
        return (
            registry.named(TABLES["s3"][0], "s3")
            or registry.named("default", "s3")
            or S3Profile(name="(ambient)", source=Source(kind="default", location="botocore"))
        )

    def library_options(self, policy: RetryPolicy, options: dict[str, Any]) -> dict[str, Any]:
        """botocore's standard retry mode and timeouts."""
        config = dict(options.get("config_kwargs") or {})
        # botocore's "max_attempts" counts retries (it adds the first attempt); this counts all
        config.setdefault("retries", {"total_max_attempts": policy.retries + 1,
                                      "mode": "standard"})
        config.setdefault("connect_timeout", policy.timeout)
        config.setdefault("read_timeout", policy.timeout)
        return {**options, "config_kwargs": config}

    def checksums_off(self, options: dict[str, Any]) -> dict[str, Any]:
        """botocore sends and checks CRC32s only where an operation requires one."""
        config = dict(options.get("config_kwargs") or {})
        config.setdefault("request_checksum_calculation", "when_required")
        config.setdefault("response_checksum_validation", "when_required")
        return {**options, "config_kwargs": config}

    def io_options(self, options: dict[str, Any], n: int) -> dict[str, Any]:
        """botocore's pool (``max_pool_connections``, default 10) sized to ``n``."""
        config = dict(options.get("config_kwargs") or {})
        config.setdefault("max_pool_connections", n)
        return {**options, "config_kwargs": config}

    def public_url(self, r: Resolved) -> str:
        bucket, qkey = r.url.bucket, quote(r.url.key, safe="/~")
        tail = f"/{qkey}" if qkey else ""
        endpoint = getattr(r.profile, "endpoint_url", None) or r.storage_options.get("endpoint_url")
        if endpoint:
            return f"{endpoint.rstrip('/')}/{bucket}{tail}"
        region = getattr(r.profile, "region", None)
        host = f"s3.{region}.amazonaws.com" if region else "s3.amazonaws.com"
        if "." in bucket:  # virtual-host https would not match the certificate
            return f"https://{host}/{bucket}{tail}"
        return f"https://{bucket}.{host}{tail}"

    def anonymous_address(self, r: Resolved) -> tuple[str, dict[str, Any]]:
        """``s3://`` with ``anon=True`` and the endpoint or region."""
        options: dict[str, Any] = {"anon": True}
        endpoint = getattr(r.profile, "endpoint_url", None) or r.storage_options.get(
            "endpoint_url")
        if endpoint:
            options["client_kwargs"] = {"endpoint_url": str(endpoint)}
        elif region := getattr(r.profile, "region", None):
            options["client_kwargs"] = {"region_name": region}
        return f"s3://{r.url.bucket}/{r.url.key}".rstrip("/"), options

    def make_public(self, r: Resolved, *, objects: list[str] | None = None,
                    concurrency: int = DEFAULT_MAX_CONCURRENCY) -> PublicResult:
        return s3_public.make_public(r, objects, concurrency)

    def make_private(self, r: Resolved) -> str:
        s3_public.make_private(r)
        return self.public_url(r)

    def upload_arguments(self, r: Resolved) -> dict[str, Any]:
        return s3_public.upload_acl(r)

    def create_bucket_command(self, r: Resolved) -> str | None:
        endpoint = getattr(r.profile, "endpoint_url", None)
        return f"aws s3 mb s3://{shlex.quote(r.url.bucket)}" + (
            f" --endpoint-url {shlex.quote(str(endpoint))}" if endpoint else "")


BACKEND = S3Backend()
