"""One error tree for objstore. Each error also inherits the builtin it resembles.

    ObjstoreError                               .url .profile .status where known
     +-- ConfigError (ValueError)               a malformed config file or profile: names the file and line
     |    +-- SourceError                       publish's source is not something it can read
     |    +-- CatalogError                      a catalog that is not intake/STAC, or fails validation
     +-- ProfileNotFoundError (KeyError)        names the profiles that exist and the sources searched
     +-- CredentialsError (PermissionError)     missing or rejected credentials: names the variable or file
     |    +-- AuthMissingParameter (KeyError)   zarrswift's name for missing Swift credentials
     |    +-- ScratchPrefixError                a scratch write outside your own prefix
     |    +-- PublicReadError                   published and made public, but anonymous readers fail
     +-- InvalidURLError (ValueError)           a URL objstore cannot parse: says what is wrong
     +-- BackendNotInstalledError (ImportError) names the extra to install
     +-- CubeExistsError (FileExistsError)      refusing to overwrite; says what is there
     +-- CatalogExistsError (FileExistsError)   refusing to overwrite a catalog file
     +-- NotFoundError (FileNotFoundError)      nothing at the URL
     |    +-- CubeNotFoundError                 no cube at the URL
     |    +-- BucketNotFoundError               the bucket or container itself is missing
     +-- NotACubeError (ValueError)             something is there, but not a zarr cube: says what
     +-- InterruptedWriteError (OSError)        a write that did not finish: when, and how to finish it
     +-- RemoteError (OSError)                  the server answered with an error, or the network failed
     |    +-- VerificationError                 what the store holds differs from the source
     +-- ViewError (ValueError)                 a plot or group-by request objstore refuses: says why (400)
          +-- ViewTooLargeError                 the request would compute more than the limit (413)

One warning category:

    NotAtomicWarning (UserWarning)              this server does not make conditional creates
                                                atomic: two writers of one URL can both go ahead

Messages never contain secrets: build them from profile names, sources and URLs only, and pass
any foreign text through :func:`scrub`.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "ObjstoreError",
    "ConfigError",
    "SourceError",
    "CatalogError",
    "ProfileNotFoundError",
    "CredentialsError",
    "AuthMissingParameter",
    "ScratchPrefixError",
    "PublicReadError",
    "InvalidURLError",
    "BackendNotInstalledError",
    "CubeExistsError",
    "CatalogExistsError",
    "NotFoundError",
    "CubeNotFoundError",
    "BucketNotFoundError",
    "NotACubeError",
    "InterruptedWriteError",
    "RemoteError",
    "VerificationError",
    "ViewError",
    "ViewTooLargeError",
    "scrub",
    "NotAtomicWarning",
]


class ObjstoreError(Exception):
    """Base class of every error objstore raises on purpose.

    ``url``, ``profile`` (a name, never a secret) and ``status`` (an HTTP status) are set where known.
    """

    url: str | None = None
    profile: str | None = None
    status: int | None = None

    def __init__(self, message: str = "", *args: Any, url: str | None = None,
                 profile: str | None = None, status: int | None = None) -> None:
        super().__init__(message, *args)
        if url is not None:
            self.url = url
        if profile is not None:
            self.profile = profile
        if status is not None:
            self.status = status

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else self.__class__.__name__


class ConfigError(ObjstoreError, ValueError):
    pass


class SourceError(ConfigError):
    """The source is not something publish can read (or its metadata contradicts its data)."""


class CatalogError(ConfigError):
    """A catalog file that is not an intake catalog, or STAC that fails schema validation."""


class ProfileNotFoundError(ObjstoreError, KeyError):
    pass


class CredentialsError(ObjstoreError, PermissionError):
    pass


class AuthMissingParameter(CredentialsError, KeyError):
    """zarrswift's name for missing credentials (also a :class:`CredentialsError`)."""


class ScratchPrefixError(CredentialsError):
    """A write into the shared scratch bucket outside your own prefix."""


class PublicReadError(CredentialsError):
    """The cube was published and made public, but an anonymous reader cannot open it."""


class InvalidURLError(ObjstoreError, ValueError):
    pass


class BackendNotInstalledError(ObjstoreError, ImportError):
    pass


class CubeExistsError(ObjstoreError, FileExistsError):
    pass


class CatalogExistsError(ObjstoreError, FileExistsError):
    """A catalog is already where a new one would be written."""


class NotFoundError(ObjstoreError, FileNotFoundError):
    """Nothing at the URL."""


class CubeNotFoundError(NotFoundError):
    pass


class BucketNotFoundError(NotFoundError):
    """The bucket or container named by the URL does not exist."""


class NotACubeError(ObjstoreError, ValueError):
    """Something is at the URL, but it is not a zarr cube (a NetCDF file, a plain folder, ...)."""


class InterruptedWriteError(ObjstoreError, OSError):
    """The cube at the URL is a write that did not finish; the message says how to finish it."""


class RemoteError(ObjstoreError, OSError):
    pass


class VerificationError(RemoteError):
    """What the store holds differs from the source (missing objects, sizes, checksums)."""

    def __init__(self, message: str, report: Any = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.report = report


class ViewError(ObjstoreError, ValueError):
    """A plot or group-by request that cannot be served as asked: an unknown variable, coordinate,
    kind or colormap, a malformed selection, or missing selections; the message says what to send."""

    status = 400


class ViewTooLargeError(ViewError):
    """The request would compute or return more than the limit; the message names the limit."""

    status = 413


class NotAtomicWarning(UserWarning):
    """The server does not make conditional creates atomic (it ignores the condition, or checks it
    without a lock): two ``write_cube(mode="w-")`` to one URL at the same moment can both go
    ahead. Said once per store (objstore/conditional.py)."""


# Secrets that foreign messages may carry: SAS signatures and tokens in URLs, account keys in
# connection strings, bearer tokens and AWS signatures.
_SECRETS = re.compile(
    r"(?i)((?:sig|signature|x-amz-signature|x-amz-security-token|token|access_token|key)=)[^&;\s'\"]+"
    r"|(AccountKey=)[^;\s'\"]+|(Bearer\s+)[^\s'\"]+"
)


def scrub(text: str) -> str:
    """``text`` with SAS signatures, tokens, account keys and bearer tokens replaced by ``***``."""
    return _SECRETS.sub(lambda m: (m.group(1) or m.group(2) or m.group(3)) + "***", text)
