"""AWS sources: the shared config and credentials files (read by botocore), and the environment.

Files: ``$AWS_CONFIG_FILE`` (default ``~/.aws/config``, sections ``[default]`` and ``[profile x]``)
and ``$AWS_SHARED_CREDENTIALS_FILE`` (default ``~/.aws/credentials``, sections ``[x]``), parsed and
merged by botocore's own loader, as the AWS CLI sees them. Every AWS profile becomes an objstore S3
profile of the same name that carries the profile *name* (``aws_profile``), never its secrets:
botocore resolves the credentials when a client is made (static keys, session tokens, ``role_arn``
with ``source_profile``, ``credential_process``, SSO, web identity) and refreshes the temporary ones.
The profile's endpoint and region are the ones botocore would use, shown in ``objstore profiles``.

Environment: ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``,
``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``, ``AWS_DEFAULT_REGION`` / ``AWS_REGION`` give the
profile ``aws-env`` (static keys: there is nothing to refresh).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..backends.env import AWS, TABLES
from ..errors import ConfigError
from ..profiles import Profile, Source
from ._validate import make_profile

__all__ = ["config_file", "credentials_file", "load_files", "load_env", "ENV_PROFILE"]

ENV_PROFILE = TABLES["s3"][0]

#: Keys that make botocore use something other than the profile's static keys
#: (botocore's provider chain tries these first: assume role, web identity, SSO).
_NOT_STATIC = ("role_arn", "web_identity_token_file", "sso_session", "sso_start_url")


def config_file(env: Mapping[str, str]) -> Path:
    return Path(env.get("AWS_CONFIG_FILE") or Path.home() / ".aws" / "config").expanduser()


def credentials_file(env: Mapping[str, str]) -> Path:
    default = Path.home() / ".aws" / "credentials"
    return Path(env.get("AWS_SHARED_CREDENTIALS_FILE") or default).expanduser()


def _sections(path: Path) -> dict[str, dict[str, Any]]:
    """botocore's parse of one INI file (nested ``s3 =`` blocks become dicts); {} when absent."""
    from botocore import configloader
    from botocore.exceptions import ConfigNotFound, ConfigParseError

    try:
        return configloader.raw_config_parse(str(path))
    except ConfigNotFound:
        return {}
    except ConfigParseError as exc:
        error = exc.kwargs.get("error")
        line = getattr(error, "lineno", None) or next(iter(getattr(error, "errors", [])), [None])[0]
        where = f"{path}, line {line}" if line else str(path)
        raise ConfigError(f"{where}: not a valid AWS INI file; fix or move it") from None


def _endpoint(full: dict[str, Any], scoped: dict[str, Any], env: Mapping[str, str]) -> str | None:
    """The S3 endpoint botocore would use for this profile: ``AWS_ENDPOINT_URL_S3``,
    ``AWS_ENDPOINT_URL``, the ``s3`` entry of its ``services`` section, its ``endpoint_url``.
    A nested ``s3 = endpoint_url = ...`` in the profile (an objstore and plugin form botocore
    ignores) ranks with the profile's own ``endpoint_url``, above it."""
    from botocore.configprovider import ConfiguredEndpointProvider
    from botocore.exceptions import BotoCoreError

    ignore = scoped.get("ignore_configured_endpoint_urls") or env.get(
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
    if str(ignore).lower() == "true":
        return None
    nested = scoped.get("s3") if isinstance(scoped.get("s3"), dict) else {}
    if nested.get("endpoint_url"):
        scoped = {**scoped, "endpoint_url": nested["endpoint_url"]}
    try:
        return ConfiguredEndpointProvider(full, scoped, "s3", environ=dict(env)).provide()
    except BotoCoreError:  # a `services` name with no [services x]: botocore says so when used
        return None


def _static_key(merged: dict[str, Any], creds: dict[str, Any]) -> str | None:
    """The access key id botocore will sign with, when it is the profile's own static key."""
    if any(k in merged for k in _NOT_STATIC):
        return None
    if "aws_access_key_id" in creds:  # the credentials file comes before login and process
        return creds["aws_access_key_id"]
    if "credential_process" in merged or "login_session" in merged:
        return None
    return merged.get("aws_access_key_id")


def load_files(env: Mapping[str, str]) -> list[Profile]:
    """Every AWS profile; none without botocore (the ``s3`` extra), which S3 needs anyway."""
    import importlib.util

    if importlib.util.find_spec("botocore") is None:
        return []
    from botocore import configloader

    cfg_path, cred_path = config_file(env), credentials_file(env)
    full = configloader.build_profile_map(_sections(cfg_path))
    creds = _sections(cred_path)
    profiles: dict[str, dict[str, Any]] = full["profiles"]
    where: dict[str, list[str]] = {}
    for name in profiles:
        section = "default" if name == "default" else f"profile {name}"
        where[name] = [f"{cfg_path} [{section}]"]
    for name, values in creds.items():  # merged as botocore's Session.full_config does
        profiles.setdefault(name, {}).update(values)
        where.setdefault(name, []).append(f"{cred_path} [{name}]")
    out = []
    for name, merged in profiles.items():
        f: dict[str, Any] = {"backend": "s3", "aws_profile": name}
        if region := env.get("AWS_DEFAULT_REGION") or merged.get("region"):
            f["region"] = region
        if endpoint := _endpoint(full, merged, env):
            f["endpoint_url"] = endpoint
        if key := _static_key(merged, creds.get(name, {})):
            f["key"] = key
        location = " + ".join(where[name])
        out.append(make_profile(name, f, Source(kind="aws", location=location), location))
    return out


def _endpoint_from_env(env: Mapping[str, str]) -> str | None:
    return env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None


def load_env(env: Mapping[str, str]) -> list[Profile]:
    names = [v.name for v in AWS if v.field and env.get(v.name)]  # the S3 backend's table
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
