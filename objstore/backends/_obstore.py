"""The obstore engine's stores, translated from the storage options the fsspec engine gets, for
the two backends that offer it: S3 (``obstore.store.S3Store``) and Azure (``AzureStore``). Each
``*_problem`` says why obstore cannot do exactly what the options say (None: it can); each
``*_store`` builds the store. The generic part (zarr's ``ObjectStore`` around it, obstore's
exceptions translated) is :mod:`objstore.obstore_engine`.

Azure: the key or SAS is handed over as a *credential provider*, not as config: object_store reads
``AZURE_STORAGE_*`` variables too, and an ``AZURE_STORAGE_ACCOUNT_KEY`` in the environment would
otherwise beat a profile's SAS; a provider beats every variable, so the profile you chose is the
one used.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ..profiles import blob_host_account, connection_string_fields
from ..retry import obstore_config
from ._aws_provider import AwsProfileCredentials
from ._s3_etag import encrypted, etag_md5

__all__ = ["s3_problem", "s3_store", "S3Etags", "azure_problem", "azure_store",
           "AzureStaticCredential"]

# Azurite's well-known development account (UseDevelopmentStorage=true); public, not a secret.
_DEV_ACCOUNT = "devstoreaccount1"
_DEV_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
            "KBHBeksoGMGw==")

#: s3fs storage options the obstore engine translates; any other option means fsspec.
OBSTORE_OPTIONS = frozenset({"key", "secret", "token", "anon", "endpoint_url", "client_kwargs",
                             "requester_pays", "config_kwargs"})  # retries and timeouts only
#: Connection-string fields the Azure translation understands; other services' endpoints are
#: irrelevant to blobs and ignored; any other field means obstore cannot do exactly the same.
_AZURE_FIELDS = frozenset({"accountname", "accountkey", "sharedaccesssignature", "blobendpoint",
                           "defaultendpointsprotocol", "endpointsuffix", "usedevelopmentstorage"})
_AZURE_IGNORED = frozenset({"queueendpoint", "tableendpoint", "fileendpoint", "dfsendpoint"})

#: adlfs options the Azure translation understands (use_listings_cache: adlfs's own cache).
#: botocore config keys obstore honours: the retry policy's (retry.py) and the pool size
_CONFIG_KWARGS = frozenset({"retries", "connect_timeout", "read_timeout", "max_pool_connections",
                            # checksums off (obstore computes none; obstore_checksums is off)
                            "request_checksum_calculation", "response_checksum_validation"})
_AZURE_OPTIONS = frozenset({"connection_string", "anon", "use_listings_cache",
                            "connection_timeout", "read_timeout", "retry_total",  # retry.py
                            "checksums"})  # objstore's own checks: obstore_checksums


def client_options(n: int, endpoint: str | None, options: Mapping[str, Any]
                    ) -> tuple[Any, Any]:  # obstore ClientConfig and RetryConfig
    timeouts, retry = obstore_config(options)
    client: dict[str, Any] = {"pool_max_idle_per_host": str(n), **timeouts}
    if endpoint and endpoint.startswith("http://"):
        client["allow_http"] = "true"
    return client, retry


def s3_problem(options: Mapping[str, Any], *, explicit: bool = True) -> str | None:
    """Why obstore cannot do exactly what the s3fs ``options`` say (None: it can).
    ``explicit=False`` (``engine = "auto"``) is stricter: credentials botocore would find (an AWS
    profile, the ambient chain) mean fsspec, while an explicit ``obstore`` takes them through
    boto3."""
    allowed = OBSTORE_OPTIONS | ({"profile"} if explicit else set())
    extra = sorted(set(options) - allowed)
    if extra:
        return f"obstore cannot translate the S3 storage option {extra[0]!r}"
    extra = sorted(set(options.get("client_kwargs") or {}) - {"region_name", "endpoint_url"})
    if extra:
        return f"obstore cannot translate the S3 storage option client_kwargs[{extra[0]!r}]"
    extra = sorted(set(options.get("config_kwargs") or {}) - _CONFIG_KWARGS)
    if extra:
        return f"obstore cannot translate the S3 storage option config_kwargs[{extra[0]!r}]"
    if not explicit and not (options.get("anon") or options.get("key")):
        return "no explicit keys: the credentials are botocore's to find (AWS profile or chain)"
    return None


def s3_store(path: str, options: Mapping[str, Any], n: int, *, checked: bool = True) -> Any:
    """An ``S3Store`` from the s3fs storage options. The body's SHA-256 is signed only where
    nothing else guards it: over plain http with objstore's MD5 checks off (``checked``). Over
    https TLS does, and the MD5 compared with the ETag both ways does (botocore, too, sends
    ``UNSIGNED-PAYLOAD`` over https); hashing every body twice costs a core's time on big
    chunks (docs/performance.md)."""
    from obstore.store import S3Store

    bucket, _, prefix = path.strip("/").partition("/")
    opts = dict(options)
    kw: dict[str, Any] = {}
    endpoint = opts.pop("endpoint_url", None) or (opts.get("client_kwargs") or {}).get(
        "endpoint_url")
    if endpoint:
        kw["endpoint"] = endpoint
        kw["virtual_hosted_style_request"] = False
    kw["unsigned_payload"] = checked or not str(endpoint or "https:").startswith("http:")
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
    client, retry = client_options(n, endpoint, options)
    return S3Store(bucket, prefix=prefix or None, client_options=client, retry_config=retry, **kw)


class S3Etags:
    """The MD5 a whole S3 object read through obstore must have: its ETag, where that is an MD5.

    Objects uploaded in parts, whose ETag is no MD5, are not checked (``_s3_etag``). obstore's GET
    does not return the encryption header, so the first mismatch asks botocore (one HEAD, which
    imports s3fs only then): an encrypted object's ETag says nothing, and this store stops
    comparing ETags; otherwise the body is damaged and is read again (``obstore_checksums``).
    The same check as ``_s3fs._check_etag`` on the s3fs engine.
    """

    def __init__(self, path: str, options: Mapping[str, Any]) -> None:
        self._bucket, _, self._prefix = path.strip("/").partition("/")
        self._options = dict(options)
        self._meaningful: bool | None = None  # False: encrypted, ETags say nothing
        self._asking: asyncio.Future[None] | None = None  # the HEAD in flight

    def __repr__(self) -> str:  # no options: they hold the secret
        return f"S3Etags({self._bucket!r})"

    def md5(self, meta: Mapping[str, Any]) -> str | None:
        return None if self._meaningful is False else etag_md5(meta.get("e_tag"))

    async def are_md5(self, key: str) -> bool:
        """After a mismatch: False if ``key`` is encrypted so that its ETag is no MD5 (then no
        ETag of this store is compared again: a bucket's objects share its encryption).
        Mismatches at the same time share one HEAD."""
        if self._meaningful is not False:
            if self._asking is None:
                self._asking = asyncio.ensure_future(self._ask(key))
            asking = self._asking
            try:
                await asyncio.shield(asking)
            finally:
                if self._asking is asking and asking.done():
                    self._asking = None
        return self._meaningful is not False

    async def _ask(self, key: str) -> None:
        head = await _head(self._bucket, f"{self._prefix}/{key}" if self._prefix else key,
                           self._options)
        if encrypted(head):
            self._meaningful = False

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_asking": None}


async def _head(bucket: str, key: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """botocore's HeadObject of ``bucket/key`` with the s3fs ``options``, on the running loop."""
    from ._s3fs import S3FileSystem

    fs = S3FileSystem(**options, asynchronous=True, skip_instance_cache=True)
    try:
        await fs.set_session()
        return dict(await fs._call_s3("head_object", Bucket=bucket, Key=key))
    finally:
        if fs._s3 is not None:
            await fs._s3creator.__aexit__(None, None, None)


def azure_problem(options: Mapping[str, Any]) -> str | None:
    extra = sorted(set(options) - _AZURE_OPTIONS)
    if extra:
        return f"obstore cannot translate the Azure storage option {extra[0]!r}"
    if not options.get("connection_string"):
        return "obstore needs the Azure connection string objstore builds (none in the options)"
    fields = connection_string_fields(str(options["connection_string"]))
    unknown = sorted(set(fields) - _AZURE_FIELDS - _AZURE_IGNORED)
    if unknown:
        return f"obstore cannot translate the Azure connection string field {unknown[0]!r}"
    dev = fields.get("usedevelopmentstorage", "").lower() == "true"
    if not (options.get("anon") or dev or fields.get("accountkey")
            or fields.get("sharedaccesssignature")):
        return "the Azure connection string has no AccountKey or SharedAccessSignature"
    if not (dev or fields.get("blobendpoint") or fields.get("accountname")):
        return "the Azure connection string has neither BlobEndpoint nor AccountName"
    return None


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


def azure_store(path: str, options: Mapping[str, Any], n: int) -> Any:
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
    client, retry = client_options(n, endpoint, options)
    return AzureStore(container, prefix=prefix or None, client_options=client,
                      retry_config=retry, **kw)


def _account_from_endpoint(endpoint: str) -> str:
    """``ACCOUNT`` of ``https://ACCOUNT.blob...``, or of an emulator's ``http://host:port/ACCOUNT``.

    With an explicit endpoint object_store uses the name only for signing, which an anonymous
    store does not do; it must merely be present.
    """
    return (blob_host_account(endpoint) or urlsplit(endpoint).path.strip("/").split("/")[0]
            or "anonymous")
