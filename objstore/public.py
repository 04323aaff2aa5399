"""Make a cube world-readable, each backend its own way (its Backend's ``make_public``), and hand
back the https URL readers use.

=========  ===============================================================================
Swift      container read ACL ``.r:*,.rlistings`` (:func:`objstore.swift.make_public`)
S3         ``public-read`` ACL on the bucket and on every object under the prefix; buckets that
           refuse ACLs (Object Ownership "bucket owner enforced") get a bucket-policy statement
           allowing anonymous ``s3:GetObject`` on the prefix instead
Azure      container public access level ``container`` (anonymous reads and listings)
GCS        ``allUsers`` as ``roles/storage.objectViewer`` in the bucket's IAM policy, where the
           server supports it (the GCS emulator accepts the call and enforces nothing)
=========  ===============================================================================

Swift, Azure and S3 (bucket ACL) make the whole container or bucket readable and listable, not
only the cube: publish into a container meant for public data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .api import resolve
from .backends.base import PublicResult
from .boundary import mapped_errors
from .perf import DEFAULT_MAX_CONCURRENCY

if TYPE_CHECKING:
    from .api import Resolved
    from .profiles import Profile

__all__ = ["PublicResult", "make_public", "public_url", "reader_snippet"]


def public_url(r: Resolved) -> str:
    """The plain https (or the emulator's http) URL of ``r``, as an anonymous reader uses it."""
    return r.backend.public_url(r)


def make_public(url: str, profile: str | Profile | None = None) -> str:
    """Make the cube (and, on Swift/Azure/S3, its container or bucket) world-readable; returns
    the https URL readers use."""
    r = resolve(url, profile)
    with mapped_errors(r):
        return _make_public(r).url


def _make_public(r: Resolved, *, s3_objects: list[str] | None = None,
                 concurrency: int = DEFAULT_MAX_CONCURRENCY) -> PublicResult:
    """``s3_objects``: the object paths that still need making public (default: every object
    under the prefix)."""
    return r.backend.make_public(r, objects=s3_objects, concurrency=concurrency)


def make_private(url: str, profile: str | Profile | None = None) -> str:
    """Undo :func:`make_public`: Swift read ACL removed, S3 ACLs ``private``, Azure container public
    access off, GCS ``allUsers`` binding removed. Returns the URL that readers can no longer use."""
    r = resolve(url, profile)
    with mapped_errors(r):
        return r.backend.make_private(r)


# ------------------------------------------------------------------------------------------ readers
def reader_snippet(url: str) -> str:
    """The two lines readers paste: plain fsspec + xarray, and objstore."""
    return (f'import fsspec, xarray as xr; ds = xr.open_zarr(fsspec.get_mapper("{url}"), '
            'consolidated=True)\n'
            f'import objstore; ds = objstore.open_cube("{url}")')
