"""Is the bucket (or container) there? ``publish`` and ``cp`` ask before they start; elsewhere
:mod:`objstore.boundary` asks after a "not found", to say which of bucket or object is missing.

objstore does what each store's own upload tool does with a missing bucket: ``aws s3 cp``,
``gcloud storage cp`` and ``az storage blob upload`` fail, so on S3, GCS and Azure a write is
refused with the bucket's name and the command that creates it (creating one is a decision about
region, billing and access, and a typo should not leave a new bucket behind); ``swift upload``
creates the container, and so does a write to Swift. Only a definite "no such bucket" counts as
missing; a bucket the profile may not inspect (403) is left for the write itself to report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import BucketNotFoundError

if TYPE_CHECKING:
    from .api import Resolved

__all__ = ["bucket_missing", "create_hint", "require_bucket"]


def bucket_missing(r: Resolved) -> bool:
    """True only when the server says ``r``'s bucket or container does not exist (one request)."""
    if not r.url.bucket or not r.backend.has_buckets:
        return False
    try:
        r.fs.info(r.url.bucket)
    except FileNotFoundError:
        return True
    except Exception:  # noqa: BLE001 - not allowed to look, or the server failed: not a "no"
        return False
    return False


def create_hint(r: Resolved) -> str:
    """The command that creates ``r``'s bucket or container, as a sentence."""
    command = r.backend.create_bucket_command(r)
    return f"Create it first, e.g. with: {command}" if command else \
        f"Create the {r.backend.bucket_word} first"


def require_bucket(r: Resolved) -> None:
    """Raise :class:`BucketNotFoundError` when ``r``'s bucket does not exist and the backend's
    writes do not create it."""
    if not r.backend.creates_bucket_on_write and bucket_missing(r):
        word = r.backend.bucket_word
        raise BucketNotFoundError(
            f"cannot write to {r.url.url}: the {word} {r.url.bucket!r} does not exist (profile "
            f"{r.profile.name!r}, from {r.profile.source}). {create_hint(r)}",
            url=r.url.url, profile=r.profile.name, status=404)
