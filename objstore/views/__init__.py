"""Views of served cubes: plots, group-by diagnostics and HTML pages, as a library, a CLI command
and xpublish plugins. Nothing here writes to a dataset."""

from __future__ import annotations
