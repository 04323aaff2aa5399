"""The standard OpenStack Swift environment variables, read by the Swift filesystem when it is
given no credentials, and by objstore's ``swift-env`` profile (:mod:`objstore.sources.openstack`).

v1: ``ST_AUTH``, ``ST_USER``, ``ST_KEY``. Pre-authenticated: ``OS_STORAGE_URL``, ``OS_AUTH_TOKEN``.
Keystone: ``OS_AUTH_URL``, ``OS_USERNAME``, ``OS_PASSWORD``, ``OS_PROJECT_NAME`` or
``OS_PROJECT_ID``, ``OS_USER_DOMAIN_NAME``, ``OS_PROJECT_DOMAIN_NAME``, ``OS_REGION_NAME``,
``OS_IDENTITY_API_VERSION``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["fields_from_env"]

_V3 = {
    "OS_PROJECT_NAME": "project_name",
    "OS_PROJECT_ID": "project_id",
    "OS_USER_DOMAIN_NAME": "user_domain_name",
    "OS_PROJECT_DOMAIN_NAME": "project_domain_name",
    "OS_REGION_NAME": "region_name",
}


def fields_from_env(env: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Swift profile fields from ``env`` and the names of the variables used."""
    f: dict[str, Any] = {"backend": "swift"}
    used: list[str] = []

    def take(var: str, field: str) -> None:
        if env.get(var):
            f[field] = env[var]
            used.append(var)

    if env.get("ST_AUTH"):
        take("ST_AUTH", "auth_url")
        take("ST_USER", "user")
        take("ST_KEY", "key")
        f["auth_version"] = "1"
    elif env.get("OS_AUTH_URL"):
        take("OS_AUTH_URL", "auth_url")
        take("OS_USERNAME", "user")
        take("OS_PASSWORD", "key")
        for var, field in _V3.items():
            take(var, field)
        version = env.get("OS_IDENTITY_API_VERSION") or ("3" if "/v2" not in env["OS_AUTH_URL"] else "2")
        f["auth_version"] = version.split(".")[0]
    take("OS_STORAGE_URL", "storage_url")
    take("OS_AUTH_TOKEN", "token")
    return f, used
