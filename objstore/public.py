"""Make a cube world-readable, each backend its own way, and hand back the https URL readers use.

=========  ===============================================================================
Swift      container read ACL ``.r:*,.rlistings`` (:func:`objstore.swift.make_public`)
S3         ``public-read`` ACL on the bucket and on every object under the prefix; buckets that
           refuse ACLs (Object Ownership "bucket owner enforced") get a bucket-policy statement
           allowing anonymous ``s3:GetObject`` on the prefix instead
Azure      container public access level ``container`` (anonymous reads and listings)
GCS        ``allUsers`` as ``roles/storage.objectViewer`` in the bucket's IAM policy, where the
           server supports it (the GCS emulator accepts the call and enforces nothing)
=========  ===============================================================================

Swift, Azure and S3 (bucket ACL) make the whole container or bucket readable and listable, not
only the cube: publish into a container meant for public data.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .api import resolve
from .boundary import mapped_errors
from .errors import CredentialsError, InvalidURLError, RemoteError, scrub
from .perf import DEFAULT_MAX_CONCURRENCY
from .transfer import list_tree

if TYPE_CHECKING:
    from .api import Resolved
    from .profiles import Profile

__all__ = ["PublicResult", "make_public", "public_url", "s3_upload_acl", "reader_snippet"]

S3_ACL = "public-read"
GCS_READER_ROLE = "roles/storage.objectViewer"


@dataclass
class PublicResult:
    url: str  # the https URL of the cube
    how: str  # what was done, for humans
    notes: list[str] = field(default_factory=list)


def public_url(r: Resolved) -> str:
    """The plain https (or the emulator's http) URL of ``r``, as an anonymous reader uses it."""
    backend, bucket, key = r.url.backend, r.url.bucket, r.url.key
    qkey = quote(key, safe="/~")
    if backend == "swift":
        fs: Any = r.fs
        return fs.storage_url().rstrip("/") + "/" + quote(bucket, safe="") + (f"/{qkey}" if key else "")
    if backend == "s3":
        endpoint = getattr(r.profile, "endpoint_url", None) or r.storage_options.get("endpoint_url")
        if endpoint:
            return f"{endpoint.rstrip('/')}/{bucket}" + (f"/{qkey}" if key else "")
        region = getattr(r.profile, "region", None)
        host = f"s3.{region}.amazonaws.com" if region else "s3.amazonaws.com"
        if "." in bucket:  # virtual-host https would not match the certificate
            return f"https://{host}/{bucket}" + (f"/{qkey}" if key else "")
        return f"https://{bucket}.{host}" + (f"/{qkey}" if key else "")
    if backend == "gcs":
        endpoint = r.storage_options.get("endpoint_url") or "https://storage.googleapis.com"
        return f"{endpoint.rstrip('/')}/{bucket}" + (f"/{qkey}" if key else "")
    if backend == "azure":
        return _azure_container_url(r) + (f"/{qkey}" if key else "")
    if backend == "http":
        return r.url.url
    raise InvalidURLError(f"{r.url.url}: a {backend} URL cannot be made public")


def make_public(url: str, profile: str | Profile | None = None) -> str:
    """Make the cube (and, on Swift/Azure/S3, its container or bucket) world-readable; returns
    the https URL readers use."""
    r = resolve(url, profile)
    with mapped_errors(r):
        return _make_public(r).url


def _make_public(r: Resolved, *, s3_objects: list[str] | None = None,
                 concurrency: int = DEFAULT_MAX_CONCURRENCY) -> PublicResult:
    """Backend dispatch. ``s3_objects``: the object paths that still need an ACL (default: every
    object under the prefix)."""
    backend = r.url.backend
    if backend == "swift":
        from .swift import make_public as swift_make_public  # aiohttp: on first Swift use

        url = swift_make_public(r.fs, r.path)
        return PublicResult(url, "Swift container read ACL .r:*,.rlistings")
    if backend == "s3":
        return _s3_public(r, s3_objects, concurrency)
    if backend == "azure":
        return _azure_public(r)
    if backend == "gcs":
        return _gcs_public(r)
    raise InvalidURLError(f"{r.url.url}: cannot make a {backend} URL public")


def make_private(url: str, profile: str | Profile | None = None) -> str:
    """Undo :func:`make_public`: Swift read ACL removed, S3 ACLs ``private``, Azure container public
    access off, GCS ``allUsers`` binding removed. Returns the URL that readers can no longer use."""
    r = resolve(url, profile)
    backend = r.url.backend
    with mapped_errors(r):
        if backend == "swift":
            from .swift import make_private as swift_make_private  # aiohttp: on first Swift use

            return swift_make_private(r.fs, r.path)
        fs: Any = r.fs
        if backend == "s3":
            fs.chmod(r.url.bucket, acl="private")
            for item in list_tree(r).values():
                if item.remote:
                    fs.chmod(item.remote, acl="private")
        elif backend == "azure":
            _azure_access(r, None)
        elif backend == "gcs":
            policy = fs.call("GET", "b/{}/iam", r.url.bucket, json_out=True)
            for binding in policy.get("bindings", []):
                binding["members"] = [m for m in binding.get("members", []) if m != "allUsers"]
            fs.call("PUT", "b/{}/iam", r.url.bucket, json=policy)
        else:
            raise InvalidURLError(f"{r.url.url}: a {backend} URL has no access policy to change")
        return public_url(r)


# ------------------------------------------------------------------------------------------ S3
def _s3_error_code(exc: BaseException) -> str:
    for e in (exc, exc.__cause__, exc.__context__):
        if e is None:
            continue
        code = getattr(e, "response", {}).get("Error", {}).get("Code") if hasattr(e, "response") else None
        if code:
            return str(code)
        text = str(e)
        for known in ("AccessControlListNotSupported", "AccessDenied", "NotImplemented"):
            if known in text:
                return known
    return ""


def s3_upload_acl(r: Resolved) -> dict[str, Any]:
    """Before uploading a public cube to S3: make the bucket ``public-read`` and return the PUT
    arguments that give each object the same ACL (``{}`` if the bucket refuses ACLs)."""
    try:
        r.fs.chmod(r.url.bucket, acl=S3_ACL)
    except Exception as exc:
        if _s3_error_code(exc) in ("AccessControlListNotSupported", "NotImplemented"):
            return {}
        raise
    return {"ACL": S3_ACL}


def _s3_public(r: Resolved, objects: list[str] | None, concurrency: int) -> PublicResult:
    from fsspec.asyn import sync

    fs: Any = r.fs
    bucket = r.url.bucket
    try:
        fs.chmod(bucket, acl=S3_ACL)
        acl_ok = True
    except Exception as exc:
        if _s3_error_code(exc) not in ("AccessControlListNotSupported", "NotImplemented"):
            raise
        acl_ok = False
    if not acl_ok:
        _s3_policy(r)
        return PublicResult(public_url(r), "S3 bucket policy: anonymous s3:GetObject on the prefix",
                            ["the bucket refuses ACLs (bucket owner enforced): used a bucket policy"])
    if objects is None:
        objects = [i.remote or "" for i in list_tree(r).values()]

    async def chmod_all() -> None:
        sem = asyncio.Semaphore(concurrency)

        async def one(path: str) -> None:
            async with sem:
                await fs._chmod(path, acl=S3_ACL)

        await asyncio.gather(*(one(p) for p in objects if p))

    sync(fs.loop, chmod_all)
    return PublicResult(public_url(r), f"S3 ACL {S3_ACL} on the bucket and its objects")


def _s3_policy(r: Resolved) -> None:
    from fsspec.asyn import sync

    fs: Any = r.fs
    bucket, key = r.url.bucket, r.url.key.rstrip("/")
    resource = f"arn:aws:s3:::{bucket}/{key}/*" if key else f"arn:aws:s3:::{bucket}/*"
    sid = "objstorePublicRead" + str(abs(hash(resource)) % 10**8)

    async def go() -> None:
        try:
            current = await fs._call_s3("get_bucket_policy", Bucket=bucket)
            policy = json.loads(current["Policy"])
        except Exception:
            policy = {"Version": "2012-10-17", "Statement": []}
        statements = [s for s in policy.get("Statement", []) if s.get("Sid") != sid]
        statements.append({"Sid": sid, "Effect": "Allow", "Principal": "*",
                           "Action": "s3:GetObject", "Resource": resource})
        policy["Statement"] = statements
        try:
            await fs._call_s3("put_bucket_policy", Bucket=bucket, Policy=json.dumps(policy))
        except PermissionError as exc:
            raise CredentialsError(
                f"cannot make s3://{bucket} public: the bucket refuses ACLs and the bucket policy "
                f"was denied ({scrub(str(exc))}); S3 Block Public Access may be on for the bucket or account"
            ) from None

    sync(fs.loop, go)


# ------------------------------------------------------------------------------------------ Azure
def _azure_container_url(r: Resolved) -> str:
    fs: Any = r.fs
    client = fs.service_client
    return str(client.url).split("?")[0].rstrip("/") + "/" + quote(r.url.bucket, safe="")


def _azure_access(r: Resolved, public_access: str | None) -> None:
    from fsspec.asyn import sync

    fs: Any = r.fs

    async def go() -> None:
        container = fs.service_client.get_container_client(r.url.bucket)
        await container.set_container_access_policy(signed_identifiers={},
                                                    public_access=public_access)

    sync(fs.loop, go)


def _azure_public(r: Resolved) -> PublicResult:
    try:
        _azure_access(r, "container")
    except Exception as exc:
        text = str(exc)
        if "PublicAccessNotPermitted" in text or "public access is not permitted" in text.lower():
            raise CredentialsError(
                f"cannot make {r.url.url} public: the storage account does not allow public blob "
                "access (enable 'Allow Blob anonymous access' on the account)") from None
        raise
    return PublicResult(public_url(r), "Azure container public access: container")


# ------------------------------------------------------------------------------------------ GCS
def _gcs_public(r: Resolved) -> PublicResult:
    fs: Any = r.fs
    bucket = r.url.bucket
    try:
        policy = fs.call("GET", "b/{}/iam", bucket, json_out=True)
        bindings = [b for b in policy.get("bindings", []) if isinstance(b, dict)]
        for b in bindings:
            if b.get("role") == GCS_READER_ROLE:
                if "allUsers" not in b.setdefault("members", []):
                    b["members"].append("allUsers")
                break
        else:
            bindings.append({"role": GCS_READER_ROLE, "members": ["allUsers"]})
        policy["bindings"] = bindings
        fs.call("PUT", "b/{}/iam", bucket, json=policy)
    except (PermissionError, CredentialsError):
        raise
    except Exception as exc:
        raise RemoteError(f"cannot make gs://{bucket} public: setting its IAM policy failed "
                          f"({type(exc).__name__}: {scrub(str(exc))[:200]})") from None
    return PublicResult(public_url(r), f"GCS IAM: allUsers as {GCS_READER_ROLE}")


# ------------------------------------------------------------------------------------------ readers
def reader_snippet(url: str) -> str:
    """The two lines readers paste: plain fsspec + xarray, and objstore."""
    return (f'import fsspec, xarray as xr; ds = xr.open_zarr(fsspec.get_mapper("{url}"), '
            'consolidated=True)\n'
            f'import objstore; ds = objstore.open_cube("{url}")')
