"""objstore: open and write data cubes (xarray + zarr) on any object store with one call."""

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
