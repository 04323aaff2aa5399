"""GCS rig: a fresh bucket on gcp-storage-emulator, reached with a real service-account flow.

The profile's ``token_file`` is a service-account JSON whose ``token_uri`` is a local token endpoint
(``servers/token_endpoint.py``): google-auth signs a JWT, exchanges it for a bearer token, and gcsfs
sends that token to the emulator (which accepts any). One endpoint and one key file per process.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from rigs import Rig

from objstore.profiles import GCSProfile, Source

PROJECT = "test"
_lock = threading.Lock()
_state: dict[str, Any] = {}


def token_endpoint() -> Any:
    """The process-wide token endpoint (started on first use)."""
    _service_account()
    return _state["endpoint"]


def service_account_file() -> Path:
    """The process-wide service-account JSON file (its token_uri is :func:`token_endpoint`)."""
    return _service_account()


def _service_account() -> Path:
    from servers.token_endpoint import start_token_endpoint, write_service_account_json

    with _lock:
        if "file" not in _state:
            ep = start_token_endpoint()
            folder = Path(tempfile.mkdtemp(prefix="objstore-gcs-sa-"))
            atexit.register(shutil.rmtree, folder, True)
            atexit.register(ep.stop)
            _state["endpoint"] = ep
            _state["file"] = write_service_account_json(folder / "service-account.json", ep)
        return _state["file"]


def make(server: Any, bucket: str) -> Rig:
    server.create_bucket(bucket)
    sa = service_account_file()
    profile = GCSProfile(name="gcs-emulator", token_file=sa, endpoint_url=server.endpoint,
                         project=PROJECT, source=Source(kind="test"))
    env = {"STORAGE_EMULATOR_HOST": server.endpoint, "GOOGLE_APPLICATION_CREDENTIALS": str(sa),
           "GOOGLE_CLOUD_PROJECT": PROJECT}
    plain = server.storage_options()  # {"endpoint_url", "token": "anon", "project": "test"}
    return Rig("gcs", "gs", bucket, profile, env, plain, server)
