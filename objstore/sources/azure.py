"""Azure Blob from the environment, as the profile ``azure-env``.

The Azure backend's table (:data:`objstore.backends.env.AZURE`):
``AZURE_STORAGE_CONNECTION_STRING``, or ``AZURE_STORAGE_ACCOUNT_NAME`` with
``AZURE_STORAGE_ACCOUNT_KEY`` or ``AZURE_STORAGE_SAS_TOKEN``; ``AZURE_STORAGE_ANON=true`` (as
adlfs reads it) for public containers. Incomplete sets (a name without a key or SAS) still make a
profile, so ``objstore profiles`` lists it; using it raises a CredentialsError that names the
missing variable. A connection string that does not parse is refused here, with a ConfigError
naming the variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..backends.env import AZURE, TABLES
from ..profiles import Profile, Source
from ._validate import make_profile

__all__ = ["load", "ENV_PROFILE"]

ENV_PROFILE = TABLES["azure"][0]
_TRUE = ("true", "1", "t", "yes")


def load(env: Mapping[str, str]) -> list[Profile]:
    f: dict[str, Any] = {"backend": "azure"}
    used = []
    for v in AZURE:
        value = env.get(v.name, "").strip()
        if not value:
            continue
        if v.field == "anonymous":  # a switch, as adlfs reads it
            if value.lower() not in _TRUE:
                continue
            f[v.field] = True
        else:
            f[v.field] = value
        used.append(v.name)
    if not used:
        return []
    return [make_profile(ENV_PROFILE, f, Source(kind="env", location=", ".join(used)))]
