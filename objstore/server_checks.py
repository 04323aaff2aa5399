"""What a server honours, asked the way objstore's integrity and browser access rely on it:
whether it refuses an upload whose body does not match the checksum sent with it, and whether
it answers a CORS preflight from an origin. Used by ``objstore doctor`` (objstore/doctor.py).

Each library has its own way to send a checksum it did not compute: each Backend's
``put_with_wrong_md5`` (s3fs ``ContentMD5``, the Swift ``ETag``, a GCS upload's ``md5Hash``, the
Azure ``Content-MD5`` header).
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .api import Resolved

__all__ = ["refuses_wrong_md5", "cors_preflight"]

_WRONG = hashlib.md5(b"not the body", usedforsecurity=False).digest()


def refuses_wrong_md5(r: Resolved, key: str) -> bool:
    """Whether the server refuses a PUT of ``key`` in ``r``'s bucket whose MD5 header does not
    match its body (sent the backend's way). Whatever got stored is removed."""
    from fsspec.asyn import sync

    fs, bucket = r.fs, r.url.bucket
    try:
        return bool(sync(fs.loop, r.backend.put_with_wrong_md5, fs, bucket, key,
                         b"objstore doctor " * 64, _WRONG))
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
