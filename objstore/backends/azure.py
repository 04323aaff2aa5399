"""Azure Blob Storage through adlfs, always with a connection string built from the profile.

Why a connection string every time:

* adlfs fills every option you leave out from ``AZURE_STORAGE_*`` variables, and a connection
  string (even one from the environment) beats an explicit account key or SAS. Passing the profile's
  own connection string means the profile you chose is the one used, here and in dask workers.
* ``account_name``/``account_host`` options make adlfs build ``https://{host}`` URLs, which cannot
  reach an http endpoint such as Azurite; ``BlobEndpoint=`` can.
* Anonymous access is ``BlobEndpoint=...;`` with ``anon=True``: no credential chain is probed.

``use_listings_cache=False`` always: with adlfs's listings cache on, ``zarr.consolidate_metadata``
lists a directory cached before the chunks were written and writes *empty* consolidated metadata,
so the cube later opens with no variables.

Azure AD (``DefaultAzureCredential``, service principals) is adlfs's business: put ``anon = false``
or ``client_id``/``tenant_id``/``client_secret``/``credential`` in the profile's ``storage_options``
and objstore passes only the account.
"""

from __future__ import annotations

import base64
import shlex
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from ..errors import CredentialsError, InvalidURLError
from ..profiles import AzureProfile, Profile, Source
from ..retry import DEFAULT_MAX_CONCURRENCY
from ..urls import ObjectURL
from . import _obstore, azure_public, checksums
from .base import Backend, PublicResult
from .env import AZURE, TABLES, hint

if TYPE_CHECKING:
    from ..api import Resolved
    from ..registry import ProfileRegistry
    from ..retry import RetryPolicy

REQUIRES = ("adlfs",)

_CREDENTIAL_HELP = f"set {hint(AZURE)} (or AZURE_STORAGE_ANON=true for a public container)"
_ADLFS_AUTH = ("anon", "credential", "client_id", "client_secret", "tenant_id")


def storage_options(profile: Profile, url: ObjectURL) -> dict[str, Any]:
    if not isinstance(profile, AzureProfile):
        raise InvalidURLError(f"{url.url}: profile {profile.name!r} is a {profile.backend} profile")
    who = f"profile {profile.name or '(unnamed)'!r} (from {profile.source})"
    account = profile.account or url.account or None
    if url.account and profile.account and url.account.lower() != profile.account.lower():
        raise CredentialsError(
            f"{url.url} is in storage account {url.account!r} but {who} is for account "
            f"{profile.account!r}: pass profile= one for {url.account!r}, or none for anonymous access"
        )
    opts: dict[str, Any] = {"use_listings_cache": False}
    if profile.connection_string is not None:
        opts["connection_string"] = profile.connection_string.get_secret_value()
        return opts
    if any(k in profile.storage_options for k in _ADLFS_AUTH) and not profile.anonymous:
        if account:
            opts["account_name"] = account  # adlfs resolves the credential itself
        if profile.account_host:
            opts["account_host"] = profile.account_host
        return opts

    endpoint = _blob_endpoint(profile, url, account)
    if profile.anonymous:
        if not endpoint:
            raise CredentialsError(
                f"anonymous access to {url.url} needs the storage account: use "
                "https://ACCOUNT.blob.core.windows.net/container/key or "
                "abfs://container@ACCOUNT.dfs.core.windows.net/key, or set account_name "
                f"(AZURE_STORAGE_ACCOUNT_NAME) or endpoint_url in {who}"
            )
        opts["connection_string"] = f"BlobEndpoint={endpoint};"
        opts["anon"] = True
        return opts
    if profile.account_key is None and profile.sas_token is None:
        missing = "AZURE_STORAGE_ACCOUNT_KEY or AZURE_STORAGE_SAS_TOKEN (account_key or sas_token)"
        if account:
            raise CredentialsError(
                f"no credentials for {url.url}: {who} names account {account!r} but no key or SAS; "
                f"set {missing}, or anonymous = true for a public container"
            )
        raise CredentialsError(f"no credentials for {url.url} in {who}: {_CREDENTIAL_HELP}")
    if not endpoint:
        raise CredentialsError(
            f"{url.url}: {who} has an account key or SAS token but no account: set "
            "AZURE_STORAGE_ACCOUNT_NAME (account_name), or endpoint_url"
        )
    if profile.account_key is not None:
        if not account:
            raise CredentialsError(
                f"{url.url}: {who} has an account key but no account name: set "
                "AZURE_STORAGE_ACCOUNT_NAME (account_name)"
            )
        scheme = urlsplit(endpoint).scheme or "https"
        opts["connection_string"] = (
            f"DefaultEndpointsProtocol={scheme};AccountName={account};"
            f"AccountKey={profile.account_key.get_secret_value()};BlobEndpoint={endpoint};"
        )
        return opts
    assert profile.sas_token is not None
    sas = profile.sas_token.get_secret_value().lstrip("?")
    opts["connection_string"] = f"BlobEndpoint={endpoint};SharedAccessSignature={sas}"
    return opts


def _blob_endpoint(profile: AzureProfile, url: ObjectURL, account: str | None) -> str:
    """``http(s)://.../`` of the blob service, without a trailing slash ('' if unknown)."""
    if profile.endpoint_url:
        endpoint = profile.endpoint_url.rstrip("/")
        return endpoint if "://" in endpoint else f"https://{endpoint}"
    if profile.account_host:
        host = profile.account_host.rstrip("/")
        return host if "://" in host else f"https://{host}"
    if url.host and url.account:  # https://ACCOUNT.blob..., abfs://container@ACCOUNT.dfs...
        return f"https://{url.host.replace('.dfs.', '.blob.', 1)}"
    return f"https://{account}.blob.core.windows.net" if account else ""


class AzureBackend(Backend):
    """Azure Blob Storage (adlfs; obstore as an engine, the default where it can)."""

    name = "azure"
    library = "adlfs"
    protocols = ("az", "abfs", "abfss")
    extra = "azure"
    requires = REQUIRES
    profile_class = AzureProfile
    can_be_public = True
    env = AZURE
    bucket_word = "container"
    default_engine = "auto"  # obstore read and wrote about twice as fast as adlfs (performance.md)
    obstore_offered = True
    cors_fix = ("add a CORS rule for the Blob service of the account (az storage cors add "
                "--services b --methods GET HEAD OPTIONS --origins ORIGIN --allowed-headers '*')")
    def obstore_problem(self, protocol: str, options: Mapping[str, Any], *,
                        explicit: bool = True) -> str | None:
        return _obstore.azure_problem(options)

    def obstore_store(self, path: str, options: Mapping[str, Any], n: int, *,
                      checked: bool = True) -> Any:
        return _obstore.azure_store(path, options, n)


    async def put_with_wrong_md5(self, fs: Any, bucket: str, key: str, data: bytes,
                                 wrong: bytes) -> bool:
        async with fs.service_client.get_blob_client(bucket, key) as blob:
            try:
                await blob.upload_blob(data, overwrite=True,
                                       headers={"Content-MD5": base64.b64encode(wrong).decode()})
            except Exception as exc:
                if getattr(exc, "error_code", None) == "Md5Mismatch" or "md5" in str(exc).lower():
                    return True
                raise
        return False


    def storage_options(self, profile: Profile, url: ObjectURL) -> dict[str, Any]:
        return storage_options(profile, url)

    def filesystem_class(self, protocol: str) -> Any:
        from ._adlfs import AzureBlobFileSystem

        return AzureBlobFileSystem

    def md5(self, info: Mapping[str, Any]) -> str | None:
        return checksums.azure_md5(info)

    def closer(self, fs: Any) -> Callable[[], Coroutine[Any, Any, None]] | None:
        """adlfs leaves it to weakref finalizers that need a loop an async instance lacks."""
        from adlfs.utils import close_credential, close_service_client

        async def close_azure() -> None:
            await close_service_client(fs)
            await close_credential(fs)

        return close_azure

    def one_listing_options(self) -> dict[str, Any]:
        """Without ``return_glob`` an empty listing is followed by a HEAD and another listing."""
        return {"return_glob": True}

    def default_profile(self, registry: ProfileRegistry, parsed: ObjectURL) -> Profile:
        """A URL naming the account: a profile for that account, else anonymous. Otherwise
        ``azure-env``, then ``default``."""
        named = [p for p in (registry.named(TABLES["azure"][0], "azure"),
                             registry.named("default", "azure")) if p is not None]
        if parsed.account:
            others = [p for p in registry.profiles.values() if isinstance(p, AzureProfile)]
            for p in named + others:
                same = (p.account or "").lower() == parsed.account.lower()
                if isinstance(p, AzureProfile) and same:
                    return p
            return AzureProfile(
                name="(anonymous)", account_name=parsed.account, anonymous=True,
                source=Source(kind="default", location="account from the URL"),
            )
        if named:
            return named[0]
        raise CredentialsError(f"no Azure credentials for {parsed.url}: set {hint(AZURE)}, "
                               "or pass profile= an azure profile")

    def library_options(self, policy: RetryPolicy, options: dict[str, Any]) -> dict[str, Any]:
        """azure-core's retry policy and timeouts (through objstore's adlfs class)."""
        return {"connection_timeout": policy.timeout, "read_timeout": policy.timeout,
                "retry_total": policy.retries, **options}

    def checksums_off(self, options: dict[str, Any]) -> dict[str, Any]:
        """objstore's adlfs class sends no Content-MD5 and compares no read (``_adlfs``); the
        obstore engine writes and compares no MD5 metadata (``obstore_checksums``)."""
        return {"checksums": False, **options}

    def public_url(self, r: Resolved) -> str:
        key = quote(r.url.key, safe="/~")
        return azure_public.container_url(r) + (f"/{key}" if key else "")

    def make_public(self, r: Resolved, *, objects: list[str] | None = None,
                    concurrency: int = DEFAULT_MAX_CONCURRENCY) -> PublicResult:
        return azure_public.make_public(r)

    def make_private(self, r: Resolved) -> str:
        azure_public.set_access(r, None)
        return self.public_url(r)

    def create_bucket_command(self, r: Resolved) -> str | None:
        account = getattr(r.profile, "account", None)
        return f"az storage container create --name {shlex.quote(r.url.bucket)}" + (
            f" --account-name {shlex.quote(account)}" if account else "")


BACKEND = AzureBackend()
