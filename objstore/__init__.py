"""objstore: open and write data cubes (xarray + zarr) on any object store with one call."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

from .errors import *  # noqa: F403  (the whole tree, listed in errors.__all__)
from .errors import __all__ as _error_names

#: public name -> the module that defines it, imported on first use: ``import objstore`` stays
#: light (xarray imports it to list its engines), and the names still read as plain attributes
_LAZY = {
    "open_cube": "cube", "write_cube": "cube",
    "publish": "publish", "PublishResult": "publish",
    "make_public": "public", "make_private": "public",
    "resolve": "api", "filesystem": "api", "store": "api", "Resolved": "api",
    "ProfileRegistry": "registry", "default_registry": "registry",
}

__all__ = [*_LAZY, *_error_names]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """Submodules (``objstore.scratch``, ``objstore.swift``, ...) load on first use, so a plain
    ``import objstore`` is enough for them and stays light."""
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _Package(types.ModuleType):
    """``objstore.publish`` is the function even after the ``objstore.publish`` module is imported
    (the import system would otherwise set the package attribute to the module)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __dir__() -> list[str]:
    import pkgutil

    subs = [m.name for m in pkgutil.iter_modules(globals()["__path__"]) if not m.name.startswith("_")]
    return sorted(set(globals()) | set(subs) | set(_LAZY))
