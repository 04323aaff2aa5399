"""Per-user scratch space under ``$SCRATCH_BUCKET`` (2i2c / Pangeo hubs): URLs, temporary cubes,
listing with ages, clean-up, and the guard that keeps you inside your own prefix.

Hubs delete scratch data after a number of days (default 7, ``OBJSTORE_SCRATCH_EXPIRY_DAYS`` or
``expiry_days=``). On Swift, objects written under the prefix also carry ``X-Delete-After`` so the
store removes them by itself.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from . import backends
from .errors import ConfigError, CubeNotFoundError, ObjstoreError, ScratchPrefixError
from .urls import ObjectURL, parse

__all__ = ["ScratchPrefixError", "Entry", "prefix", "url", "temporary", "ls", "clean",
           "expiry_days", "check_write_allowed", "parse_age"]

VARIABLE = "SCRATCH_BUCKET"
DEFAULT_EXPIRY_DAYS = 7


def expiry_days(env: Mapping[str, str] | None = None) -> float:
    env = os.environ if env is None else env
    raw = env.get("OBJSTORE_SCRATCH_EXPIRY_DAYS", "")
    try:
        return float(raw) if raw else DEFAULT_EXPIRY_DAYS
    except ValueError:
        raise ConfigError(f"OBJSTORE_SCRATCH_EXPIRY_DAYS={raw!r} is not a number of days") from None


def _parsed_prefix(env: Mapping[str, str] | None = None) -> ObjectURL:
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


def prefix(env: Mapping[str, str] | None = None) -> str:
    """Your scratch prefix: ``$SCRATCH_BUCKET`` without a trailing slash."""
    return _parsed_prefix(env).url.rstrip("/")


def url(name: str, env: Mapping[str, str] | None = None) -> str:
    """A URL for ``name`` under your scratch prefix."""
    clean = name.strip("/")
    if not clean or any(part in ("..", ".") for part in clean.split("/")):
        raise ConfigError(f"scratch name {name!r} must be a relative path like 'tmp.zarr'")
    return f"{prefix(env)}/{clean}"


def _is_under(target: ObjectURL, mine: ObjectURL) -> bool:
    own = mine.path.rstrip("/") + "/"
    return (target.backend, target.bucket, target.host) == (mine.backend, mine.bucket, mine.host) \
        and (target.path.rstrip("/") + "/").startswith(own)


def object_expiry_headers(target: ObjectURL) -> dict[str, str]:
    """``X-Delete-After`` for Swift objects under the scratch prefix, so the store expires them."""
    if not os.environ.get(VARIABLE):
        return {}
    try:
        mine = _parsed_prefix()
    except ConfigError:
        return {}
    if not _is_under(target, mine):
        return {}
    return {"X-Delete-After": str(int(expiry_days() * 86400))}


def check_write_allowed(target: ObjectURL, *, force: bool = False) -> None:
    """Refuse writes into the scratch bucket that fall outside ``$SCRATCH_BUCKET``."""
    if force or not os.environ.get(VARIABLE):
        return
    try:
        mine = _parsed_prefix()
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


@contextmanager
def temporary(name: str | None = None) -> Iterator[str]:
    """Yield a fresh unique URL under the scratch prefix; delete everything under it on exit."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    base = url(f"objstore-tmp-{stamp}-{uuid.uuid4().hex[:8]}")
    try:
        yield f"{base}/{name.strip('/')}" if name else base
    finally:
        _remove(base)


def _remove(target: str) -> None:
    """Delete everything under ``target``; nothing there is fine."""
    from .transfer import remove

    try:
        remove(target, recursive=True)
    except CubeNotFoundError:
        pass


@dataclass(frozen=True)
class Entry:
    """One top-level item under the scratch prefix."""

    url: str
    objects: int
    size: int
    modified: datetime
    age: timedelta
    days_left: float


def _modified(info: dict[str, object]) -> datetime | None:
    for key in ("LastModified", "last_modified", "updated", "mtime", "last-modified", "created"):
        value = info.get(key)
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str) and value:
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                from email.utils import parsedate_to_datetime

                parsed = parsedate_to_datetime(value)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def ls(*, now: datetime | None = None, env: Mapping[str, str] | None = None) -> list[Entry]:
    """Top-level items under your prefix, with total size, newest modification, age, days left."""
    from .api import resolve

    now = now or datetime.now(UTC)
    days = expiry_days(env)
    r = resolve(prefix(env))
    base = r.path.rstrip("/")
    try:
        found = r.fs.find(base, detail=True)
    except FileNotFoundError:
        found = {}
    if not found and r.url.bucket and not r.fs.exists(r.url.bucket):
        raise CubeNotFoundError(
            f"{VARIABLE}={prefix(env)}: the bucket {r.url.bucket!r} does not exist (or these "
            f"credentials, from {r.profile.source}, cannot see it)"
        )
    groups: dict[str, list[dict[str, object]]] = {}
    for path, info in found.items():
        rel = str(path)[len(base):].lstrip("/")
        if rel:
            groups.setdefault(rel.split("/", 1)[0], []).append(info)
    entries = []
    for top, infos in sorted(groups.items()):
        stamps = [m for m in (_modified(i) for i in infos) if m is not None]
        modified = max(stamps) if stamps else now
        age = now - modified
        entries.append(Entry(
            url=f"{prefix(env)}/{top}", objects=len(infos),
            size=sum(int(i.get("size") or 0) for i in infos),  # type: ignore[call-overload]
            modified=modified, age=age, days_left=max(0.0, days - age.total_seconds() / 86400),
        ))
    return entries


def parse_age(text: str) -> timedelta:
    """``3d``, ``12h``, ``30m``, ``1w`` → timedelta."""
    units = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
    t = text.strip().lower()
    try:
        return timedelta(**{units[t[-1]]: float(t[:-1])}) if t[-1] in units else timedelta(days=float(t))
    except (ValueError, IndexError):
        raise ConfigError(f"{text!r} is not an age: use e.g. 3d, 12h, 30m or 1w") from None


def clean(older_than: timedelta = timedelta(0), *, dry_run: bool = False,
          now: datetime | None = None, env: Mapping[str, str] | None = None) -> list[Entry]:
    """Delete top-level items under your prefix last modified more than ``older_than`` ago."""
    doomed = [e for e in ls(now=now, env=env) if e.age >= older_than]
    if not dry_run:
        for e in doomed:
            _remove(e.url)
    return doomed
