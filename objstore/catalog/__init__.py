"""Catalogs of cubes: intake (v1 YAML, v2) and STAC, built from where the cubes live.

Public cubes get plain fsspec options anyone can use; private cubes get an entry that opens
through ``engine="objstore"`` with a profile *name*, never a secret.
"""

from __future__ import annotations

from .build import intake, stac
from .intake_yaml import intake_catalog, intake_source
from .stac import stac_collection, stac_item

__all__ = ["intake", "stac", "intake_source", "intake_catalog", "stac_item", "stac_collection"]
