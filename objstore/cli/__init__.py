"""The ``objstore`` command line: one module per command group, each thin."""

from .app import app, main

__all__ = ["app", "main"]
