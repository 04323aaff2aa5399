"""Map foreign errors (botocore, aiohttp, azure, google, fsspec) to objstore's tree at the API boundary.

Errors are translated by type and HTTP status, found on the exception or on the one it was
translated from (s3fs keeps botocore's ``ClientError`` as ``__cause__``). Every raised error names
the URL, the profile and where the profile came from, and carries ``.url``, ``.profile`` and
``.status``. Foreign text passes through :func:`~objstore.errors.scrub`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .buckets import bucket_missing, create_hint
from .errors import (
    BucketNotFoundError,
    CredentialsError,
    NotFoundError,
    ObjstoreError,
    RemoteError,
    scrub,
)

if TYPE_CHECKING:
    from .api import Resolved

__all__ = ["mapped_errors", "translated", "status_of", "scrub"]

_MISSING_CREDENTIALS = {"NoCredentialsError", "PartialCredentialsError", "DefaultCredentialsError",
                        "ClientAuthenticationError"}
_FOREIGN = {"botocore", "aiobotocore", "aiohttp", "azure", "google", "gcsfs", "requests",
            "swiftclient", "obstore"}
# Raised for the caller's own mistakes (or meant for it): never rewritten here.
_PASS_THROUGH = (FileExistsError, KeyError, TypeError, NotImplementedError)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions it was translated from, nearest first."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 6:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def status_of(exc: BaseException) -> int | None:
    """The HTTP status behind ``exc``: azure's ``status_code``, aiohttp's ``status``, gcsfs's and
    google's ``code``, botocore's ``response``; None when there was no HTTP answer."""
    for e in _chain(exc):
        if isinstance(e, ObjstoreError) and e.status:
            return e.status
        for attr in ("status_code", "status", "code"):
            value = getattr(e, attr, None)
            if isinstance(value, int) and not isinstance(value, bool) and 100 <= value < 600:
                return value
        response: Any = getattr(e, "response", None)
        if isinstance(response, dict):
            value = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if isinstance(value, int):
                return value
    return None


def _forbidden(exc: BaseException, status: int | None) -> bool:
    if status in (401, 403) or isinstance(exc, PermissionError):
        return True
    # gcsfs raises a plain OSError("Forbidden: ...") for 403, with no type or status to go by
    return type(exc) is OSError and str(exc).startswith("Forbidden:")


def _missing_credentials(exc: BaseException) -> bool:
    return any(type(e).__name__ in _MISSING_CREDENTIALS for e in _chain(exc))


_UNREACHABLE = {"EndpointConnectionError", "ConnectTimeoutError", "ClientConnectorError",
                "ServiceRequestError", "ServerTimeoutError", "ConnectionError", "ConnectTimeout"}


def _unreachable(exc: BaseException) -> bool:
    """No HTTP answer at all: refused, unresolvable or timed-out connections."""
    return any(isinstance(e, (ConnectionError, TimeoutError)) or type(e).__name__ in _UNREACHABLE
               for e in _chain(exc))


def _foreign(exc: BaseException) -> bool:
    return any(type(e).__module__.split(".")[0] in _FOREIGN for e in _chain(exc))


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return scrub(text)[:300].rstrip(".")


def translated(exc: BaseException, r: Resolved, role: str = "") -> BaseException:
    """The objstore error for a failure ``exc`` of an operation on ``r`` (``exc`` itself when it is
    not objstore's business). ``role`` ("source", "destination") says which side of a copy ``r`` is."""
    url, name = r.url.url, r.profile.name
    if isinstance(exc, ObjstoreError):
        exc.url = exc.url or url
        exc.profile = exc.profile or name
        if role and exc.args and url not in str(exc):  # say which side of a copy it was
            exc.args = (f"the {role} {url}: {exc.args[0]}", *exc.args[1:])
        return exc
    if isinstance(exc, _PASS_THROUGH) or not isinstance(exc, Exception):
        return exc
    status = status_of(exc)
    fields: dict[str, Any] = {"url": url, "profile": name, "status": status}
    what = f"the {role} {url}" if role else url
    where = f"{what} (profile {name!r}, from {r.profile.source})"
    if isinstance(exc, FileNotFoundError) or status == 404:
        if not r.backend.is_local:
            fields["status"] = 404  # what the server answered, wherever the library hid it
        if bucket_missing(r):
            return BucketNotFoundError(
                f"{where}: the {r.backend.bucket_word} {r.url.bucket!r} does not exist. "
                f"{create_hint(r)}", **fields)
        return NotFoundError(f"nothing at {where}", **fields)
    if type(exc).__module__.startswith("botocore"):  # credentials botocore could not get
        from .backends._aws_credentials import credential_error  # imports botocore

        mapped = credential_error(exc, r.storage_options.get("profile"), where)
        if mapped is not None:
            mapped.url, mapped.profile = url, name
            return mapped
    hint = r.backend.credentials_hint
    if _forbidden(exc, status):
        anon = " (anonymous access: is it public?)" if getattr(r.profile, "anonymous", False) else ""
        then = f". Credentials: {hint}" if hint else ""
        return CredentialsError(f"access denied to {where}{anon}: {_short(exc)}{then}", **fields)
    if _missing_credentials(exc):
        return CredentialsError(f"no credentials for {where}: set {hint}", **fields)
    if isinstance(exc, ValueError) and not _foreign(exc):
        return exc  # the caller's mistake, said by the library that found it
    if status is None and _unreachable(exc):
        endpoint = r.profile.endpoint
        at = f" at {endpoint}" if "://" in endpoint else ""
        return RemoteError(f"cannot reach the server{at} for {where}: {type(exc).__name__}: "
                           f"{_short(exc)}. Check the endpoint and your network", **fields)
    if isinstance(exc, OSError) or _foreign(exc):
        said = f"the server answered {status}" if status else "the request failed"
        return RemoteError(f"{where}: {said}: {type(exc).__name__}: {_short(exc)}", **fields)
    return exc


@contextmanager
def mapped_errors(r: Resolved, role: str = "") -> Iterator[None]:
    """Re-raise failures of operations on ``r`` as objstore errors that name the URL and profile."""
    try:
        yield
    except Exception as exc:
        new = translated(exc, r, role)
        if new is exc:
            raise
        raise new from None
