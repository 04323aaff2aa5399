"""The obstore I/O engine: zarr's ``ObjectStore`` over obstore's Rust stores, built from the same
storage options the fsspec engine gets (see :func:`objstore.perf.engine` for when it is used).

* **S3** (``s3://``): an ``obstore.store.S3Store`` from the s3fs options (keys or anonymous;
  endpoint, region, requester pays; an AWS profile or the ambient chain through boto3).
* **Azure** (``az://``): an ``obstore.store.AzureStore`` from the connection string the Azure
  adapter always builds (``AccountName``, ``AccountKey``, ``SharedAccessSignature``,
  ``BlobEndpoint``, ``DefaultEndpointsProtocol``, ``EndpointSuffix``, ``UseDevelopmentStorage``).
  The key or SAS is handed over as a *credential provider*, not as config: object_store reads
  ``AZURE_STORAGE_*`` variables too, and an ``AZURE_STORAGE_ACCOUNT_KEY`` in the environment would
  otherwise beat a profile's SAS; a provider beats every variable, so the profile you chose is the
  one used.
* **GCS** is not offered (:data:`objstore.perf.GCS_NOT_OFFERED` says why).

obstore's exceptions become the builtin ones fsspec raises (:func:`_translate`), which objstore's
boundary maps to its own; their text is scrubbed of secrets, and no repr shows a key or SAS.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .backends._aws_provider import AwsProfileCredentials
from .errors import ConfigError, scrub
from .obstore_checksums import ChecksummedObjectStore
from .perf import GCS_NOT_OFFERED, OBSTORE_AZURE_PROTOCOLS, problem
from .profiles import blob_host_account, connection_string_fields
from .retry import obstore_config

if TYPE_CHECKING:
    from zarr.abc.store import Store

__all__ = ["obstore_store", "problem", "ObstoreStore", "GCS_NOT_OFFERED", "translated_errors"]

# Azurite's well-known development account (UseDevelopmentStorage=true); public, not a secret.
_DEV_ACCOUNT = "devstoreaccount1"
_DEV_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
            "KBHBeksoGMGw==")


# ------------------------------------------------------------------------------ stores
def obstore_store(protocol: str, path: str, options: Mapping[str, Any], n: int,
                  read_only: bool = False) -> Store:
    """zarr's ``ObjectStore`` over an obstore store for ``protocol``, with a connection pool of
    ``n`` idle connections per host; :class:`~objstore.errors.ConfigError` if obstore cannot do
    exactly what ``options`` say."""
    why = problem(protocol, options)
    if why:
        raise ConfigError(why)
    if protocol in OBSTORE_AZURE_PROTOCOLS:
        return ObstoreStore(_azure_store(path, options, n), read_only=read_only)
    return ObstoreStore(_s3_store(path, options, n), read_only=read_only)


def _client_options(n: int, endpoint: str | None, options: Mapping[str, Any]
                    ) -> tuple[Any, Any]:  # obstore ClientConfig and RetryConfig
    timeouts, retry = obstore_config(options)
    client: dict[str, Any] = {"pool_max_idle_per_host": str(n), **timeouts}
    if endpoint and endpoint.startswith("http://"):
        client["allow_http"] = "true"
    return client, retry


def _s3_store(path: str, options: Mapping[str, Any], n: int) -> Any:
    """An ``S3Store`` from the s3fs storage options."""
    from obstore.store import S3Store

    bucket, _, prefix = path.strip("/").partition("/")
    opts = dict(options)
    kw: dict[str, Any] = {}
    endpoint = opts.pop("endpoint_url", None) or (opts.get("client_kwargs") or {}).get(
        "endpoint_url")
    if endpoint:
        kw["endpoint"] = endpoint
        kw["virtual_hosted_style_request"] = False
    region = (opts.get("client_kwargs") or {}).get("region_name")
    kw["region"] = region or "us-east-1"
    if opts.get("anon"):
        kw["skip_signature"] = True
    elif opts.get("key"):
        kw["access_key_id"] = opts["key"]
        kw["secret_access_key"] = opts.get("secret") or ""
        if opts.get("token"):
            kw["session_token"] = opts["token"]
    else:  # AWS profile, SSO, instance roles ...: let botocore find and refresh the credentials
        kw["credential_provider"] = AwsProfileCredentials(opts.get("profile"))
    if opts.get("requester_pays"):
        kw["request_payer"] = True
    client, retry = _client_options(n, endpoint, options)
    return S3Store(bucket, prefix=prefix or None, client_options=client, retry_config=retry, **kw)


class AzureStaticCredential:
    """An obstore credential provider for a fixed account key or SAS (never expires).

    A provider, not config, so that ``AZURE_STORAGE_*`` variables cannot override the profile's
    credential; picklable (dask workers); its repr shows which kind, never the value.
    """

    def __init__(self, kind: str, secret: str) -> None:
        if kind not in ("access_key", "sas_token"):
            raise ValueError(f"unknown Azure credential kind {kind!r}")
        self.kind = kind
        self._secret = secret

    def __call__(self) -> dict[str, Any]:
        return {self.kind: self._secret, "expires_at": None}

    def __eq__(self, other: object) -> bool:  # stores compare equal after pickling
        return (isinstance(other, AzureStaticCredential) and other.kind == self.kind
                and other._secret == self._secret)

    def __hash__(self) -> int:
        return hash((self.kind, self._secret))

    def __repr__(self) -> str:
        return f"AzureStaticCredential({self.kind}=***)"

    __str__ = __repr__


def _azure_store(path: str, options: Mapping[str, Any], n: int) -> Any:
    """An ``AzureStore`` from the adlfs options (connection string, ``anon``)."""
    from obstore.store import AzureStore

    container, _, prefix = path.strip("/").partition("/")
    f = connection_string_fields(str(options["connection_string"]))
    if f.get("usedevelopmentstorage", "").lower() == "true":
        f.setdefault("accountname", _DEV_ACCOUNT)
        f.setdefault("accountkey", _DEV_KEY)
        f.setdefault("blobendpoint", f"http://127.0.0.1:10000/{f['accountname']}")
    endpoint = f.get("blobendpoint", "").rstrip("/")
    account = f.get("accountname") or _account_from_endpoint(endpoint)
    if not endpoint:
        scheme = f.get("defaultendpointsprotocol") or "https"
        suffix = f.get("endpointsuffix") or "core.windows.net"
        endpoint = f"{scheme}://{account}.blob.{suffix}"
    kw: dict[str, Any] = {"account_name": account, "endpoint": endpoint, "use_emulator": False}
    if options.get("anon"):
        kw["skip_signature"] = True
    elif f.get("accountkey"):
        kw["credential_provider"] = AzureStaticCredential("access_key", f["accountkey"])
    else:
        kw["credential_provider"] = AzureStaticCredential(
            "sas_token", f["sharedaccesssignature"].lstrip("?"))
    client, retry = _client_options(n, endpoint, options)
    return AzureStore(container, prefix=prefix or None, client_options=client,
                      retry_config=retry, **kw)


def _account_from_endpoint(endpoint: str) -> str:
    """``ACCOUNT`` of ``https://ACCOUNT.blob...``, or of an emulator's ``http://host:port/ACCOUNT``.

    With an explicit endpoint object_store uses the name only for signing, which an anonymous
    store does not do; it must merely be present.
    """
    return (blob_host_account(endpoint) or urlsplit(endpoint).path.strip("/").split("/")[0]
            or "anonymous")


# ------------------------------------------------------------------------------ exceptions
def _translate(exc: BaseException) -> BaseException:
    """obstore's exceptions as the builtin ones fsspec raises (which objstore maps to its own)."""
    if not type(exc).__module__.startswith("obstore"):
        return exc
    name = type(exc).__name__
    text = scrub((str(exc).splitlines() or [name])[0])
    # "... Server returned non-2xx status code: 403 Forbidden: <?xml ...": keep up to the status
    text = re.sub(r"(status code: \d{3}[^:]*):.*", r"\1", text)
    if name in ("PermissionDeniedError", "UnauthenticatedError"):
        return PermissionError(text)
    if name == "NotFoundError":
        return FileNotFoundError(text)
    if name == "AlreadyExistsError":
        return FileExistsError(text)
    return OSError(text)


@contextmanager
def translated_errors() -> Iterator[None]:
    """Re-raise obstore's exceptions as the builtin ones (:func:`_translate`); others as they are."""
    try:
        yield
    except Exception as exc:
        new = _translate(exc)
        if new is exc:
            raise
        raise new from None


def _translating(cls: type) -> type:
    """A subclass of zarr's ``ObjectStore`` whose calls raise builtin exceptions."""

    def wrap(name: str) -> Any:
        method = getattr(cls, name)

        async def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            with translated_errors():
                return await method(self, *args, **kwargs)

        call.__name__ = name
        return call

    def wrap_iter(name: str) -> Any:
        method = getattr(cls, name)

        async def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            with translated_errors():
                async for item in method(self, *args, **kwargs):
                    yield item

        call.__name__ = name
        return call

    ns: dict[str, Any] = {n: wrap(n) for n in ("get", "get_partial_values", "exists", "set",
                                               "set_if_not_exists", "delete", "delete_dir",
                                               "getsize")}
    ns.update({n: wrap_iter(n) for n in ("list", "list_prefix", "list_dir")})
    ns["__module__"] = __name__
    ns["__qualname__"] = "ObstoreStore"
    return type("ObstoreStore", (cls,), ns)


#: zarr's ``ObjectStore`` raising builtin exceptions, its objects MD5-checked (obstore_checksums);
#: picklable: a module-level class.
ObstoreStore = _translating(ChecksummedObjectStore)
