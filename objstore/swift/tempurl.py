"""Swift TempURL: a time-limited URL for one object that works without a token.

The signature is an HMAC (SHA-256) of ``METHOD\\nEXPIRES\\nPATH`` with a key stored in the account
or container metadata (``swift post -m "Temp-URL-Key:SECRET"``, or ``swift post CONTAINER -m
"Temp-URL-Key:SECRET"``). Swift's ``tempurl`` middleware checks it; a tampered URL or one past its
expiry answers 401.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

__all__ = ["HOW_TO_SET_KEY", "key_from_metadata", "temp_url"]

HOW_TO_SET_KEY = ('set one with `swift post -m "Temp-URL-Key:SECRET"` (account) or `swift post '
                  'CONTAINER -m ...`, or put temp_url_key in the profile\'s storage_options')


def key_from_metadata(headers: Mapping[str, str], scope: str) -> str | None:
    """The TempURL key in a HEAD reply of the account (``scope="Account"``) or a container; only
    users allowed to set it see it."""
    for name in (f"X-{scope}-Meta-Temp-URL-Key", f"X-{scope}-Meta-Temp-URL-Key-2"):
        if value := headers.get(name):
            return value
    return None


def temp_url(object_url: str, key: str, expires_in: float, method: str = "GET",
             now: float | None = None) -> str:
    """``object_url`` (``https://HOST/v1/AUTH_x/container/object``, quoted) signed for ``method``
    until ``expires_in`` seconds from now."""
    expires = int((time.time() if now is None else now) + expires_in)
    parts = urlsplit(object_url)
    body = f"{method.upper()}\n{expires}\n{unquote(parts.path)}".encode()
    sig = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    return f"{object_url}?temp_url_sig={sig}&temp_url_expires={expires}"
