"""Validate raw profile dicts into profiles, with errors that name where the bad value came from."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ..errors import ConfigError
from ..profiles import PROFILE_ADAPTER, Profile, Source

__all__ = ["make_profile"]


def make_profile(name: str, fields: dict[str, Any], source: Source, where: str = "") -> Profile:
    """Build a profile; on bad input raise :class:`ConfigError` naming ``where`` (never the values)."""
    data = {**fields, "name": name, "source": source}
    data.setdefault("backend", "s3")
    try:
        return PROFILE_ADAPTER.validate_python(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{field + ': ' if (field := '.'.join(str(p) for p in e['loc'][1:])) else ''}"
            f"{e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        raise ConfigError(f"profile {name!r} in {where or source}: {problems}") from None
