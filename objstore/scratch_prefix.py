"""The ``$SCRATCH_BUCKET`` prefix policy: where your scratch space is, how long it lives, and the
guard that keeps writes to the shared scratch bucket inside your own prefix.

It reads only the environment, parses URLs and asks the backend whether a URL names a place to
write, so the profile registry and resolve can ask it; the user operations are in
:mod:`objstore.scratch`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from . import backends
from .errors import ConfigError, ObjstoreError, ScratchPrefixError
from .urls import ObjectURL, parse

__all__ = ["VARIABLE", "DEFAULT_EXPIRY_DAYS", "expiry_days", "parsed_prefix",
           "object_expiry_seconds", "check_write_allowed"]

VARIABLE = "SCRATCH_BUCKET"
DEFAULT_EXPIRY_DAYS = 7


def expiry_days(env: Mapping[str, str] | None = None) -> float:
    env = os.environ if env is None else env
    raw = env.get("OBJSTORE_SCRATCH_EXPIRY_DAYS", "")
    try:
        return float(raw) if raw else DEFAULT_EXPIRY_DAYS
    except ValueError:
        raise ConfigError(f"OBJSTORE_SCRATCH_EXPIRY_DAYS={raw!r} is not a number of days") from None


def parsed_prefix(env: Mapping[str, str] | None = None) -> ObjectURL:
    env = os.environ if env is None else env
    raw = env.get(VARIABLE, "").strip()
    if not raw:
        raise ConfigError(
            f"{VARIABLE} is not set: hubs set it to your scratch prefix, e.g. "
            f"{VARIABLE}=s3://hub-scratch/$JUPYTERHUB_USER"
        )
    if "://" not in raw:
        raise ConfigError(f"{VARIABLE}={raw!r} is not a URL: expected e.g. s3://hub-scratch/alice")
    try:
        parsed = parse(raw)
    except ObjstoreError as exc:
        raise ConfigError(f"{VARIABLE}={raw!r}: {exc}") from None
    backend = backends.for_url(parsed)
    if backend.on_disk or not backend.allows_writes or (backend.has_buckets and not parsed.bucket):
        raise ConfigError(f"{VARIABLE}={raw!r} must name a bucket, e.g. s3://hub-scratch/alice")
    return parsed


def _is_under(target: ObjectURL, mine: ObjectURL) -> bool:
    own = mine.path.rstrip("/") + "/"
    return (target.backend, target.bucket, target.host) == (mine.backend, mine.bucket, mine.host) \
        and (target.path.rstrip("/") + "/").startswith(own)


def object_expiry_seconds(target: ObjectURL) -> int | None:
    """For objects under the scratch prefix, the seconds they live (stores that expire each
    object, such as Swift's ``X-Delete-After``, are told so by their backend); else None."""
    if not os.environ.get(VARIABLE):
        return None
    try:
        mine = parsed_prefix()
    except ConfigError:
        return None
    if not _is_under(target, mine):
        return None
    return int(expiry_days() * 86400)


def check_write_allowed(target: ObjectURL, *, force: bool = False) -> None:
    """Refuse writes into the scratch bucket that fall outside ``$SCRATCH_BUCKET``."""
    if force or not os.environ.get(VARIABLE):
        return
    try:
        mine = parsed_prefix()
    except ConfigError:
        return
    if (target.backend, target.bucket, target.host) != (mine.backend, mine.bucket, mine.host):
        return  # another bucket: none of scratch's business
    if not _is_under(target, mine):
        raise ScratchPrefixError(
            f"refusing to write {target.url}: it is in the shared scratch bucket but outside your "
            f"prefix {mine.url.rstrip('/')}/ ({VARIABLE}), where you could clobber someone else's data. "
            "Use objstore.scratch.url(name), or pass force=True if you mean it."
        )
