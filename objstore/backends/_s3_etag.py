"""What an S3 ETag says about an object's bytes, for both S3 engines (``_s3fs`` and ``_obstore``).

An object uploaded in one part has the MD5 of its bytes as ETag, unless it is encrypted with a KMS
or customer key; one uploaded in parts has "MD5-of-parts-N", which is no MD5 of the object.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["etag_md5", "encrypted"]

_MD5 = re.compile(r"[0-9a-f]{32}")


def etag_md5(etag: Any) -> str | None:
    """The MD5 (hex) an ETag as a server sends it (quoted or not) spells, or None."""
    value = str(etag or "").strip('"').lower()
    return value if _MD5.fullmatch(value) else None


def encrypted(fields: Mapping[str, Any]) -> bool:
    """Encrypted with a KMS or customer key (botocore's parsed answer): its ETag is no MD5."""
    return bool(fields.get("SSECustomerAlgorithm")) \
        or str(fields.get("ServerSideEncryption") or "").startswith("aws:kms")
