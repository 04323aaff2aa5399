"""Views of served cubes: plots, group-by diagnostics and HTML pages, as a library
(:func:`render`, :func:`groupby`), the ``objstore plot`` command, and xpublish plugins
(:func:`plugins`). Nothing here writes to a dataset."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .groupby import groupby
from .plot import render
from .selection import parse_selection

if TYPE_CHECKING:
    from xpublish import Plugin

__all__ = ["render", "groupby", "parse_selection", "plugins"]


def plugins(**landing: Any) -> list[Plugin]:
    """The xpublish plugins: plots, group-by and the landing pages (``landing`` configures
    :class:`~objstore.views.landing.LandingPlugin`, e.g. ``title`` and ``public_url``)."""
    from .landing import LandingPlugin
    from .routes import GroupByPlugin, PlotPlugin

    return [PlotPlugin(), GroupByPlugin(), LandingPlugin(**landing)]
