"""Google Cloud Storage through gcsfs, with the two defaults gcsfs gets wrong set right.

* ``GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT``: gcsfs reads it once, when it is imported, and unless it is
  ``false`` every bucket operation first runs a gRPC "is this a zonal/HNS bucket" probe, which stalls
  about 60 s wherever the gRPC endpoint is unreachable (emulators, firewalled networks). This module
  sets it to ``false`` (unless you set it yourself) *before* anything imports gcsfs: objstore imports
  gcsfs only through this adapter (``fsspec.get_filesystem_class("gs")`` after this module ran).
* Credentials: gcsfs given no token tries ``google.auth.default()``, then the GCE metadata server
  (up to ~12 s where there is none). objstore's default GCS profile without credentials is
  anonymous (``token="anon"``, no probe); ``google_default = true`` is the explicit opt-in.

Token precedence in a profile: ``anonymous``, then ``token_file`` (a service-account or
authorized-user JSON file), then ``token`` (an OAuth2 access token), then ``google_default``;
nothing set means anonymous.

What dask workers receive: a ``token_file`` travels as its *path* (:class:`KeyFile`, google-auth
credentials read from the file on first use, refreshed by gcsfs before they expire): each worker
reads the file itself and gets its own tokens; the private key is never pickled. A ``token`` is
shipped as it is and cannot be refreshed; ``google_default`` makes each worker find its own.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shlex
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..errors import CredentialsError, InvalidURLError
from ..profiles import GCSProfile, Profile, Source
from ..retry import DEFAULT_MAX_CONCURRENCY
from ..urls import ObjectURL
from . import (
    _gcs_switch,  # noqa: F401 - before gcsfs is imported
    checksums,
    gcs_public,
)
from .base import Backend, PublicResult
from .env import GCS, TABLES

if TYPE_CHECKING:
    from ..api import Resolved
    from ..registry import ProfileRegistry
    from ..retry import RetryPolicy

REQUIRES = ("gcsfs",)

_warned_late_import = False


def storage_options(profile: Profile, url: ObjectURL) -> dict[str, Any]:
    if not isinstance(profile, GCSProfile):
        raise InvalidURLError(f"{url.url}: profile {profile.name!r} is a {profile.backend} profile")
    _warn_if_gcsfs_was_imported_too_early()
    opts: dict[str, Any] = {"token": _token(profile), "use_listings_cache": False}
    if profile.endpoint_url:
        endpoint = profile.endpoint_url.rstrip("/")
        opts["endpoint_url"] = endpoint if "://" in endpoint else f"http://{endpoint}"
    if profile.project:
        opts["project"] = profile.project
    if profile.requester_pays:
        opts["requester_pays"] = profile.requester_pays
    return opts


def _token(profile: GCSProfile) -> Any:
    if profile.anonymous:
        return "anon"
    if profile.token_file is not None:
        return _key_file_class()(_checked_token_file(profile), _where(profile,
                                                                   profile.token_file.expanduser()))
    if profile.token is not None:
        return _access_token(profile.token.get_secret_value())
    if profile.google_default:
        return "google_default"
    return "anon"  # never let gcsfs probe the metadata server behind the user's back


def _where(profile: GCSProfile, file: Path) -> str:
    if profile.source.kind == "env" and "GOOGLE_APPLICATION_CREDENTIALS" in profile.source.location:
        return f"GOOGLE_APPLICATION_CREDENTIALS={file}"
    return f"token_file {file} of profile {profile.name or '(unnamed)'!r} (from {profile.source})"


def _checked_token_file(profile: GCSProfile) -> str:
    """The file's path, after checking it is a readable Google credentials JSON file.

    gcsfs would otherwise take a missing path for a raw access token and send it to Google.
    """
    assert profile.token_file is not None
    file = profile.token_file.expanduser()
    where = _where(profile, file)
    if not file.exists():
        raise CredentialsError(f"{where}: no such file. Point it at a service-account JSON key file")
    try:
        info = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialsError(f"{where}: cannot read it ({type(exc).__name__})") from None
    except json.JSONDecodeError:
        raise CredentialsError(f"{where}: not a JSON credentials file") from None
    if not isinstance(info, dict) or "type" not in info:
        raise CredentialsError(
            f"{where}: not a Google credentials file (no 'type'; expected a service-account key)"
        )
    _check_credentials_fields(info, where)
    return str(file)


#: The fields gcsfs needs from each kind of credentials file it understands.
_REQUIRED = {
    "service_account": ("client_email", "private_key", "token_uri"),
    "authorized_user": ("client_id", "client_secret", "refresh_token"),
}


def _check_credentials_fields(info: dict[str, Any], where: str) -> None:
    """CredentialsError naming what is missing or wrong (never a value) in a credentials file."""
    kind = info.get("type")
    if kind not in _REQUIRED:
        raise CredentialsError(
            f"{where}: credentials of type {str(kind)[:40]!r} are not supported; use a "
            "service-account key (type 'service_account') or gcloud's authorized_user file")
    missing = [k for k in _REQUIRED[kind] if not isinstance(info.get(k), str) or not info[k]]
    if missing:
        raise CredentialsError(f"{where}: this {kind} file lacks {', '.join(missing)}: download "
                               "the key file again")
    if kind == "service_account":
        from google.oauth2 import service_account

        try:
            service_account.Credentials.from_service_account_info(info)
        except ValueError:
            raise CredentialsError(f"{where}: its private_key is not a valid PEM private key: "
                                   "download the key file again") from None


def _access_token(token: str) -> Any:
    """An OAuth2 access token as google-auth credentials (picklable, never refreshed).

    Passed as a string, gcsfs would first ask https://oauth2.googleapis.com/tokeninfo for its expiry.
    """
    return _access_token_class()(token)


class _FingerprintRepr:
    """A repr that fingerprints the token (stable: objstore's filesystem cache key) and hides it."""

    token: str | None

    def __repr__(self) -> str:
        digest = hashlib.sha256((self.token or "").encode()).hexdigest()[:12]
        return f"AccessToken(sha256:{digest})"

    __str__ = __repr__


def _access_token_class() -> type:
    """``AccessToken``: made on first use, so importing this module never needs google-auth."""
    cls = globals().get("AccessToken")
    if cls is None:
        from google.oauth2.credentials import Credentials

        cls = type("AccessToken", (_FingerprintRepr, Credentials), {"__module__": __name__})
        globals()["AccessToken"] = cls
    return cls


#: gcsfs's default scope (``access="full_control"``); user credentials keep the scopes they have
SCOPE = "https://www.googleapis.com/auth/devstorage.full_control"


class _KeyFileMixin:
    """Credentials read from a Google JSON key file on first refresh; pickle as the path only."""

    token: str | None
    expiry: Any

    def __init__(self, path: str, where: str = "") -> None:
        super().__init__()  # type: ignore[call-arg]
        self.path, self.where = str(path), where
        self._inner: Any = None

    def refresh(self, request: Any) -> None:
        inner = self._loaded()
        inner.refresh(request)
        self.token, self.expiry = inner.token, inner.expiry

    # google.auth.credentials.Signing, for signed URLs (service-account keys only)
    def sign_bytes(self, message: bytes) -> bytes:
        return self._loaded().sign_bytes(message)

    @property
    def signer_email(self) -> str | None:
        return self._loaded().signer_email

    @property
    def signer(self) -> Any:
        return self._loaded().signer

    def _loaded(self) -> Any:
        if self._inner is None:
            self._inner = self._load()
        return self._inner

    def _load(self) -> Any:
        from google.oauth2 import credentials, service_account

        try:
            info = json.loads(Path(self.path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise CredentialsError(
                f"{self.where or self.path}: cannot read it in this process (a dask worker?): "
                f"{exc.strerror}. Put the file at the same path on every worker") from None
        kind = info.get("type") if isinstance(info, dict) else None
        if kind == "service_account":
            return service_account.Credentials.from_service_account_info(info, scopes=[SCOPE])
        if kind == "authorized_user":  # scopes as granted at login
            return credentials.Credentials.from_authorized_user_info(info)
        raise CredentialsError(
            f"{self.where or self.path}: a {kind!r} credentials file; token_file takes a "
            "service-account key or an authorized-user file (for others set "
            "GOOGLE_APPLICATION_CREDENTIALS and google_default = true)")

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "where": self.where}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], state["where"])  # type: ignore[misc]

    def __fspath__(self) -> str:
        return self.path

    def __eq__(self, other: object) -> bool:  # the same key file (also after pickling)
        return type(other) is type(self) and other.path == self.path  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self.path)

    def __repr__(self) -> str:  # also objstore's filesystem cache key
        return f"KeyFile({self.path!r})"

    __str__ = __repr__


def _key_file_class() -> type:
    """``KeyFile``: made on first use, so importing this module never needs google-auth."""
    cls = globals().get("KeyFile")
    if cls is None:
        from google.auth.credentials import Credentials, Signing

        cls = type("KeyFile", (_KeyFileMixin, Credentials, Signing), {"__module__": __name__})
        globals()["KeyFile"] = cls
    return cls


def __getattr__(name: str) -> Any:  # unpickling in a fresh (dask worker) process
    if name == "AccessToken":
        return _access_token_class()
    if name == "KeyFile":
        return _key_file_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _warn_if_gcsfs_was_imported_too_early() -> None:
    global _warned_late_import
    gcsfs = sys.modules.get("gcsfs")
    if gcsfs is None or _warned_late_import:
        return
    if getattr(gcsfs, "GCSFileSystem", None) is not None and \
            gcsfs.GCSFileSystem.__name__ == "ExtendedGcsFileSystem":
        _warned_late_import = True
        warnings.warn(
            "gcsfs was imported before objstore with GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT enabled: "
            "bucket operations may stall ~60 s on a gRPC probe. Import objstore first, or export "
            "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false.",
            stacklevel=4,
        )


#: Why ``engine = "obstore"`` is refused for GCS. Tried against the test suite's emulator
#: (gcp-storage-emulator 2026.7.19) with obstore 0.12.1: object_store's GCS client speaks the XML
#: API, and the emulator answers ``PUT /{bucket}/{object}`` without an ``ETag`` header and
#: ``GET /{bucket}/{object}`` without ``Last-Modified`` (obstore: "ETag Header missing from
#: response", "Last-Modified Header missing from response"), and ``HEAD /{bucket}/{object}``,
#: ``DELETE /{bucket}/{object}`` and the listing ``GET /{bucket}?list-type=2`` with 501 Not
#: Implemented. Nothing of it could be tested, so it is not offered. (Also: object_store signs
#: its own JWT from a service-account file and never calls the file's ``token_uri``.)
GCS_NOT_OFFERED = (
    "the obstore engine is not offered for GCS (gs://): obstore's GCS client (XML API: HEAD, "
    "DELETE and ?list-type=2 listings, ETag/Last-Modified headers) cannot be tested against the "
    "GCS emulator, which does not implement those requests, so objstore does not use it; use "
    'engine = "fsspec" (gcsfs) or "auto" for GCS profiles'
)


class GCSBackend(Backend):
    """Google Cloud Storage (gcsfs)."""

    name = "gcs"
    library = "gcsfs"
    protocols = ("gs", "gcs")
    extra = "gcs"
    requires = REQUIRES
    profile_class = GCSProfile
    can_be_public = True
    env = GCS
    cors_fix = ("set a CORS configuration on the bucket (gcloud storage buckets update gs://BUCKET "
                "--cors-file=cors.json)")
    def obstore_problem(self, protocol: str, options: Mapping[str, Any], *,
                        explicit: bool = True) -> str | None:
        return GCS_NOT_OFFERED


    async def put_with_wrong_md5(self, fs: Any, bucket: str, key: str, data: bytes,
                                 wrong: bytes) -> bool:
        meta = json.dumps({"name": key, "md5Hash": base64.b64encode(wrong).decode()})
        body = (f"--==0==\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{meta}\r\n"
                "--==0==\r\nContent-Type: application/octet-stream\r\n\r\n").encode() + data + \
            b"\r\n--==0==--"
        try:
            await fs._call("POST", f"{fs._location}/upload/storage/v1/b/{quote(bucket)}/o",
                           uploadType="multipart", data=body,
                           headers={"Content-Type": 'multipart/related; boundary="==0=="'})
        except (OSError, ValueError) as exc:
            if any(w in str(exc).lower() for w in ("md5", "hash", "checksum", "digest")):
                return True
            raise
        except Exception as exc:  # gcsfs's HttpError
            if getattr(exc, "code", None) == 400:
                return True
            raise
        return False


    @property
    def credentials_hint(self) -> str:
        return (super().credentials_hint
                + ", or a gcs profile with token_file, token or google_default")

    def storage_options(self, profile: Profile, url: ObjectURL) -> dict[str, Any]:
        return storage_options(profile, url)

    def filesystem_class(self, protocol: str) -> Any:
        from ._gcsfs import GCSFileSystem

        return GCSFileSystem

    def md5(self, info: Mapping[str, Any]) -> str | None:
        return checksums.gcs_md5(info)

    def default_profile(self, registry: ProfileRegistry, parsed: ObjectURL) -> Profile:
        """``gcs-env``, then ``default``, then anonymous (never the GCE metadata server)."""
        return (
            registry.named(TABLES["gcs"][0], "gcs")
            or registry.named("default", "gcs")
            or GCSProfile(name="(anonymous)", anonymous=True, source=Source(kind="default"))
        )

    def library_options(self, policy: RetryPolicy, options: dict[str, Any]) -> dict[str, Any]:
        """aiohttp timeouts, checks of uploads and downloads (CRC32C, MD5 for uploads from
        100 MiB), and ``retries`` for objstore's gcsfs class (backends/_gcsfs.py)."""
        import aiohttp

        t = policy.timeout
        # gcsfs hands it to every request (a number there would bound the whole transfer)
        return {"requests_timeout": aiohttp.ClientTimeout(sock_connect=t, sock_read=t),
                "consistency": "md5", "retries": policy.retries, **options}

    def checksums_off(self, options: dict[str, Any]) -> dict[str, Any]:
        """Neither gcsfs nor objstore's gcsfs class compares an upload's or a read's checksum."""
        return {"consistency": "none", "checksums": False, **options}

    def public_url(self, r: Resolved) -> str:
        endpoint = r.storage_options.get("endpoint_url") or "https://storage.googleapis.com"
        key = quote(r.url.key, safe="/~")
        return f"{endpoint.rstrip('/')}/{r.url.bucket}" + (f"/{key}" if key else "")

    def make_public(self, r: Resolved, *, objects: list[str] | None = None,
                    concurrency: int = DEFAULT_MAX_CONCURRENCY) -> PublicResult:
        return gcs_public.make_public(r)

    def make_private(self, r: Resolved) -> str:
        gcs_public.make_private(r)
        return self.public_url(r)

    def create_bucket_command(self, r: Resolved) -> str | None:
        return f"gcloud storage buckets create gs://{shlex.quote(r.url.bucket)}"


BACKEND = GCSBackend()
