"""Run an objstore serve app with uvicorn in a thread on a free port, its logs in a buffer."""

from __future__ import annotations

import io
import socket
import threading
import time
from typing import Any

import uvicorn


class Running:
    """A served app: ``url``, the captured ``log_text()``; stop with :meth:`stop`."""

    def __init__(self, asgi: Any, *, json_logs: bool = False) -> None:
        from objstore.serve.logs import setup_logging

        self.buffer = io.StringIO()
        setup_logging(json_logs=json_logs, stream=self.buffer)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.app = asgi
        self.server = uvicorn.Server(uvicorn.Config(asgi, host="127.0.0.1", port=self.port,
                                                    access_log=False, log_config=None))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.buffer.getvalue()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
