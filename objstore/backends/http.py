"""Plain http(s) reads through fsspec's HTTPFileSystem."""

from __future__ import annotations

from typing import Any

from ..profiles import HTTPProfile, Profile
from ..urls import ObjectURL

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
