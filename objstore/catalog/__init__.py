"""Catalogs of cubes: intake (v1 YAML, v2) and STAC, built from where the cubes live.

Public cubes get plain fsspec options anyone can use; private cubes get an entry that opens
through ``engine="objstore"`` with a profile *name*, never a secret.
"""
