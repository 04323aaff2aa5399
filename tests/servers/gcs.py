"""Google Cloud Storage emulator (PyPI ``gcp-storage-emulator``) test harness.

The emulator runs in a child Python process (this file run as a script), which is
``gcp_storage_emulator.server.create_server(host, port, in_memory=True)`` -- the same thing the
``gcp-storage-emulator start --in-memory`` console script runs -- plus two additions:

* a request log (JSON lines: method, path, Authorization header), since the emulator itself logs
  only the request line, never headers; read it with :meth:`GCSServer.requests` /
  :meth:`GCSServer.seen_bearer_tokens`. The emulator accepts and ignores any Authorization header.
* a larger listen backlog (the emulator serves one request at a time; the stdlib default backlog
  of 5 makes concurrent clients wait on TCP retransmits).

gcsfs: ``{"endpoint_url": server.endpoint, "token": "anon", "project": "test"}``.

IMPORTANT: ``GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false`` must be in the environment before gcsfs is
first imported (gcsfs/__init__ reads it; otherwise bucket operations stall ~60 s on a gRPC probe).
Importing this module sets it (if unset); a conftest.py should too.
"""

from __future__ import annotations

import os

os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

import atexit  # noqa: E402
import json  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

try:
    from ._util import ProcessServer, free_port, popen_kwargs, tail_file
except ImportError:  # run as a script (tests/servers on sys.path)
    from _util import ProcessServer, free_port, popen_kwargs, tail_file  # type: ignore[no-redef]

if "gcsfs" in sys.modules and os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"].lower() in (
    "true",
    "1",
):  # pragma: no cover
    warnings.warn(
        "gcsfs was imported with GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT enabled: bucket operations "
        "against the emulator will stall ~60s. Set it to 'false' before importing gcsfs.",
        stacklevel=2,
    )

# Environment that keeps google-auth/gcsfs from probing the GCE metadata server.
NO_METADATA_ENV = {"NO_GCE_CHECK": "true", "GCE_METADATA_HOST": "127.0.0.1:9", "GCE_METADATA_IP": "127.0.0.1:9"}


# ---------------------------------------------------------------- server handle
@dataclass
class GCSServer(ProcessServer):
    port: int
    request_log: Path
    log_path: Path
    _proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def storage_options(self, **extra) -> dict:
        """gcsfs options for anonymous access (the emulator enforces no auth)."""
        return {"endpoint_url": self.endpoint, "token": "anon", "project": "test", **extra}

    def _get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.endpoint + path, timeout=30) as r:
            return r.read()

    def reset(self, keep_buckets: bool = False) -> None:
        """Delete all buckets and objects (the emulator's own ``GET /wipe``)."""
        self._get("/wipe" + ("?keep-buckets=1" if keep_buckets else ""))

    def create_bucket(self, name: str) -> None:
        req = urllib.request.Request(
            f"{self.endpoint}/storage/v1/b?project=test",
            data=json.dumps({"name": name}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(req, timeout=30).close()

    # --- request recording
    def _log(self) -> list[dict]:
        try:
            text = self.request_log.read_text()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def requests(self) -> list[dict]:
        """Every request the emulator received: {"method", "path", "authorization"}."""
        return [r for r in self._log() if r["method"] != "UPLOAD"]

    def uploaded_names(self) -> list[str]:
        """Names of the objects uploaded (media and multipart POSTs), in the order the emulator
        took them."""
        return [r["name"] for r in self._log() if r["method"] == "UPLOAD"]

    def seen_authorization_headers(self) -> list[str]:
        return [r["authorization"] for r in self.requests() if r.get("authorization")]

    def seen_bearer_tokens(self) -> list[str]:
        """Bearer tokens seen, in order, without the 'Bearer ' prefix."""
        out = []
        for h in self.seen_authorization_headers():
            scheme, _, tok = h.partition(" ")
            if scheme.lower() == "bearer":
                out.append(tok.strip())
        return out

    def clear_request_log(self) -> None:
        # truncate in place: the child appends with O_APPEND
        with open(self.request_log, "w"):
            pass



def _wait_ready(proc, port, log, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gcs emulator exited with {proc.returncode}:\n{tail_file(log)}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.05)
    raise TimeoutError(f"gcs emulator not ready on port {port} after {timeout}s:\n{tail_file(log)}")


def start_gcs(tmp: Path, timeout: float = 30.0, verbose: bool = False) -> GCSServer:
    """Start the emulator (in-memory) in a child process on a free 127.0.0.1 port."""
    tmp = Path(tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    last_err: Exception | None = None
    for _ in range(3):
        port = free_port()
        log = tmp / f"gcs-emulator-{port}.log"
        reqlog = tmp / f"gcs-requests-{port}.jsonl"
        reqlog.touch()
        cmd = [sys.executable, str(Path(__file__).resolve()), "--port", str(port),
               "--request-log", str(reqlog)]
        if verbose:
            cmd.append("--verbose")
        with open(log, "wb") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, cwd=tmp, **popen_kwargs())
        server = GCSServer(port=port, request_log=reqlog, log_path=log, _proc=proc)
        atexit.register(server.stop)
        try:
            _wait_ready(proc, port, log, timeout)
            return server
        except Exception as e:  # noqa: BLE001
            last_err = e
            server.stop()
            if "Address already in use" not in tail_file(log):
                break
    raise RuntimeError(f"could not start the GCS emulator: {last_err}")


# ---------------------------------------------------------------- child process entry point
def _exact_multipart_uploads(emu, on_upload) -> None:  # pragma: no cover - runs in the child
    """The emulator parses multipart uploads with ``email``, which drops a trailing ``\\r`` from the
    object's bytes (1 object in 256 of random data). Split the body on the boundary instead.
    ``on_upload(name)`` is told each object name (in the body of a multipart upload, in the URL
    of a media upload)."""
    original = emu._read_data

    def read_data(handler, query):
        ctype = handler.headers.get("Content-Type") or ""
        if not ctype.startswith("multipart/related"):
            if query.get("uploadType") in ("media", ["media"]) and query.get("name"):
                name = query["name"]
                on_upload(name[0] if isinstance(name, list) else name)
            return original(handler, query)
        raw = emu._decode_raw_data(emu._read_raw_data(handler), handler)
        boundary = ctype.split("boundary=", 1)[1].strip().strip('"').encode()
        parts = [p for p in raw.split(b"--" + boundary)[1:] if not p.startswith(b"--")]
        eol = b"\r\n" if parts and parts[0].startswith(b"\r\n") else b"\n"  # gcsfs sends bare \n
        docs = []
        for part in parts:
            head, _, body = part.partition(eol + eol)
            docs.append((head, body[: -len(eol)] if body.endswith(eol) else body))
        meta_head, meta = docs[0]
        content_head, content = docs[1]
        content_type = "application/octet-stream"
        for line in content_head.decode("latin-1").splitlines():
            if line.lower().startswith("content-type:"):
                content_type = line.split(":", 1)[1].strip()
        meta_doc = json.loads(meta)
        on_upload(meta_doc.get("name"))
        return {"meta": meta_doc, "content": content, "content-type": content_type}

    emu._read_data = read_data


def _serve(argv: list[str]) -> None:  # pragma: no cover - runs in the child
    import argparse
    import logging
    from http import server as http_server

    from gcp_storage_emulator import server as emu

    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--request-log", required=True)
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args(argv)

    logging.basicConfig(level=logging.DEBUG if a.verbose else logging.ERROR,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")

    fd = os.open(a.request_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    class RecordingHandler(emu.RequestHandler):
        timeout = 120  # never let one stuck client block the single-threaded server forever

        def parse_request(self):
            ok = super().parse_request()
            if ok:
                rec = {"method": self.command, "path": self.path,
                       "authorization": self.headers.get("Authorization")}
                os.write(fd, (json.dumps(rec) + "\n").encode())
            return ok

    class BigBacklogHTTPServer(http_server.HTTPServer):
        request_queue_size = 256

    # Bind here (main thread) so "address in use" fails the process instead of hanging start().
    httpd = BigBacklogHTTPServer((a.host, a.port), lambda *args, **kw: None, bind_and_activate=True)

    def run(self):  # replaces APIThread.run: same server, our handler and backlog
        httpd.RequestHandlerClass = lambda *args, **kw: RecordingHandler(self._storage, *args, **kw)
        self._httpd = httpd
        self.is_running.set()
        httpd.serve_forever()

    emu.APIThread.run = run
    def on_upload(name: str | None) -> None:
        os.write(fd, (json.dumps({"method": "UPLOAD", "name": name}) + "\n").encode())

    _exact_multipart_uploads(emu, on_upload)
    srv = emu.create_server(a.host, a.port, in_memory=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    srv.start()
    print(f"gcs emulator listening on {a.host}:{a.port}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        srv.stop()


if __name__ == "__main__":  # pragma: no cover
    _serve(sys.argv[1:])
