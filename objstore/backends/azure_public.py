"""Make an Azure container public: public access level ``container`` (anonymous reads and
listings).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..errors import CredentialsError
from .base import PublicResult

if TYPE_CHECKING:
    from ..api import Resolved


def container_url(r: Resolved) -> str:
    fs: Any = r.fs
    client = fs.service_client
    return str(client.url).split("?")[0].rstrip("/") + "/" + quote(r.url.bucket, safe="")


def set_access(r: Resolved, public_access: str | None) -> None:
    from fsspec.asyn import sync

    fs: Any = r.fs

    async def go() -> None:
        container = fs.service_client.get_container_client(r.url.bucket)
        await container.set_container_access_policy(signed_identifiers={},
                                                    public_access=public_access)

    sync(fs.loop, go)


def make_public(r: Resolved) -> PublicResult:
    try:
        set_access(r, "container")
    except Exception as exc:
        text = str(exc)
        if "PublicAccessNotPermitted" in text or "public access is not permitted" in text.lower():
            raise CredentialsError(
                f"cannot make {r.url.url} public: the storage account does not allow public blob "
                "access (enable 'Allow Blob anonymous access' on the account)") from None
        raise
    return PublicResult(r.backend.public_url(r), "Azure container public access: container")


