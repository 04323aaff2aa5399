"""``python -m objstore.cli``: the same as the ``objstore`` command."""

from .app import main

main()
