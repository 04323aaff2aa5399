"""Profiles: one pydantic model per backend, secrets as ``SecretStr``, provenance on every profile.

A profile says *who you are and where*; :mod:`objstore.backends` turns it into the plain fsspec
``storage_options`` dict. Field descriptions name the environment variable or file key each field
mirrors. ``model_dump(mode="json")`` and ``repr`` redact every secret.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    field_validator,
    model_validator,
)

from .urls import _SCHEMES

__all__ = [
    "Source",
    "S3Profile",
    "GCSProfile",
    "AzureProfile",
    "SwiftProfile",
    "HTTPProfile",
    "LocalProfile",
    "Profile",
    "PROFILE_ADAPTER",
    "redacted",
    "check_endpoint",
    "check_connection_string",
]


def check_endpoint(value: str | None) -> str | None:
    """``value`` if it is an http(s) URL (``host:port`` alone means http); ValueError otherwise.

    The message never repeats the value: it may come from a variable that also holds secrets.
    """
    if value is None:
        return value
    text = value.strip()
    try:
        parts = urlsplit(text if "://" in text else f"http://{text}")
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError("not a URL: expected e.g. https://host or http://127.0.0.1:9000") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in text):
        raise ValueError("not a URL: expected e.g. https://host or http://127.0.0.1:9000")
    return text


def check_connection_string(text: str) -> None:
    """ValueError unless ``text`` is ``Key=Value;`` pairs naming an AccountName or BlobEndpoint
    (the message never repeats the text, which holds the account key)."""
    parts = [part for part in text.split(";") if part.strip()]
    if not parts or any("=" not in part or not part.partition("=")[0].strip() for part in parts):
        raise ValueError("malformed Azure connection string: expected name=value pairs separated "
                         "by ';' (copy it from the portal: Storage account > Access keys)")
    fields = connection_string_fields(text)
    if not (fields.get("accountname") or fields.get("blobendpoint")):
        raise ValueError("Azure connection string without AccountName= or BlobEndpoint=")
    if fields.get("blobendpoint"):
        try:
            check_endpoint(fields["blobendpoint"].split("?")[0])
        except ValueError:
            raise ValueError("Azure connection string: BlobEndpoint is not a URL") from None


def _check_match(backend: str, patterns: list[str]) -> list[str]:
    """Each ``match`` pattern must be able to match this backend's URLs (by scheme)."""
    for pattern in patterns:
        scheme, sep, _ = pattern.partition("://")
        if not sep or any(c in scheme for c in "*?["):
            continue  # no scheme, or a wildcard one: may match anything
        if scheme.lower() in ("http", "https"):
            continue  # https URLs of any backend are recognised by their host
        if _SCHEMES.get(scheme.lower()) != backend:
            schemes = sorted(s for s, b in _SCHEMES.items() if b == backend) or [backend]
            raise ValueError(
                f"pattern {pattern!r} is for {scheme}:// URLs, not for this {backend} profile "
                f"(expected {' or '.join(s + '://' for s in schemes)})")
    return patterns


class Source(BaseModel):
    """Where a profile came from: ``kind`` (toml, aws-config, env, preset, ...) and ``location``."""

    model_config = ConfigDict(frozen=True)

    kind: str
    location: str = ""

    def __str__(self) -> str:
        return f"{self.kind}: {self.location}" if self.location else self.kind


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    name: str = Field("", description="Profile name (the TOML table name, AWS profile name, ...)")
    match: list[str] = Field(
        default_factory=list,
        description="URL glob patterns this profile applies to, e.g. 's3://Pangeo/*'; longest wins",
    )
    source: Source = Field(default_factory=lambda: Source(kind="code"), description="Provenance")
    storage_options: dict[str, Any] = Field(
        default_factory=dict, description="Extra fsspec storage options, passed through as given"
    )
    max_concurrency: int | None = Field(
        None, ge=1, description="Requests kept in flight for reads and writes (default: measured)"
    )
    # reliability (objstore/retry.py): per-request retries and waits
    retries: int | None = Field(
        None, ge=0, description="Retries of a failed request (default 8; objstore.retry)"
    )
    timeout: float | None = Field(
        None, gt=0, description="Seconds to connect and between bytes read (default 20)"
    )
    engine: Literal["auto", "fsspec", "obstore"] | None = Field(
        None, description="I/O engine for zarr stores: fsspec, obstore (S3, Azure) or auto "
        "(default: auto on Azure, fsspec elsewhere; objstore profiles show says which); "
        "OBJSTORE_ENGINE"
    )
    cache: bool | str | None = Field(
        None, description="Keep chunks read by open_cube on local disk: true (the user cache "
        "folder) or a folder path (objstore.cache)"
    )
    cache_size: int | str | None = Field(
        None, description="Upper bound of the chunk cache folder, bytes or '20GB' (default 10 GiB)"
    )
    checksums: bool = Field(
        True, description="Check each object's bytes end to end (MD5/CRC32 on PUT and GET, "
        "docs/reliability.md); false turns off every check objstore adds, to save CPU"
    )

    @property
    def endpoint(self) -> str:
        """The endpoint to show in listings."""
        return ""

    @model_validator(mode="after")
    def _match_fits_backend(self) -> Any:
        _check_match(str(getattr(self, "backend", "")), self.match)
        return self

    def __repr_args__(self):  # type: ignore[no-untyped-def]
        for k, v in super().__repr_args__():
            yield (k, _redact_options(v) if k == "storage_options" else v)


class S3Profile(_Base):
    backend: Literal["s3"] = "s3"
    aws_profile: str | None = Field(None, description="AWS profile name (AWS_PROFILE / [profile x])")
    key: SecretStr | None = Field(None, description="AWS_ACCESS_KEY_ID / aws_access_key_id")
    secret: SecretStr | None = Field(None, description="AWS_SECRET_ACCESS_KEY / aws_secret_access_key")
    token: SecretStr | None = Field(None, description="AWS_SESSION_TOKEN / aws_session_token")
    region: str | None = Field(None, description="AWS_REGION / AWS_DEFAULT_REGION / region")
    endpoint_url: str | None = Field(
        None, description="AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL / endpoint_url (OSN, Ceph, MinIO)"
    )
    anonymous: bool = Field(False, description="Unsigned requests, for public buckets")
    requester_pays: bool = Field(False, description="Send x-amz-request-payer")

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint_is_a_url(cls, value: str | None) -> str | None:
        return check_endpoint(value)

    @property
    def endpoint(self) -> str:
        return self.endpoint_url or "aws"


class GCSProfile(_Base):
    backend: Literal["gcs"] = "gcs"
    token_file: Path | None = Field(
        None, description="Service-account JSON file (GOOGLE_APPLICATION_CREDENTIALS)"
    )
    token: SecretStr | None = Field(None, description="An OAuth2 access token")
    google_default: bool = Field(False, description="Use google.auth.default() credentials")
    anonymous: bool = Field(False, description="Unauthenticated access to public buckets")
    endpoint_url: str | None = Field(None, description="STORAGE_EMULATOR_HOST or a custom endpoint")
    project: str | None = Field(None, description="GOOGLE_CLOUD_PROJECT")
    requester_pays: bool | str = Field(False, description="Bill requests to the project")

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint_is_a_url(cls, value: str | None) -> str | None:
        return check_endpoint(value)

    @property
    def endpoint(self) -> str:
        return self.endpoint_url or "gcs"


def connection_string_fields(text: str) -> dict[str, str]:
    """An Azure connection string's ``Key=Value;`` fields, keys lower-cased (values may hold
    ``=``; parts without one are skipped)."""
    pairs = (part.partition("=") for part in text.split(";"))
    return {k.strip().lower(): v.strip() for k, sep, v in pairs if sep and k.strip()}


def blob_host_account(url: str) -> str | None:
    """``ACCOUNT`` of an ``https://ACCOUNT.blob.core.windows.net/...`` URL, else None."""
    host = urlsplit(url).hostname or ""
    return host.split(".")[0] if ".blob." in host else None


class AzureProfile(_Base):
    backend: Literal["azure"] = "azure"
    account_name: str | None = Field(None, description="AZURE_STORAGE_ACCOUNT_NAME")
    account_key: SecretStr | None = Field(None, description="AZURE_STORAGE_ACCOUNT_KEY")
    sas_token: SecretStr | None = Field(None, description="AZURE_STORAGE_SAS_TOKEN")
    connection_string: SecretStr | None = Field(
        None, description="AZURE_STORAGE_CONNECTION_STRING"
    )
    anonymous: bool = Field(
        False, description="Anonymous access to public containers (AZURE_STORAGE_ANON)")
    account_host: str | None = Field(None, description="Custom account host")
    endpoint_url: str | None = Field(
        None, description="Blob endpoint, e.g. http://127.0.0.1:10000/devstoreaccount1 (Azurite)"
    )

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint_is_a_url(cls, value: str | None) -> str | None:
        return check_endpoint(value)

    @field_validator("connection_string")
    @classmethod
    def _connection_string_parses(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_connection_string(value.get_secret_value())
        return value

    @property
    def account(self) -> str | None:
        """The storage account: ``account_name``, else the connection string's AccountName or
        ``ACCOUNT.blob...`` BlobEndpoint host."""
        if self.account_name:
            return self.account_name
        fields = self.connection_string_fields()
        if fields.get("accountname"):
            return fields["accountname"]
        return blob_host_account(fields.get("blobendpoint", ""))

    def connection_string_fields(self) -> dict[str, str]:
        """The connection string's ``Key=Value`` pairs, keys lower-cased (secrets included)."""
        if self.connection_string is None:
            return {}
        return connection_string_fields(self.connection_string.get_secret_value())

    @property
    def endpoint(self) -> str:
        if self.endpoint_url or self.account_host:
            return self.endpoint_url or self.account_host or ""
        if blob := self.connection_string_fields().get("blobendpoint"):
            return blob.split("?")[0]  # never a query (SAS) part
        return f"{self.account}.blob.core.windows.net" if self.account else "azure"


class SwiftProfile(_Base):
    backend: Literal["swift"] = "swift"
    auth_url: str | None = Field(None, description="ST_AUTH (v1) or OS_AUTH_URL (Keystone v3)")
    auth_version: Literal["1", "2", "3"] = Field("1", description="OS_IDENTITY_API_VERSION")
    user: str | None = Field(None, description="ST_USER or OS_USERNAME")
    key: SecretStr | None = Field(None, description="ST_KEY or OS_PASSWORD")
    storage_url: str | None = Field(None, description="OS_STORAGE_URL (pre-authenticated)")
    token: SecretStr | None = Field(None, description="OS_AUTH_TOKEN (pre-authenticated)")
    project_name: str | None = Field(None, description="OS_PROJECT_NAME")
    project_id: str | None = Field(None, description="OS_PROJECT_ID")
    user_domain_name: str | None = Field(None, description="OS_USER_DOMAIN_NAME")
    project_domain_name: str | None = Field(None, description="OS_PROJECT_DOMAIN_NAME")
    region_name: str | None = Field(None, description="OS_REGION_NAME")
    token_lifetime: int | None = Field(
        None, ge=60, description="Requested token lifetime in seconds (X-Auth-Lifetime)"
    )
    segment_size: int | None = Field(
        None, ge=1, description="Objects above this size upload as static large objects"
    )
    anonymous: bool = Field(False, description="Anonymous reads of public containers")

    @field_validator("auth_url", "storage_url")
    @classmethod
    def _urls(cls, value: str | None) -> str | None:
        if value is not None and "://" not in value:
            raise ValueError("not a URL: expected e.g. https://swift.example.org/auth/v1.0")
        return check_endpoint(value)

    @property
    def endpoint(self) -> str:
        return self.storage_url or self.auth_url or ""


class HTTPProfile(_Base):
    backend: Literal["http"] = "http"
    headers: dict[str, SecretStr] = Field(default_factory=dict, description="Request headers")

    @property
    def endpoint(self) -> str:
        return "http"


class LocalProfile(_Base):
    backend: Literal["file", "memory"] = "file"


Profile = Annotated[
    S3Profile | GCSProfile | AzureProfile | SwiftProfile | HTTPProfile | LocalProfile,
    Field(discriminator="backend"),
]
PROFILE_ADAPTER: TypeAdapter[Profile] = TypeAdapter(Profile)


_SECRET_WORDS = ("secret", "key", "token", "password", "credential", "sas", "signature", "auth")


def _redact_options(options: Any) -> Any:
    if not isinstance(options, dict):
        return options
    return {
        k: "**********" if any(w in str(k).lower() for w in _SECRET_WORDS) else _redact_options(v)
        for k, v in options.items()
    }


def redacted(profile: BaseModel) -> dict[str, Any]:
    """A JSON-ready dict of the profile with every secret shown as ``**********``."""
    data = profile.model_dump(mode="json", exclude_none=True)
    if "storage_options" in data:
        data["storage_options"] = _redact_options(data["storage_options"])
    return data
