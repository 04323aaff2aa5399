"""One retry policy for every backend and engine: which failures are retried, how long to wait,
when to give up, and how each library is told so.

Retried: HTTP 408, 429, 5xx (429 and 503 honour ``Retry-After``), resets, timeouts, truncated or
undecodable bodies; never a 4xx that says the request is wrong. Waits grow exponentially with full
jitter; a request gets at most ``retries`` retries within ``DEFAULT_DEADLINE`` seconds. Each request
is bounded by ``timeout``: connecting, and then the gap between bytes read.

The libraries retry by themselves; they are configured (each Backend's ``library_options``,
:func:`obstore_config`) rather than wrapped in a second loop. objstore's Swift filesystem uses
:class:`Attempts`. Retries and throttling are logged on the ``objstore.retry`` logger at INFO (shown
with ``-v``), and :class:`ThrottleWatch` warns once when a service keeps throttling: told by
objstore's Swift filesystem and gcsfs class, botocore's ``needs-retry`` event (s3fs) and
azure-core's retry policy (adlfs).

This module imports nothing of objstore but its errors, so the Swift filesystem (a leaf) can use it.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from .errors import ObjstoreError, RemoteError

__all__ = [
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "DEFAULT_DEADLINE",
    "RETRY_STATUSES",
    "RetryPolicy",
    "Attempts",
    "ThrottleWatch",
    "policy_for",
    "retry_after",
    "is_transient",
    "obstore_config",
    "show_retries",
    "service_of",
    "botocore_throttle_hook",
]

log = logging.getLogger("objstore.retry")

#: Retries after the first attempt. At 20% failed requests, one request in ~2 million fails all
#: nine attempts: a cube of thousands of chunks survives.
DEFAULT_RETRIES = 8
#: Seconds to connect, and seconds without a byte of the response, before a request is abandoned.
DEFAULT_TIMEOUT = 20.0
#: Seconds one request may spend in retries in all (attempts and waits).
DEFAULT_DEADLINE = 120.0
#: First wait and the cap of the exponential backoff, in seconds.
BACKOFF_FIRST = 0.1
BACKOFF_MAX = 8.0
#: Longest ``Retry-After`` honoured, in seconds.
RETRY_AFTER_MAX = 30.0

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
THROTTLE_STATUSES = frozenset({429, 503})

#: Requests in flight per process when a profile sets no ``max_concurrency``, for every backend
#: and engine (the Swift filesystem's pool too): see docs/performance.md and
#: ``benchmarks/bench_io.py --sweep``.
DEFAULT_MAX_CONCURRENCY = 64


@dataclass(frozen=True)
class RetryPolicy:
    """How many retries, how long a request may stall, how long retrying may last."""

    retries: int = DEFAULT_RETRIES
    timeout: float = DEFAULT_TIMEOUT
    deadline: float = DEFAULT_DEADLINE
    backoff_first: float = BACKOFF_FIRST
    backoff_max: float = BACKOFF_MAX

    def delay(self, retry: int, after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (0-based): full jitter, or the server's
        ``Retry-After`` when it asks for longer."""
        ceiling = min(self.backoff_max, self.backoff_first * 2**retry)
        wait = random.uniform(ceiling / 2, ceiling)
        if after is not None:
            wait = max(wait, min(after, RETRY_AFTER_MAX))
        return wait


def policy_for(profile: Any = None, **override: Any) -> RetryPolicy:
    """The policy of a profile (its ``retries``/``timeout`` fields where set), then ``override``."""
    values: dict[str, Any] = {}
    for name in ("retries", "timeout"):
        value = getattr(profile, name, None)
        if value is not None:
            values[name] = value
    values.update({k: v for k, v in override.items() if v is not None})
    return RetryPolicy(**values)


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), else None."""
    value = (headers or {}).get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def is_transient(exc: BaseException) -> bool:
    """True for a failure that a retry may cure: network errors, timeouts, truncated or
    undecodable bodies, 5xx; False for "not found", "denied", "exists" and bad requests."""
    if isinstance(exc, (FileNotFoundError, FileExistsError, PermissionError, IsADirectoryError,
                        NotADirectoryError, TypeError, KeyError)):
        return False
    if isinstance(exc, json.JSONDecodeError):
        return True
    if isinstance(exc, ValueError):
        return False
    if isinstance(exc, ObjstoreError):
        return isinstance(exc, RemoteError) and getattr(exc, "transient", True)
    return isinstance(exc, (OSError, asyncio.TimeoutError)) or \
        type(exc).__module__.split(".")[0] in {"aiohttp", "botocore", "azure", "google"}


class ThrottleWatch:
    """Counts throttled answers (429/503) per service; warns once when ``limit`` came within
    ``window`` seconds (a service that keeps throttling: lower ``max_concurrency``)."""

    def __init__(self, limit: int = 20, window: float = 60.0) -> None:
        self.limit, self.window = limit, window
        self._times: dict[str, list[float]] = {}
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def throttled(self, service: str) -> None:
        now = time.monotonic()
        with self._lock:
            times = [t for t in self._times.get(service, []) if now - t < self.window]
            times.append(now)
            self._times[service] = times
            if len(times) < self.limit or service in self._warned:
                return
            self._warned.add(service)
        log.warning("%s keeps throttling (%d answers 429/503 within %.0f s): requests are "
                    "retried more slowly; lower the profile's max_concurrency to send fewer at "
                    "once", service, len(times), self.window)


THROTTLE = ThrottleWatch()

#: error codes by which S3 (and S3-compatible stores) say "slow down"
_S3_THROTTLE_CODES = frozenset({"SlowDown", "Throttling", "ThrottlingException",
                                "RequestLimitExceeded", "TooManyRequests", "TooManyRequestsException"})


def service_of(url: str | None) -> str:
    """``scheme://host:port`` of ``url``: what a throttling warning names (never a path, a query
    or a signature)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}" if parts.netloc else "the service"


def botocore_throttle_hook(response: Any = None, request_dict: Any = None,
                           attempts: int | None = None, max_attempts: int | None = None,
                           **_: Any) -> float | None:
    """A botocore ``needs-retry`` handler: counts throttled answers (429/503, ``SlowDown``) for
    :data:`THROTTLE`, and retries a bare 429 (which botocore's standard mode does not, though
    S3-compatible stores send it) while ``attempts`` < ``max_attempts``; else None, so that
    botocore's own decision stands."""
    if not response:
        return None
    http, parsed = response
    status = getattr(http, "status_code", None)
    code = ((parsed or {}).get("Error") or {}).get("Code")
    if status not in THROTTLE_STATUSES and code not in _S3_THROTTLE_CODES:
        return None
    service = service_of((request_dict or {}).get("url"))
    THROTTLE.throttled(service)
    if status != 429 or attempts is None or max_attempts is None or attempts >= max_attempts:
        return None
    wait = RetryPolicy().delay(attempts - 1, retry_after(getattr(http, "headers", None)))
    log.info("retry %d/%d of a request to %s in %.2f s: HTTP 429", attempts, max_attempts - 1,
             service, wait)
    return wait


@dataclass
class Attempts:
    """Retry bookkeeping for one request under ``policy``: ``await retry(why)`` waits and says
    True while attempts and the deadline allow another one."""

    policy: RetryPolicy
    what: str  # "GET https://host/path", never a secret
    made: int = 1
    started: float = field(default_factory=time.monotonic)

    def _next(self, why: str, after: float | None) -> float | None:
        if self.made > self.policy.retries:
            return None
        wait = self.policy.delay(self.made - 1, after)
        if time.monotonic() - self.started + wait > self.policy.deadline:
            return None
        log.info("retry %d/%d of %s in %.2f s: %s", self.made, self.policy.retries, self.what,
                 wait, why)
        self.made += 1
        return wait

    async def retry(self, why: str, after: float | None = None) -> bool:
        wait = self._next(why, after)
        if wait is None:
            return False
        await asyncio.sleep(wait)
        return True

    def retry_sync(self, why: str, after: float | None = None) -> bool:
        wait = self._next(why, after)
        if wait is None:
            return False
        time.sleep(wait)
        return True

    def gave_up(self) -> str:
        return f"after {self.made} attempts in {time.monotonic() - self.started:.1f} s"


# ------------------------------------------------------------------ telling the libraries
def obstore_config(options: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """obstore's ``client_options`` timeouts and ``RetryConfig`` from storage options made by
    each Backend's ``library_options``. obstore has no idle-read timeout: a request may take three
    ``timeout``s in all (connecting included)."""
    config = options.get("config_kwargs") or {}
    t = float(options.get("read_timeout") or config.get("read_timeout") or DEFAULT_TIMEOUT)
    botocore = config.get("retries") or {}
    attempts = botocore.get("total_max_attempts") or (
        botocore["max_attempts"] + 1 if botocore.get("max_attempts") is not None else None)
    retries = int(options.get("retry_total", attempts - 1 if attempts else DEFAULT_RETRIES))
    client = {"connect_timeout": f"{t:g}s", "timeout": f"{3 * t:g}s"}
    retry = {"max_retries": retries, "retry_timeout": timedelta(seconds=DEFAULT_DEADLINE),
             "backoff": {"init_backoff": timedelta(seconds=BACKOFF_FIRST),
                         "max_backoff": timedelta(seconds=BACKOFF_MAX), "base": 2.0}}
    return client, retry


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler writing to whatever ``sys.stderr`` is when a record comes."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


_SHOWN = _Stderr()
_SHOWN.setFormatter(logging.Formatter("%(name)s: %(message)s"))


def show_retries(on: bool = True) -> None:
    """Print retries and throttling on stderr (or stop): objstore's own (Swift, copies) and
    botocore's (s3fs). What ``objstore -v`` turns on for one command."""
    for name, level in (("objstore.retry", logging.INFO), ("botocore.retries", logging.DEBUG)):
        logger = logging.getLogger(name)
        if on:
            logger.setLevel(level)
            if _SHOWN not in logger.handlers:
                logger.addHandler(_SHOWN)
        elif _SHOWN in logger.handlers:
            logger.removeHandler(_SHOWN)
            logger.setLevel(logging.NOTSET)
