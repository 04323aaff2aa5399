"""What a server honours, asked the way objstore's integrity and browser access rely on it:
whether it refuses an upload whose body does not match the checksum sent with it, and whether
it answers a CORS preflight from an origin. Used by ``objstore doctor`` (objstore/doctor.py).

Each library has its own way to send a checksum it did not compute; :func:`refuses_wrong_md5`
knows objstore's four (s3fs ``ContentMD5``, the Swift ``ETag``, a GCS upload's ``md5Hash``, the
Azure ``Content-MD5`` header).
"""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.error
import urllib.request
from typing import Any

__all__ = ["refuses_wrong_md5", "cors_preflight"]

_WRONG = hashlib.md5(b"not the body", usedforsecurity=False).digest()


async def _put_wrong_md5(fs: Any, bucket: str, key: str, data: bytes) -> bool:
    """PUT ``data`` with the MD5 of other bytes; True if the server refused it."""
    kind = type(fs).__module__.split(".")[0] + "." + type(fs).__name__
    if hasattr(fs, "_call_s3"):  # s3fs
        try:
            await fs._call_s3("put_object", Bucket=bucket, Key=key, Body=data,
                              ContentMD5=base64.b64encode(_WRONG).decode())
        except OSError as exc:
            if any(w in str(exc).lower() for w in ("digest", "md5", "checksum")):
                return True
            raise
        return False
    if hasattr(fs, "_put_object") and hasattr(fs, "_holds"):  # objstore's Swift filesystem
        reply = await fs._request("PUT", bucket, key, headers={"ETag": _WRONG.hex(),
                                                                "Content-Length": str(len(data))},
                                  data=data, allow=(422,))
        return reply.status == 422
    if hasattr(fs, "_location") and hasattr(fs, "_call"):  # gcsfs
        from urllib.parse import quote

        meta = json.dumps({"name": key, "md5Hash": base64.b64encode(_WRONG).decode()})
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
    if hasattr(fs, "service_client"):  # adlfs
        async with fs.service_client.get_blob_client(bucket, key) as blob:
            try:
                await blob.upload_blob(data, overwrite=True,
                                       headers={"Content-MD5": base64.b64encode(_WRONG).decode()})
            except Exception as exc:
                if getattr(exc, "error_code", None) == "Md5Mismatch" or "md5" in str(exc).lower():
                    return True
                raise
        return False
    raise NotImplementedError(f"no way to send a checksum through {kind}")


def refuses_wrong_md5(fs: Any, bucket: str, key: str) -> bool:
    """Whether the server refuses a PUT of ``bucket/key`` whose MD5 header does not match its
    body. Whatever got stored is removed."""
    from fsspec.asyn import sync

    try:
        return bool(sync(fs.loop, _put_wrong_md5, fs, bucket, key, b"objstore doctor " * 64))
    finally:
        try:
            fs.rm_file(f"{bucket}/{key}")
        except (FileNotFoundError, OSError):
            pass


def cors_preflight(url: str, origin: str, timeout: float) -> tuple[bool, str]:
    """An ``OPTIONS`` preflight for a GET of ``url`` from ``origin``, as a browser sends it:
    (allowed, what the server answered)."""
    req = urllib.request.Request(url, method="OPTIONS", headers={
        "Origin": origin, "Access-Control-Request-Method": "GET"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as rsp:
            status, headers = rsp.status, rsp.headers
    except urllib.error.HTTPError as exc:
        status, headers = exc.code, exc.headers
    allowed = headers.get("Access-Control-Allow-Origin")
    ok = 200 <= status < 300 and allowed in ("*", origin)
    said = f"HTTP {status}" + (f", Access-Control-Allow-Origin: {allowed}" if allowed else
                               ", no Access-Control-Allow-Origin")
    return ok, said
