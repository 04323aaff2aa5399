"""One error tree for objstore. Each error also inherits the builtin it resembles.

    ObjstoreError
     +-- ConfigError (ValueError)             a malformed config file or profile: names the file and line
     +-- ProfileNotFoundError (KeyError)      names the profiles that exist and the sources searched
     +-- CredentialsError (PermissionError)   missing or rejected credentials: names the variable or file
     +-- InvalidURLError (ValueError)         a URL objstore cannot parse: says what is wrong
     +-- BackendNotInstalledError (ImportError)  names the extra to install
     +-- CubeExistsError (FileExistsError)    refusing to overwrite; says what is there
     +-- CubeNotFoundError (FileNotFoundError)
     +-- RemoteError (OSError)                the server answered with an error (5xx, 404 on a container, ...)

Messages never contain secrets: build them from profile names, sources and URLs only.
"""

from __future__ import annotations

__all__ = [
    "ObjstoreError",
    "ConfigError",
    "ProfileNotFoundError",
    "CredentialsError",
    "InvalidURLError",
    "BackendNotInstalledError",
    "CubeExistsError",
    "CubeNotFoundError",
    "RemoteError",
]


class ObjstoreError(Exception):
    """Base class of every error objstore raises on purpose."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else self.__class__.__name__


class ConfigError(ObjstoreError, ValueError):
    pass


class ProfileNotFoundError(ObjstoreError, KeyError):
    pass


class CredentialsError(ObjstoreError, PermissionError):
    pass


class InvalidURLError(ObjstoreError, ValueError):
    pass


class BackendNotInstalledError(ObjstoreError, ImportError):
    pass


class CubeExistsError(ObjstoreError, FileExistsError):
    pass


class CubeNotFoundError(ObjstoreError, FileNotFoundError):
    pass


class RemoteError(ObjstoreError, OSError):
    pass
