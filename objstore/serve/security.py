"""ASGI middleware that makes the server safe on the open internet: bearer token (constant-time
compare), read-only methods, request size limits, traversal refusal, and errors as JSON that
never carry a traceback or a secret."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from ..errors import NotFoundError, ObjstoreError, scrub

__all__ = ["TokenAuth", "RequestLimits", "HeadAsGet", "JSONErrors", "send_json"]

log = logging.getLogger("objstore.serve")

Scope = dict[str, Any]
ASGIApp = Callable[..., Any]
READ_METHODS = {"GET", "HEAD", "OPTIONS"}
ADMIN_PREFIX = "/admin/"


async def send_json(send: Callable[..., Any], status: int, body: dict[str, Any],
                    headers: list[tuple[bytes, bytes]] = ()) -> None:  # type: ignore[assignment]
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode()), *headers]})
    await send({"type": "http.response.body", "body": data})


class TokenAuth:
    """401 unless ``Authorization: Bearer TOKEN``, except public paths and public datasets."""

    def __init__(self, app: ASGIApp, *, token: str, public_paths: list[str],
                 public_datasets: Callable[[], set[str]]) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()
        self.public_paths = [p.rstrip("/") or "/" for p in public_paths]
        self.public_datasets = public_datasets

    def _public(self, path: str) -> bool:
        for p in self.public_paths:
            if path == p or path.startswith(p.rstrip("/") + "/"):
                return True
        parts = path.split("/")
        return len(parts) > 2 and parts[1] == "datasets" and parts[2] in self.public_datasets()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] == "OPTIONS" or self._public(scope["path"]):
            return await self.app(scope, receive, send)
        given = dict(scope.get("headers") or []).get(b"authorization", b"")
        if hmac.compare_digest(given, self._expected):
            return await self.app(scope, receive, send)
        await send_json(send, 401, {"detail": "authentication required: send the header "
                                              "'Authorization: Bearer <token>'"},
                        [(b"www-authenticate", b"Bearer")])


class RequestLimits:
    """Read-only methods (POST only under /admin/), bounded URL and body, no traversal."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path, method = scope["path"], scope["method"]
        if method not in READ_METHODS and not (method == "POST" and path.startswith(ADMIN_PREFIX)):
            return await send_json(send, 405, {"detail": f"{method} is not allowed: this server "
                                                         "is read-only"},
                                   [(b"allow", b"GET, HEAD, OPTIONS")])
        raw = scope.get("raw_path") or path.encode()
        size = len(raw) + len(scope.get("query_string") or b"")
        length = dict(scope.get("headers") or []).get(b"content-length", b"0")
        body = int(length) if length.isdigit() else self.max_bytes + 1
        if size > self.max_bytes or body > self.max_bytes:
            return await send_json(send, 413, {"detail": f"request larger than this server's "
                                                          f"limit of {self.max_bytes} bytes",
                                               "limit_bytes": self.max_bytes})
        decoded = unquote(raw.decode("latin-1"))
        segments = decoded.split("/") + path.split("/")
        if any(s in (".", "..") for s in segments) or "\\" in decoded or "\x00" in decoded:
            return await send_json(send, 400, {"detail": "path segments '.', '..', backslashes "
                                                         "and NUL are not allowed"})
        await self.app(scope, receive, send)


class HeadAsGet:
    """HEAD answered as the GET of the same path, without the body (fsspec's HTTP filesystem
    asks HEAD for sizes and existence)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            return await self.app(scope, receive, send)

        async def headers_only(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body"):
                    return
                message = {"type": "http.response.body", "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


class JSONErrors:
    """An exception no route turned into a response becomes a JSON 404/502/500 with a scrubbed,
    one-line reason, and is logged without a traceback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:  # noqa: BLE001  (the boundary: nothing escapes as a traceback)
            status, reason, text = _status(exc)
            log.error("%s %s failed (%d): %s", scope["method"], scrub(scope["path"]), status, text)
            if not started:
                await send_json(send, status, {"detail": reason})


_BACKEND_MODULES = {"botocore", "aiobotocore", "aiohttp", "azure", "google", "requests",
                    "swiftclient", "s3fs", "gcsfs", "adlfs", "obstore"}


def _status(exc: BaseException) -> tuple[int, str, str]:
    """(status, reason for the client, text for the log)."""
    first = (str(exc).splitlines() or [""])[0]
    text = scrub(f"{type(exc).__name__}: {first}" if first else type(exc).__name__)[:300]
    if isinstance(exc, FileNotFoundError | NotFoundError | KeyError):
        return 404, f"not found: {text}", text
    foreign = type(exc).__module__.split(".")[0] in _BACKEND_MODULES
    if foreign or isinstance(exc, ObjstoreError | OSError | TimeoutError):
        return 502, f"the storage backend failed: {text}", text
    return 500, "internal server error (the server log has the error type)", text
