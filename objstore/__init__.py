"""objstore: open and write data cubes (xarray + zarr) on any object store with one call."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from .api import Resolved, filesystem, resolve, store
from .cube import open_cube, write_cube
from .errors import *  # noqa: F403  (the whole tree, listed in errors.__all__)
from .errors import __all__ as _error_names
from .public import make_private, make_public
from .publish import PublishResult, publish
from .registry import ProfileRegistry, default_registry

__all__ = [
    "open_cube",
    "write_cube",
    "publish",
    "PublishResult",
    "make_public",
    "make_private",
    "resolve",
    "filesystem",
    "store",
    "Resolved",
    "ProfileRegistry",
    "default_registry",
    *_error_names,
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """Submodules (``objstore.scratch``, ``objstore.swift``, ...) load on first use, so a plain
    ``import objstore`` is enough for them and stays light."""
    if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    import pkgutil

    subs = [m.name for m in pkgutil.iter_modules(globals()["__path__"]) if not m.name.startswith("_")]
    return sorted(set(globals()) | set(subs))
