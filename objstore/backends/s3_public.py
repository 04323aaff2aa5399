"""Make S3 data public: a ``public-read`` ACL on the bucket and on every object under the
prefix; buckets that refuse ACLs (Object Ownership "bucket owner enforced") get a bucket-policy
statement allowing anonymous ``s3:GetObject`` on the prefix instead.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from ..errors import CredentialsError, scrub
from .base import PublicResult

if TYPE_CHECKING:
    from ..api import Resolved

S3_ACL = "public-read"


def _error_code(exc: BaseException) -> str:
    for e in (exc, exc.__cause__, exc.__context__):
        if e is None:
            continue
        response = getattr(e, "response", None)
        code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
        if code:
            return str(code)
        text = str(e)
        for known in ("AccessControlListNotSupported", "AccessDenied", "NotImplemented"):
            if known in text:
                return known
    return ""


def upload_acl(r: Resolved) -> dict[str, Any]:
    """Before uploading a public cube to S3: make the bucket ``public-read`` and return the PUT
    arguments that give each object the same ACL (``{}`` if the bucket refuses ACLs)."""
    try:
        r.fs.chmod(r.url.bucket, acl=S3_ACL)
    except Exception as exc:
        if _error_code(exc) in ("AccessControlListNotSupported", "NotImplemented"):
            return {}
        raise
    return {"ACL": S3_ACL}


def _objects(r: Resolved) -> list[str]:
    """Every object under ``r`` (one listing; a single object is itself)."""
    fs: Any = r.fs
    fs.invalidate_cache()
    try:
        found = fs.find(r.path.rstrip("/"), detail=True)
    except FileNotFoundError:
        return []
    return [str(name) for name, info in found.items()
            if info.get("type", "file") != "directory" and not str(name).endswith("/")]


def make_public(r: Resolved, objects: list[str] | None, concurrency: int) -> PublicResult:
    from fsspec.asyn import sync

    fs: Any = r.fs
    bucket = r.url.bucket
    try:
        fs.chmod(bucket, acl=S3_ACL)
        acl_ok = True
    except Exception as exc:
        if _error_code(exc) not in ("AccessControlListNotSupported", "NotImplemented"):
            raise
        acl_ok = False
    if not acl_ok:
        _policy(r)
        return PublicResult(
            r.backend.public_url(r), "S3 bucket policy: anonymous s3:GetObject on the prefix",
            ["the bucket refuses ACLs (bucket owner enforced): used a bucket policy"])
    if objects is None:
        objects = _objects(r)

    async def chmod_all() -> None:
        sem = asyncio.Semaphore(concurrency)

        async def one(path: str) -> None:
            async with sem:
                await fs._chmod(path, acl=S3_ACL)

        await asyncio.gather(*(one(p) for p in objects if p))

    sync(fs.loop, chmod_all)
    return PublicResult(r.backend.public_url(r), f"S3 ACL {S3_ACL} on the bucket and its objects")


def _policy(r: Resolved) -> None:
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
                f"was denied ({scrub(str(exc))}); S3 Block Public Access may be on for the bucket "
                "or account"
            ) from None

    sync(fs.loop, go)




def make_private(r: Resolved) -> None:
    """``private`` ACLs on the bucket and on every object under the prefix."""
    fs: Any = r.fs
    fs.chmod(r.url.bucket, acl="private")
    for path in _objects(r):
        fs.chmod(path, acl="private")
