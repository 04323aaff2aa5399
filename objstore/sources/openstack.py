"""OpenStack Swift from the standard environment variables, as the profile ``swift-env``.

The variables and the profile fields they fill are the Swift backend's table
(:data:`objstore.swift.env.SWIFT`): v1 (``ST_*``) when ``ST_AUTH`` is set, else Keystone
(``OS_AUTH_URL`` and the other ``OS_*``); a ready token (``OS_STORAGE_URL``, ``OS_AUTH_TOKEN``)
may sit beside credentials: the token is used first, the credentials renew it.

``clouds.yaml`` (``$OS_CLIENT_CONFIG_FILE``, ``./clouds.yaml``, ``~/.config/openstack/clouds.yaml``,
``/etc/openstack/clouds.yaml``, the first found): every cloud becomes a Swift profile of the same name,
and ``OS_CLOUD`` names the one ``swift-env`` uses when no ``OS_AUTH_URL`` is set.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..backends.env import TABLES
from ..errors import ConfigError
from ..profiles import Profile, Source
from ..swift.env import fields_from_env
from ._validate import make_profile

__all__ = ["load", "load_clouds", "clouds_file", "ENV_PROFILE", "fields_from_env"]

ENV_PROFILE = TABLES["swift"][0]


def load(env: Mapping[str, str]) -> list[Profile]:
    f, used = fields_from_env(env)
    if not used and env.get("OS_CLOUD"):
        cloud = env["OS_CLOUD"]
        path = clouds_file(env)
        clouds = _read_clouds(path) if path else {}
        if cloud not in clouds:
            where = path or "clouds.yaml (none found)"
            raise ConfigError(f"OS_CLOUD={cloud!r} is not a cloud in {where}; clouds there: "
                              f"{', '.join(sorted(clouds)) or 'none'}")
        f, used = _cloud_fields(clouds[cloud]), [f"OS_CLOUD={cloud} ({path})"]
    if not used:
        return []
    return [make_profile(ENV_PROFILE, f, Source(kind="env", location=", ".join(used)))]


def clouds_file(env: Mapping[str, str]) -> Path | None:
    """The clouds.yaml that openstacksdk would read, or None."""
    candidates = [env.get("OS_CLIENT_CONFIG_FILE"), "clouds.yaml",
                  Path.home() / ".config" / "openstack" / "clouds.yaml",
                  "/etc/openstack/clouds.yaml"]
    for c in candidates:
        if c and Path(c).expanduser().is_file():
            return Path(c).expanduser()
    return None


def _read_clouds(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{line}: not valid YAML") from None
    clouds = data.get("clouds", {}) if isinstance(data, dict) else {}
    if not isinstance(clouds, dict):
        raise ConfigError(f"{path}: 'clouds' must be a mapping of cloud names")
    return clouds


def _cloud_fields(cloud: Mapping[str, Any]) -> dict[str, Any]:
    auth = cloud.get("auth") or {}
    f: dict[str, Any] = {"backend": "swift"}
    for src, dest in (("auth_url", "auth_url"), ("username", "user"), ("password", "key"),
                      ("project_name", "project_name"), ("project_id", "project_id"),
                      ("user_domain_name", "user_domain_name"),
                      ("project_domain_name", "project_domain_name")):
        if auth.get(src):
            f[dest] = str(auth[src])
    if cloud.get("region_name"):
        f["region_name"] = str(cloud["region_name"])
    f["auth_version"] = str(cloud.get("identity_api_version", "3")).split(".")[0]
    return f


def load_clouds(env: Mapping[str, str]) -> list[Profile]:
    """Every cloud of clouds.yaml as a Swift profile of the same name."""
    path = clouds_file(env)
    if path is None:
        return []
    return [make_profile(name, _cloud_fields(cloud or {}), Source(kind="clouds.yaml",
                                                                  location=f"{path} [{name}]"))
            for name, cloud in _read_clouds(path).items()]
