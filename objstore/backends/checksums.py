"""Content MD5s as each store's listing reports them (hex), for verify after a copy.

s3fs ``ETag`` (quoted hex; multipart ``"...-N"`` ETags are not MD5s), gcsfs ``md5Hash`` (base64;
composite objects have none), adlfs ``content_settings.content_md5`` (bytes; blobs uploaded in
blocks may have none), Swift ``hash``/``ETag`` (not for large-object manifests). Azure ETags
(``0x...``) and GCS generation etags are not MD5s and are ignored.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["etag_md5", "gcs_md5", "azure_md5", "swift_md5", "any_md5"]

_HEX_MD5 = re.compile(r"^[0-9a-fA-F]{32}$")


def _b64_md5(value: Any) -> str | None:
    if isinstance(value, (bytes, bytearray)) and len(value) == 16:
        return bytes(value).hex()
    if isinstance(value, str) and value:
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return None
        return raw.hex() if len(raw) == 16 else None
    return None


def etag_md5(info: Mapping[str, Any],
             keys: tuple[str, ...] = ("ETag", "etag", "Etag")) -> str | None:
    """A hex MD5 in an ETag-like field (S3, Swift, plain HTTP)."""
    for key in keys:
        value = info.get(key)
        if isinstance(value, str):
            value = value.strip().strip('"')
            if _HEX_MD5.match(value):
                return value.lower()
    return None


def gcs_md5(info: Mapping[str, Any]) -> str | None:
    return _b64_md5(info.get("md5Hash"))


def azure_md5(info: Mapping[str, Any]) -> str | None:
    settings = info.get("content_settings")
    content_md5 = (settings.get("content_md5") if isinstance(settings, Mapping)
                   else getattr(settings, "content_md5", None)) or info.get("content_md5")
    return _b64_md5(content_md5)


def swift_md5(info: Mapping[str, Any]) -> str | None:
    if info.get("slo"):  # a static large object: the etag is of the segments' etags
        return None
    return etag_md5(info, ("hash", "ETag", "etag"))


def any_md5(info: Mapping[str, Any]) -> str | None:
    """Whichever of the above ``info`` holds (for entries whose backend is not known)."""
    if info.get("slo"):
        return None
    return gcs_md5(info) or azure_md5(info) or etag_md5(info, ("ETag", "etag", "hash", "Etag"))
