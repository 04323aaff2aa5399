"""Local files and fsspec's in-memory filesystem."""

from __future__ import annotations

from typing import Any

from ..profiles import Profile
from ..urls import ObjectURL

REQUIRES = ()


def protocol(url: ObjectURL) -> str:
    return url.backend


def path(url: ObjectURL) -> str:
    return url.key


def storage_options(profile: Profile, url: ObjectURL) -> dict[str, Any]:
    return {"auto_mkdir": True} if url.backend == "file" else {}
