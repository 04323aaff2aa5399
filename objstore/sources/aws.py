"""AWS sources: the shared config and credentials files, and the environment credentials.

Files: ``$AWS_CONFIG_FILE`` (default ``~/.aws/config``, sections ``[default]`` and ``[profile x]``)
and ``$AWS_SHARED_CREDENTIALS_FILE`` (default ``~/.aws/credentials``, sections ``[x]``). Every AWS
profile becomes an objstore S3 profile of the same name. Environment: ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``,
``AWS_DEFAULT_REGION`` / ``AWS_REGION`` give the profile ``aws-env``.
"""

from __future__ import annotations

import configparser
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..profiles import Profile, Source
from ._validate import make_profile

__all__ = ["config_file", "credentials_file", "load_files", "load_env", "ENV_PROFILE"]

ENV_PROFILE = "aws-env"


def config_file(env: Mapping[str, str]) -> Path:
    return Path(env.get("AWS_CONFIG_FILE") or Path.home() / ".aws" / "config").expanduser()


def credentials_file(env: Mapping[str, str]) -> Path:
    default = Path.home() / ".aws" / "credentials"
    return Path(env.get("AWS_SHARED_CREDENTIALS_FILE") or default).expanduser()


def _parse(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as exc:
        line = getattr(exc, "lineno", None)
        where = f"{path}, line {line}" if line else str(path)
        raise ConfigError(f"{where}: not a valid AWS INI file ({type(exc).__name__})") from None
    return parser


def _nested(value: str) -> dict[str, str]:
    """botocore's nested sections: ``s3 =\\n  endpoint_url = ...``."""
    out = {}
    for line in value.splitlines():
        k, sep, v = line.partition("=")
        if sep:
            out[k.strip()] = v.strip()
    return out


def _endpoint_from_env(env: Mapping[str, str]) -> str | None:
    return env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None


def load_files(env: Mapping[str, str]) -> list[Profile]:
    cfg_path, cred_path = config_file(env), credentials_file(env)
    config, creds = _parse(cfg_path), _parse(cred_path)
    fields: dict[str, dict[str, Any]] = {}
    where: dict[str, list[str]] = {}
    for section in config.sections():
        name = section[len("profile ") :].strip() if section.startswith("profile ") else section
        if section != "default" and not section.startswith("profile "):
            continue  # [sso-session x], [services x]
        sec = config[section]
        f = fields.setdefault(name, {})
        if "region" in sec:
            f["region"] = sec["region"]
        endpoint = _nested(sec.get("s3", "")).get("endpoint_url") or sec.get("endpoint_url")
        if endpoint:
            f["endpoint_url"] = endpoint
        for k, dest in (("aws_access_key_id", "key"), ("aws_secret_access_key", "secret")):
            if k in sec:
                f[dest] = sec[k]
        where.setdefault(name, []).append(f"{cfg_path} [{section}]")
    for name in creds.sections():
        sec = creds[name]
        f = fields.setdefault(name, {})
        for k, dest in (
            ("aws_access_key_id", "key"),
            ("aws_secret_access_key", "secret"),
            ("aws_session_token", "token"),
        ):
            if k in sec:
                f[dest] = sec[k]
        where.setdefault(name, []).append(f"{cred_path} [{name}]")
    out = []
    for name, f in fields.items():
        f = {"backend": "s3", "aws_profile": name, **f}
        if env_endpoint := _endpoint_from_env(env):  # botocore: the variable beats the file
            f["endpoint_url"] = env_endpoint
        location = " + ".join(where[name])
        out.append(make_profile(name, f, Source(kind="aws", location=location), location))
    return out


def load_env(env: Mapping[str, str]) -> list[Profile]:
    names = [
        k
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                  "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_REGION")
        if env.get(k)
    ]
    if not (env.get("AWS_ACCESS_KEY_ID") or _endpoint_from_env(env)):
        return []
    f: dict[str, Any] = {"backend": "s3"}
    if env.get("AWS_ACCESS_KEY_ID"):
        f["key"] = env["AWS_ACCESS_KEY_ID"]
        f["secret"] = env.get("AWS_SECRET_ACCESS_KEY")
        f["token"] = env.get("AWS_SESSION_TOKEN")
    f["endpoint_url"] = _endpoint_from_env(env)
    f["region"] = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    source = Source(kind="env", location=", ".join(names))
    return [make_profile(ENV_PROFILE, f, source)]
