"""S3 and S3-compatible stores through s3fs.

A profile with an AWS profile name and no secret of its own hands s3fs that *name*
(``profile=``): botocore resolves and refreshes its credentials, in this process and in every
dask worker that unpickles the filesystem, and no secret travels with the storage options.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidURLError
from ..profiles import Profile, S3Profile
from ..urls import ObjectURL

REQUIRES = ("s3fs",)


def protocol(url: ObjectURL) -> str:
    return "s3"


def path(url: ObjectURL) -> str:
    return url.path


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
