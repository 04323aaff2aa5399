"""ProfileRegistry: gathers profiles from every source and picks one for a URL.

Precedence is written once, in :data:`SOURCES`: the first source that defines a name wins, so a
profile in your own TOML file overrides an environment profile, which overrides an AWS file profile,
which overrides a built-in preset. Your file is what you wrote on purpose; the environment is what
the session says now (as in botocore, where variables beat files); presets are the fallback.

For a URL: an explicit profile wins, then the profile whose ``match`` pattern fits the URL (longest
pattern wins), then the backend's default (``AWS_PROFILE``, the ``*-env`` profile, a profile named
``default``, then ambient credentials).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from . import backends, scratch_prefix
from .errors import ObjstoreError, ProfileNotFoundError
from .profiles import Profile, Source
from .sources import aws, azure, gcs, openstack, presets, toml_file
from .urls import ObjectURL, parse

__all__ = ["SOURCES", "ProfileRegistry", "default_registry", "ENV_PREFIXES"]

Loader = Callable[[Mapping[str, str]], list[Profile]]

#: Sources in precedence order, highest first.
SOURCES: list[tuple[str, Loader]] = [
    ("objstore config file", toml_file.load),
    ("AWS environment variables", aws.load_env),
    ("OpenStack environment variables", openstack.load),
    ("Google Cloud environment variables", gcs.load),
    ("Azure environment variables", azure.load),
    ("AWS config and credentials files", aws.load_files),
    ("OpenStack clouds.yaml", openstack.load_clouds),
    ("built-in presets", lambda env: presets.load()),
]

#: Environment variables that can change what the registry returns.
ENV_PREFIXES = ("AWS_", "OS_", "ST_", "GOOGLE_", "AZURE_", "STORAGE_EMULATOR_HOST", "SCRATCH_",
                "OBJSTORE_")

@dataclass
class ProfileRegistry:
    """All profiles visible in ``env``. Loads lazily, once."""

    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    sources: list[tuple[str, Loader]] = field(default_factory=lambda: list(SOURCES))
    _profiles: dict[str, Profile] | None = field(default=None, repr=False)
    shadowed: list[Profile] = field(default_factory=list, repr=False)

    @property
    def profiles(self) -> dict[str, Profile]:
        if self._profiles is None:
            found: dict[str, Profile] = {}
            for _label, load in self.sources:
                for p in load(self.env):
                    if p.name in found:
                        self.shadowed.append(p)
                    else:
                        found[p.name] = p
            self._profiles = found
            if (scratch := self._scratch_profile()) is not None:
                found.setdefault(scratch.name, scratch)
        return self._profiles

    def _scratch_profile(self) -> Profile | None:
        """``scratch``: the default credentials of ``$SCRATCH_BUCKET``'s backend, matching its prefix."""
        if not self.env.get(scratch_prefix.VARIABLE):
            return None
        try:
            parsed = scratch_prefix.parsed_prefix(self.env)
            base = self.default_for(parsed)
        except ObjstoreError:
            return None  # reported when used: objstore.scratch names the variable
        return base.model_copy(update={
            "name": "scratch", "match": [parsed.url.rstrip("/") + "/*"],
            "source": Source(kind="env", location=f"{scratch_prefix.VARIABLE} (credentials: {base.source})"),
        })

    def searched(self) -> list[str]:
        """What was looked at, for error messages."""
        missing = " (OBJSTORE_CONFIG names it; no such file)" if \
            toml_file.missing_config_note(self.env) else ""
        return [
            f"objstore config file {toml_file.config_path(self.env)}{missing}",
            "environment variables AWS_*, OS_*/ST_*, GOOGLE_*, AZURE_STORAGE_*",
            f"AWS files {aws.config_file(self.env)} and {aws.credentials_file(self.env)}",
            f"OpenStack clouds.yaml {openstack.clouds_file(self.env) or '(none found)'}",
            f"presets in {presets.presets_dir()}",
        ]

    def get(self, name: str) -> Profile:
        try:
            return self.profiles[name]
        except KeyError:
            raise ProfileNotFoundError(self._unknown(name)) from None

    def _unknown(self, name: str, why: str = "") -> str:
        names = ", ".join(sorted(self.profiles)) or "none"
        where = "; ".join(self.searched())
        return f"unknown profile {name!r}{why}. Profiles found: {names}. Searched: {where}"

    def for_url(self, url: str | ObjectURL, profile: str | Profile | None = None) -> Profile:
        """The profile to use for ``url`` (see the module docstring for the order)."""
        parsed = url if isinstance(url, ObjectURL) else parse(url)
        if profile is not None:
            return profile if not isinstance(profile, str) else self.get(profile)
        if matched := self.matching(parsed.url):
            return matched
        return self.default_for(parsed)

    def matching(self, url: str) -> Profile | None:
        best: tuple[int, Profile] | None = None
        candidates = (url, url.rstrip("/") + "/")
        for p in self.profiles.values():  # precedence order breaks ties
            for pattern in p.match:
                hit = any(fnmatch.fnmatchcase(c, pattern) for c in candidates)
                if hit and (best is None or len(pattern) > best[0]):
                    best = (len(pattern), p)
        return best[1] if best else None

    def named(self, name: str, backend: str) -> Profile | None:
        """The profile ``name`` if it is one for ``backend``."""
        p = self.profiles.get(name)
        return p if p is not None and p.backend == backend else None

    def unknown(self, name: str, why: str = "") -> ProfileNotFoundError:
        """The error for a profile name that does not exist."""
        return ProfileNotFoundError(self._unknown(name, why))

    def default_for(self, parsed: ObjectURL) -> Profile:
        """The backend's default profile for ``parsed`` (see each Backend's ``default_profile``)."""
        return backends.get(parsed.backend).default_profile(self, parsed)


_cache: tuple[tuple[object, ...], ProfileRegistry] | None = None


def _fingerprint(env: Mapping[str, str]) -> tuple[object, ...]:
    items = tuple(sorted((k, v) for k, v in env.items() if k.startswith(ENV_PREFIXES)))
    files = [toml_file.config_path(env), aws.config_file(env), aws.credentials_file(env)]
    if (clouds := openstack.clouds_file(env)) is not None:
        files.append(clouds)
    stamps: list[tuple[str, int | None, int | None]] = []
    for f in files:
        try:
            st = f.stat()
            stamps.append((str(f), st.st_mtime_ns, st.st_size))
        except OSError:
            stamps.append((str(f), None, None))
    return items, tuple(stamps)


def default_registry() -> ProfileRegistry:
    """The registry for the current environment, rebuilt when a variable or file changes."""
    global _cache
    env = dict(os.environ)
    key = _fingerprint(env)
    if _cache is None or _cache[0] != key:
        _cache = (key, ProfileRegistry(env=env))
    return _cache[1]


def _reset_cache() -> None:
    global _cache
    _cache = None

