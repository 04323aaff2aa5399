"""The secrets of a Swift profile, handed to :class:`objstore.swift.SwiftFileSystem` by reference.

A filesystem (and a zarr store, and a lazily opened cube) built from a profile of a config file
(objstore's TOML file or clouds.yaml) carries this provider instead of the key and token. It
pickles as the profile *name* and the non-secret identity (auth URL, user, project, ...): a dask
worker that unpickles it reads the profile from its own config, checks that it is the same
identity, and authenticates (and renews its tokens) by itself. No secret travels with the job.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import CredentialsError, ObjstoreError
from ..profiles import Profile, SwiftProfile
from ..sources import read_again

__all__ = ["SwiftProfileSecrets", "IDENTITY", "BY_NAME_SOURCES", "identity", "secrets",
           "travels_by_name"]

#: Profile fields that say who authenticates where; they travel with the job, the secrets do not.
IDENTITY = ("auth_url", "auth_version", "user", "storage_url", "project_name", "project_id",
            "user_domain_name", "project_domain_name", "region_name")
#: Sources a worker can read by itself (given the same files): their profiles travel by name.
BY_NAME_SOURCES = frozenset({"toml", "clouds.yaml"})


def identity(profile: SwiftProfile) -> dict[str, str]:
    return {k: str(v) for k in IDENTITY if (v := getattr(profile, k)) is not None}


def secrets(profile: SwiftProfile) -> dict[str, str]:
    out = {"key": profile.key, "token": profile.token}
    return {k: v.get_secret_value() for k, v in out.items() if v is not None}


class SwiftProfileSecrets:
    """``{"key": ..., "token": ...}`` of Swift profile ``profile``, read again where unpickled."""

    def __init__(self, profile: str, identity: dict[str, str],
                 secrets: dict[str, str] | None = None, source: str = "toml") -> None:
        self.profile = profile
        self.identity = dict(identity)
        self.source = source  # where it is read again: toml or clouds.yaml
        self._secrets = secrets

    def __call__(self) -> dict[str, str]:
        if self._secrets is None:
            self._secrets = self._resolve()
        return dict(self._secrets)

    def _resolve(self) -> dict[str, str]:
        where = "in this process (a dask worker?)"
        found: Profile | None = read_again(self.profile, self.source, os.environ)
        if found is None:
            raise CredentialsError(
                f"Swift profile {self.profile!r} is not defined {where} (its {self.source} "
                "source), which reads it by name to authenticate: give it the same objstore config "
                "(OBJSTORE_CONFIG, clouds.yaml), or open the data with a profile whose credentials "
                "travel with the job (see docs/swift.md)")
        if not isinstance(found, SwiftProfile) or identity(found) != self.identity:
            raise CredentialsError(
                f"profile {self.profile!r} {where} is not the Swift identity the data was opened "
                f"with ({self.identity.get('user')!r} at {self.identity.get('auth_url')}): give "
                "every process the same objstore config")
        return secrets(found)

    def __getstate__(self) -> dict[str, Any]:
        return {"profile": self.profile, "identity": self.identity, "source": self.source}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["profile"], state["identity"],  # type: ignore[misc]
                      source=state.get("source", "toml"))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, SwiftProfileSecrets) and other.profile == self.profile
                and other.identity == self.identity)

    def __hash__(self) -> int:
        return hash((self.profile, tuple(sorted(self.identity.items()))))

    def __repr__(self) -> str:  # also the filesystem cache key: names only, never a secret
        return f"SwiftProfileSecrets(profile={self.profile!r}, identity={self.identity!r})"

    __str__ = __repr__


def travels_by_name(profile: SwiftProfile) -> bool:
    """True when a worker can read ``profile`` by its name from the same config files."""
    if profile.source.kind not in BY_NAME_SOURCES or not profile.name:
        return False
    if profile.key is None and profile.token is None:
        return False
    try:
        return read_again(profile.name, profile.source.kind, os.environ) == profile
    except ObjstoreError:  # an unreadable config: ship the credentials as before
        return False
