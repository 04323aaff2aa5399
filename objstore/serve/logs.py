"""One access-log line per request (client, method, path, status, bytes, ms), as text in the
common log style or as JSON (``--json-logs``). Paths are logged without query strings."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from ..errors import scrub

__all__ = ["AccessLog", "JSONFormatter", "setup_logging"]

access_log = logging.getLogger("objstore.serve.access")


class AccessLog:
    """ASGI middleware: log each HTTP request once it has been answered."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status, sent = 500, 0

        async def counting_send(message: dict[str, Any]) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            ms = (time.perf_counter() - start) * 1000
            client = (scope.get("client") or ("-", 0))[0]
            path = scrub(scope.get("path", ""))
            access_log.info(
                '%s - "%s %s HTTP/%s" %d %d %.1fms', client, scope["method"], path,
                scope.get("http_version", "1.1"), status, sent, ms,
                extra={"access": {"client": client, "method": scope["method"], "path": path,
                                  "status": status, "bytes": sent, "ms": round(ms, 1)}},
            )


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the access fields)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        access = getattr(record, "access", None)
        if access:
            out.update(access)
        else:
            out["message"] = scrub(record.getMessage())
        return json.dumps(out)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def setup_logging(*, json_logs: bool = False, level: int = logging.INFO,
                  stream: Any = None) -> logging.Handler:
    """Send objstore.serve's and uvicorn's logs to ``stream`` (stderr) as text or JSON."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JSONFormatter() if json_logs else
                         _TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("objstore.serve", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
    return handler
