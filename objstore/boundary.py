"""Map foreign errors (botocore, aiohttp, azure, google) to objstore's tree at the API boundary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from .errors import CredentialsError, ObjstoreError, RemoteError, scrub

if TYPE_CHECKING:
    from .api import Resolved

__all__ = ["mapped_errors", "scrub"]

_CREDENTIAL_HINTS = {
    "s3": "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or ~/.aws/credentials",
    "gcs": "GOOGLE_APPLICATION_CREDENTIALS, or a gcs profile with token_file, token or google_default",
    "azure": "AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_NAME with "
             "AZURE_STORAGE_ACCOUNT_KEY or AZURE_STORAGE_SAS_TOKEN",
    "swift": "ST_AUTH/ST_USER/ST_KEY or OS_AUTH_URL/OS_USERNAME/OS_PASSWORD",
}


def _credentials_missing(exc: BaseException) -> bool:
    name = type(exc).__name__
    return name in {"NoCredentialsError", "PartialCredentialsError", "DefaultCredentialsError",
                    "ClientAuthenticationError"}


def _denied(exc: BaseException) -> bool:
    """An azure/google/gcsfs answer 401/403 (gcsfs raises a plain ``OSError("Forbidden: ...")``)."""
    if type(exc).__module__.split(".")[0] not in {"azure", "google", "gcsfs"}:
        return isinstance(exc, OSError) and str(exc).startswith("Forbidden:")  # gcsfs
    status = getattr(exc, "status_code", None) or getattr(exc, "code", None)
    return status in (401, 403)


@contextmanager
def mapped_errors(r: Resolved) -> Iterator[None]:
    """Re-raise failures of ``r`` as objstore errors that name the URL and profile."""
    where = f"{r.url.url} (profile {r.profile.name!r}, from {r.profile.source})"
    hint = _CREDENTIAL_HINTS.get(r.url.backend, "")
    anon = " (anonymous access: is it public?)" if getattr(r.profile, "anonymous", False) else ""
    try:
        yield
    except ObjstoreError:
        raise
    except (FileNotFoundError, FileExistsError, KeyError, ValueError, TypeError):
        raise
    except Exception as exc:
        if isinstance(exc, PermissionError) or _denied(exc):
            raise CredentialsError(f"access denied to {where}{anon}: {_short(exc).rstrip('.')}. "
                                   f"Credentials: {hint}") from None
        if type(exc).__module__.startswith("botocore"):  # credentials botocore could not get
            from .backends._aws_credentials import credential_error

            mapped = credential_error(exc, r.storage_options.get("profile"), where)
            if mapped is not None:
                raise mapped from None
        if _credentials_missing(exc):
            raise CredentialsError(f"no credentials for {where}: set {hint}") from None
        if isinstance(exc, OSError) or type(exc).__module__.split(".")[0] in {
            "botocore", "aiohttp", "azure", "google", "requests", "swiftclient"}:
            raise RemoteError(f"{where}: {type(exc).__name__}: {_short(exc)}") from None
        raise




def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return scrub(text)[:300]
