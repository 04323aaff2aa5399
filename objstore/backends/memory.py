"""fsspec's in-memory file system (tests, demos): this process only, no buckets."""

from __future__ import annotations

from ..urls import ObjectURL
from .base import Backend


class MemoryBackend(Backend):
    """fsspec's memory filesystem."""

    name = "memory"
    protocols = ("memory",)
    has_buckets = False
    is_local = True

    def path(self, url: ObjectURL) -> str:
        return url.key


BACKEND = MemoryBackend()
