"""Built-in presets shipped as TOML data files in ``profiles/`` (Open Storage Network, AWS open data)."""

from __future__ import annotations

from pathlib import Path

from ..profiles import Profile
from .toml_file import load_file

__all__ = ["presets_dir", "load"]


def presets_dir() -> Path:
    """``objstore/_presets`` in an installed wheel, the repository's ``profiles/`` otherwise."""
    here = Path(__file__).resolve().parents[1]
    installed = here / "_presets"
    return installed if installed.is_dir() else here.parent / "profiles"


def load() -> list[Profile]:
    folder = presets_dir()
    out: list[Profile] = []
    for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
        out.extend(load_file(path, kind="preset"))
    return out
