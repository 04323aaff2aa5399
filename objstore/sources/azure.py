"""Azure Blob from the environment, as the profile ``azure-env``.

``AZURE_STORAGE_CONNECTION_STRING``, or ``AZURE_STORAGE_ACCOUNT_NAME`` with ``AZURE_STORAGE_ACCOUNT_KEY``
or ``AZURE_STORAGE_SAS_TOKEN``; ``AZURE_STORAGE_ANON=true`` (as adlfs reads it) for public
containers. Incomplete sets (a name without a key or SAS) still make a profile, so ``objstore
profiles`` lists it; using it raises a CredentialsError that names the missing variable. A
connection string that does not parse is refused here, with a ConfigError naming the variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..profiles import Profile, Source
from ._validate import make_profile

__all__ = ["load", "ENV_PROFILE"]

ENV_PROFILE = "azure-env"


def load(env: Mapping[str, str]) -> list[Profile]:
    f: dict[str, Any] = {"backend": "azure"}
    used = []
    for var, field in (
        ("AZURE_STORAGE_CONNECTION_STRING", "connection_string"),
        ("AZURE_STORAGE_ACCOUNT_NAME", "account_name"),
        ("AZURE_STORAGE_ACCOUNT_KEY", "account_key"),
        ("AZURE_STORAGE_SAS_TOKEN", "sas_token"),
    ):
        if env.get(var, "").strip():
            f[field] = env[var].strip()
            used.append(var)
    if env.get("AZURE_STORAGE_ANON", "").strip().lower() in ("true", "1", "t", "yes"):
        f["anonymous"] = True
        used.append("AZURE_STORAGE_ANON")
    if not used:
        return []
    return [make_profile(ENV_PROFILE, f, Source(kind="env", location=", ".join(used)))]
