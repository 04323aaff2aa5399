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
        problems = "; ".join(_problem(e) for e in exc.errors(include_input=False, include_url=False))
        raise ConfigError(f"profile {name!r} in {where or source}: {problems}") from None


def _problem(error: Any) -> str:
    """One pydantic error as ``field: what is wrong`` (never the value)."""
    if error["type"] == "union_tag_invalid":
        return f"unknown backend: expected one of {error['ctx']['expected_tags']}"
    field = ".".join(str(p) for p in error["loc"][1:])
    return f"{field + ': ' if field else ''}{error['msg'].removeprefix('Value error, ')}"
