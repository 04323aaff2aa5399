"""Profile sources, one module each. Each ``load`` returns a list of profiles, reads nothing at import,
and takes its inputs (``env``, paths) as arguments. Precedence lives in :mod:`objstore.registry`."""

from __future__ import annotations

from collections.abc import Mapping

from ..profiles import Profile
from . import openstack, toml_file


def read_again(name: str, kind: str, env: Mapping[str, str]) -> Profile | None:
    """Profile ``name`` read again from its own source (``toml`` or ``clouds.yaml``), as a dask
    worker given the same config files reads it; None if it is not there."""
    loaders = {"toml": toml_file.load, "clouds.yaml": openstack.load_clouds}
    load = loaders.get(kind)
    found = [p for p in load(env) if p.name == name] if load else []
    return found[0] if found else None
