"""Catalogs of cubes: intake (v1 YAML, v2) and STAC, built from where the cubes live.

Public cubes get plain fsspec options anyone can use; private cubes get an entry that opens
through ``engine="objstore"`` with a profile *name*, never a secret. Names load on first use, so
that xarray loading the ``objstore`` engine's entry point imports no more than it needs.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["intake", "stac", "intake_source", "intake_catalog", "stac_item", "stac_collection"]

_WHERE = {"intake": "build", "stac": "build",
          "intake_source": "intake_yaml", "intake_catalog": "intake_yaml",
          "stac_item": "stac_objects", "stac_collection": "stac_objects"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
