"""Big buffers straight from the kernel: glibc's malloc otherwise keeps freed chunk buffers.

glibc serves allocations above its mmap threshold with their own ``mmap`` and gives them back on
``free``; but it raises that threshold (up to 32 MiB) each time such a block is freed, so after the
first few chunks every encoded and decoded chunk (MiBs each) comes from the heap, whose freed
memory stays in the process. Reading a cube then peaks well above what it returns (1.4-1.6x
instead of 1.1x for ``open_cube(url, chunks=None).load()``, see docs/performance.md). Fixing the
threshold at :data:`MMAP_THRESHOLD` turns that adjustment off, as ``MALLOC_MMAP_THRESHOLD_``
would. A user's own ``MALLOC_MMAP_THRESHOLD_`` wins; elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["MMAP_THRESHOLD", "fix_mmap_threshold"]

#: Allocations of at least this many bytes get their own mapping, returned to the system on free
MMAP_THRESHOLD = 1 << 20
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
_done = False


def fix_mmap_threshold() -> bool:
    """Fix glibc's mmap threshold (once per process); whether it is fixed by objstore."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux") or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    _done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    return _done
