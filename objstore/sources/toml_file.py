"""objstore's own TOML file: ``platformdirs.user_config_dir("objstore")/profiles.toml``, or
``$OBJSTORE_CONFIG``. Each ``[profiles.NAME]`` table is one profile (``backend`` defaults to s3)."""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..profiles import Profile, Source
from ._validate import make_profile

__all__ = ["config_path", "load", "load_file", "add_profile", "check_name", "missing_config_note"]


def config_path(env: Mapping[str, str]) -> Path:
    """The user's profiles file: ``$OBJSTORE_CONFIG`` or the platform config dir."""
    if env.get("OBJSTORE_CONFIG"):
        return Path(env["OBJSTORE_CONFIG"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("objstore")) / "profiles.toml"


def missing_config_note(env: Mapping[str, str]) -> str | None:
    """A sentence when ``$OBJSTORE_CONFIG`` names a file that does not exist, else None.

    Not an error: ``objstore profiles add`` creates the file there.
    """
    if env.get("OBJSTORE_CONFIG") and not config_path(env).exists():
        return (f"OBJSTORE_CONFIG names {config_path(env)}, which does not exist: no profiles were "
                "read from it (`objstore profiles add` creates it)")
    return None


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # its message carries "(at line N, column M)"
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def _line_of(path: Path, name: str) -> int | None:
    pattern = re.compile(rf"^\s*\[\s*profiles\.[\"']?{re.escape(name)}[\"']?\s*\]")
    try:
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.match(line):
                return i
    except OSError:
        pass
    return None


def load_file(path: Path, kind: str = "toml") -> list[Profile]:
    """Profiles of one TOML file (missing file: none)."""
    data = _read(path)
    tables = data.get("profiles", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"{path}: 'profiles' must be a table of [profiles.NAME] tables")
    out = []
    for name, fields in tables.items():
        line = _line_of(path, name)
        where = f"{path}, line {line}" if line else str(path)
        if not isinstance(fields, dict):
            raise ConfigError(f"{where}: [profiles.{name}] must be a table")
        out.append(make_profile(name, fields, Source(kind=kind, location=where), where))
    return out


def load(env: Mapping[str, str]) -> list[Profile]:
    return load_file(config_path(env))


#: Profile names ``profiles add`` accepts: usable unquoted in TOML, on a command line and in URLs.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_name(name: str) -> None:
    """ConfigError unless ``name`` is a usable profile name."""
    if not NAME.match(name):
        raise ConfigError(
            f"invalid profile name {name!r}: use letters, digits, '-', '_' or '.', starting with a "
            "letter or digit (at most 64 characters), e.g. my-osn")


def add_profile(path: Path, name: str, fields: dict[str, Any], *, replace: bool = False) -> Path:
    """Add ``[profiles.NAME]`` to the file atomically, mode 0600, keeping the comments, order and
    layout of everything else in it. Validates first."""
    import tomlkit

    check_name(name)
    make_profile(name, fields, Source(kind="toml", location=str(path)), str(path))
    _read(path)  # a file that is not valid TOML is reported as such, not rewritten
    try:
        doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        doc = tomlkit.document()
    profiles = doc.get("profiles")
    if profiles is None:
        profiles = tomlkit.table(is_super_table=True)
        doc["profiles"] = profiles
    if name in profiles and not replace:
        raise ConfigError(f"profile {name!r} already exists in {path}; pass --replace to change it")
    table = tomlkit.table()
    for key, value in fields.items():
        if value is not None:
            table[key] = value
    if name in profiles:  # comments after the old table's keys introduce what follows: keep them
        trailing: list[Any] = []
        for key, item in reversed(profiles[name].value.body):
            if key is not None:
                break
            trailing.insert(0, item)
        for item in trailing:
            table.add(item)
    profiles[name] = table
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".profiles-", suffix=".toml")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(tomlkit.dumps(doc))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
