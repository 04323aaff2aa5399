"""Parse and normalise object-store URLs, sniffing well-known https hosts.

``parse("s3://bucket/key")`` gives an :class:`ObjectURL` whose ``backend`` names the adapter that
talks to it. https URLs are recognised as Swift (``/v1/AUTH_x/container/key``), Azure
(``ACCOUNT.blob.core.windows.net``), GCS (``storage.googleapis.com``) or S3 (``*.s3.amazonaws.com``)
by their shape; anything else is plain HTTP.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from .errors import InvalidURLError

__all__ = ["Backend", "ObjectURL", "parse"]

Backend = Literal["s3", "gcs", "azure", "swift", "http", "file", "memory"]

_SCHEMES: dict[str, Backend] = {
    "s3": "s3",
    "s3a": "s3",
    "gs": "gcs",
    "gcs": "gcs",
    "az": "azure",
    "abfs": "azure",
    "abfss": "azure",
    "swift": "swift",
    "http": "http",
    "https": "http",
    "file": "file",
    "memory": "memory",
}
_SWIFT_PATH = re.compile(r"^/v1/(?P<account>[^/]*_[^/]+)(?:/(?P<container>[^/]+))?(?:/(?P<key>.*))?$")
_AZURE_HOST = re.compile(r"^(?P<account>[a-z0-9]+)\.(?:blob|dfs)\.core\.windows\.net$")
_S3_VHOST = re.compile(r"^(?P<bucket>[^.]+(?:\.[^.]+)*?)\.s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com$")


@dataclass(frozen=True)
class ObjectURL:
    """A parsed URL. ``bucket`` is the bucket/container (empty for file/memory/plain http)."""

    url: str
    scheme: str
    backend: Backend
    bucket: str = ""
    key: str = ""
    host: str = ""  # https host, Azure account host, ...
    account: str = ""  # Swift account (AUTH_x) or Azure storage account

    @property
    def path(self) -> str:
        """The path as the backend's fsspec filesystem wants it."""
        if not self.bucket:  # file, memory, plain http (and a Swift account URL: "")
            return self.key
        return f"{self.bucket}/{self.key}".rstrip("/") if self.key else self.bucket

    @property
    def swift_storage_url(self) -> str:
        """For https Swift URLs: ``https://host/v1/AUTH_x``."""
        return f"{self.scheme}://{self.host}/v1/{self.account}" if self.account else ""


def parse(url: str | os.PathLike[str]) -> ObjectURL:
    """Parse ``url``; a bare path is a local file. Raises :class:`InvalidURLError`."""
    text = str(url)
    if not text.strip():
        raise InvalidURLError("empty URL: expected e.g. s3://bucket/cube.zarr or a local path")
    if "://" not in text:
        return ObjectURL(text, "file", "file", key=str(Path(text).expanduser().absolute()))
    scheme, rest = text.split("://", 1)
    scheme = scheme.lower()
    backend = _SCHEMES.get(scheme)
    if backend is None:
        known = ", ".join(sorted(f"{s}://" for s in _SCHEMES))
        raise InvalidURLError(f"{text!r}: unknown scheme {scheme!r}; objstore understands {known}")
    return _PARSERS.get(scheme, _parse_bucket)(text, scheme, rest, backend)


def _parse_file(text: str, scheme: str, rest: str, backend: Backend) -> ObjectURL:
    return ObjectURL(text, scheme, backend, key=str(Path(rest or "/").expanduser().absolute()))


def _parse_memory(text: str, scheme: str, rest: str, backend: Backend) -> ObjectURL:
    return ObjectURL(text, scheme, backend, key="/" + rest.lstrip("/"))


def _parse_azure(text: str, scheme: str, rest: str, backend: Backend) -> ObjectURL:
    bucket, _, key = rest.partition("/")
    if "@" in bucket:  # abfs://container@account.dfs.core.windows.net/key
        bucket, _, host = bucket.partition("@")
        m = _AZURE_HOST.match(host)
        account = m.group("account") if m else host.split(".")[0]
        return ObjectURL(text, scheme, backend, bucket, key.strip("/"), host=host, account=account)
    return _parse_bucket(text, scheme, rest, backend)


def _parse_bucket(text: str, scheme: str, rest: str, backend: Backend) -> ObjectURL:
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise InvalidURLError(f"{text!r}: missing the bucket or container name after {scheme}://")
    return ObjectURL(text, scheme, backend, bucket, key.strip("/"))


def _parse_https(text: str, scheme: str, rest: str = "", backend: Backend = "http") -> ObjectURL:
    parts = urlsplit(text)
    host = parts.netloc
    if not parts.hostname:
        raise InvalidURLError(f"{text!r}: missing the host name after {scheme}://")
    path = parts.path
    if m := _SWIFT_PATH.match(path):
        if not m.group("container"):
            return ObjectURL(text, scheme, "swift", host=host, account=m.group("account"))
        key = (m.group("key") or "").strip("/")
        return ObjectURL(text, scheme, "swift", m.group("container"), key, host, m.group("account"))
    hostname = parts.hostname.lower()
    bucket, _, key = path.lstrip("/").partition("/")
    if m := _AZURE_HOST.match(hostname):
        return ObjectURL(text, scheme, "azure", bucket, key.strip("/"), host, m.group("account"))
    if hostname == "storage.googleapis.com" and bucket:
        return ObjectURL(text, scheme, "gcs", bucket, key.strip("/"), host)
    if m := _S3_VHOST.match(hostname):
        return ObjectURL(text, scheme, "s3", m.group("bucket"), path.strip("/"), host)
    if hostname.startswith("s3.") and hostname.endswith(".amazonaws.com") and bucket:
        return ObjectURL(text, scheme, "s3", bucket, key.strip("/"), host)
    return ObjectURL(text, scheme, "http", host=host, key=text)


#: How the part after ``scheme://`` reads (default: ``bucket/key``).
_PARSERS: dict[str, Callable[[str, str, str, Backend], ObjectURL]] = {
    "file": _parse_file, "memory": _parse_memory, "http": _parse_https, "https": _parse_https,
    "az": _parse_azure, "abfs": _parse_azure, "abfss": _parse_azure,
}
