"""The standard OpenStack Swift environment variables, as data: read by the Swift filesystem when
it is given no credentials, by objstore's ``swift-env`` profile (:mod:`objstore.sources.openstack`),
the "no credentials" hint and the docs (:mod:`objstore.backends.env` holds every other backend's
table). This module imports nothing of objstore.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["EnvVar", "SWIFT", "fields_from_env"]


@dataclass(frozen=True)
class EnvVar:
    name: str
    field: str  # the profile field it fills ("" when it only steers the loader)
    help: str
    way: str = ""  # the way of signing in it belongs to ("" : any way)
    required: bool = False  # named in the hint for its way
    secret: bool = False
    either: bool = False  # required as an alternative to the required variable before it


SWIFT = (
    EnvVar("ST_AUTH", "auth_url", "v1 auth URL (tempauth, swauth)", "v1", True),
    EnvVar("ST_USER", "user", "v1 user, e.g. account:user", "v1", True),
    EnvVar("ST_KEY", "key", "v1 key", "v1", True, True),
    EnvVar("OS_STORAGE_URL", "storage_url", "storage URL of a ready token", "a ready token", True),
    EnvVar("OS_AUTH_TOKEN", "token", "a ready token", "a ready token", True, True),
    EnvVar("OS_AUTH_URL", "auth_url", "Keystone URL", "Keystone v3", True),
    EnvVar("OS_USERNAME", "user", "Keystone user", "Keystone v3", True),
    EnvVar("OS_PASSWORD", "key", "Keystone password", "Keystone v3", True, True),
    EnvVar("OS_PROJECT_NAME", "project_name", "project (or OS_PROJECT_ID)", "Keystone v3", True),
    EnvVar("OS_PROJECT_ID", "project_id", "project id", "Keystone v3"),
    EnvVar("OS_USER_DOMAIN_NAME", "user_domain_name", "user domain", "Keystone v3"),
    EnvVar("OS_PROJECT_DOMAIN_NAME", "project_domain_name", "project domain", "Keystone v3"),
    EnvVar("OS_REGION_NAME", "region_name", "region", "Keystone v3"),
    EnvVar("OS_IDENTITY_API_VERSION", "auth_version", "2 or 3 (default: from OS_AUTH_URL)",
           "Keystone v3"),
    EnvVar("OS_CLOUD", "", "a cloud of clouds.yaml, used when no OS_AUTH_URL is set",
           "clouds.yaml"),
    EnvVar("OS_CLIENT_CONFIG_FILE", "", "the clouds.yaml to read", "clouds.yaml"),
)


_VERSION = "OS_IDENTITY_API_VERSION"  # read below, with a default from the auth URL


def fields_from_env(env: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Swift profile fields from ``env`` and the names of the variables used."""
    f: dict[str, Any] = {"backend": "swift"}
    used: list[str] = []

    def take(way: str) -> None:
        for v in SWIFT:
            if v.way == way and v.field and v.name != _VERSION and env.get(v.name):
                f[v.field] = env[v.name]
                used.append(v.name)

    if env.get("ST_AUTH"):
        take("v1")
        f["auth_version"] = "1"
    elif env.get("OS_AUTH_URL"):
        take("Keystone v3")
        version = env.get(_VERSION) or ("3" if "/v2" not in env["OS_AUTH_URL"] else "2")
        f["auth_version"] = version.split(".")[0]
    take("a ready token")
    return f, used
