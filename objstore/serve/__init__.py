"""``objstore serve``: publish cubes from any object store over HTTP with xpublish.

``app(config)`` returns the ASGI application; see docs/serve.md for the routes and the config.
"""

from __future__ import annotations

from .app import ServeState, app, reload
from .config import DatasetSpec, ServeConfig, config_from_urls, load_config

__all__ = ["app", "reload", "ServeState", "ServeConfig", "DatasetSpec", "load_config",
           "config_from_urls"]
