"""Azurite (Azure Blob emulator) test harness.

Starts ``azurite-blob`` (installed by ``scripts/install-servers.sh`` into ``.servers/``) on a free
127.0.0.1 port with in-memory persistence, and gives the adlfs / azure-storage-blob settings that
reach it.

adlfs against Azurite (adlfs >= 2024 builds ``https://{account_host}`` URLs, so ``account_name`` /
``account_host`` / ``sas_token`` options cannot reach a plain-http emulator): use a connection
string in every case -- see :meth:`AzuriteServer.storage_options`:

* account key: ``{"connection_string": server.connection_string}``
* SAS:         ``{"connection_string": "BlobEndpoint=<endpoint>;SharedAccessSignature=<sas>"}``
* anonymous:   ``{"connection_string": "BlobEndpoint=<endpoint>;"}``
"""

from __future__ import annotations

import atexit
import datetime as _dt
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

try:
    from ._util import ProcessServer, free_port, popen_kwargs, tail_file
except ImportError:  # run as a script (tests/servers on sys.path)
    from _util import ProcessServer, free_port, popen_kwargs, tail_file  # type: ignore[no-redef]

REPO_ROOT = Path(__file__).resolve().parents[2]
AZURITE_BIN = REPO_ROOT / ".servers" / "node_modules" / ".bin" / "azurite-blob"

ACCOUNT_NAME = "devstoreaccount1"
# The well-known, public Azurite development key (not a secret).
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


# ---------------------------------------------------------------- server
@dataclass
class AzuriteServer(ProcessServer):
    port: int
    account_name: str = ACCOUNT_NAME
    account_key: str = ACCOUNT_KEY
    log_path: Path | None = None
    _proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def blob_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.account_name}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={self.account_name};"
            f"AccountKey={self.account_key};BlobEndpoint={self.blob_endpoint};"
        )

    def sas_connection_string(self, sas: str) -> str:
        return f"BlobEndpoint={self.blob_endpoint};SharedAccessSignature={sas.lstrip('?')}"

    @property
    def anonymous_connection_string(self) -> str:
        return f"BlobEndpoint={self.blob_endpoint};"

    def storage_options(self, mode: str = "key", sas: str | None = None, **extra) -> dict:
        """adlfs storage_options. mode: "key" | "sas" (needs ``sas``) | "anon"."""
        if mode == "key":
            cs = self.connection_string
        elif mode == "sas":
            if not sas:
                raise ValueError("mode='sas' needs sas=")
            cs = self.sas_connection_string(sas)
        elif mode in ("anon", "anonymous"):
            cs = self.anonymous_connection_string
        else:
            raise ValueError(f"unknown mode {mode!r}")
        return {"connection_string": cs, **extra}

    def service_client(self):
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string)

    def reset(self) -> None:
        """Delete every container (and so every blob)."""
        svc = self.service_client()
        with svc:
            for c in list(svc.list_containers()):
                svc.delete_container(c.name)



def _wait_ready(proc: subprocess.Popen, port: int, log: Path, timeout: float) -> None:
    url = f"http://127.0.0.1:{port}/{ACCOUNT_NAME}?comp=list"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"azurite-blob exited with {proc.returncode}:\n{tail_file(log)}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # 403 for an unsigned request: it is answering
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"azurite-blob not ready on port {port} after {timeout}s:\n{tail_file(log)}")


def start_azurite(tmp: Path, timeout: float = 30.0, debug_log: bool = False) -> AzuriteServer:
    """Start azurite-blob on a free 127.0.0.1 port; returns once it answers HTTP.

    ``debug_log=True`` adds ``--debug <tmp>/azurite-debug.log`` (every request, verbose).
    """
    if not AZURITE_BIN.exists():
        raise RuntimeError(
            f"Azurite is not installed ({AZURITE_BIN} missing). Run scripts/install-servers.sh "
            f"(npm install --prefix {REPO_ROOT / '.servers'} azurite@3.35.0)."
        )
    tmp = Path(tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    last_err: Exception | None = None
    for _attempt in range(3):  # retry if another process grabbed the port meanwhile
        port = free_port()
        log = tmp / f"azurite-{port}.log"
        cmd = [
            str(AZURITE_BIN), "--blobHost", "127.0.0.1", "--blobPort", str(port),
            "--inMemoryPersistence", "--skipApiVersionCheck", "--disableTelemetry", "--silent",
        ]  # (--location is refused together with --inMemoryPersistence; cwd is tmp)
        if debug_log:
            cmd += ["--debug", str(tmp / "azurite-debug.log")]
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=tmp, **popen_kwargs(),
            )
        server = AzuriteServer(port=port, log_path=log, _proc=proc)
        atexit.register(server.stop)
        try:
            _wait_ready(proc, port, log, timeout)
            return server
        except Exception as e:  # noqa: BLE001
            last_err = e
            server.stop()
            if "EADDRINUSE" not in tail_file(log):
                break
    raise RuntimeError(f"could not start Azurite: {last_err}")


# ---------------------------------------------------------------- helpers
def make_sas(
    server: AzuriteServer, container: str, permissions: str = "racwdl", expiry_hours: float = 1
) -> str:
    """Container SAS token (no leading '?') signed with the account key."""
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    now = _dt.datetime.now(_dt.UTC)
    return generate_container_sas(
        account_name=server.account_name,
        container_name=container,
        account_key=server.account_key,
        permission=ContainerSasPermissions.from_string(permissions),
        start=now - _dt.timedelta(minutes=5),  # tolerate clock skew
        expiry=now + _dt.timedelta(hours=expiry_hours),
    )


def create_container(server: AzuriteServer, name: str, public: bool = False) -> None:
    svc = server.service_client()
    with svc:
        svc.create_container(name, public_access="container" if public else None)


def create_public_container(server: AzuriteServer, name: str) -> None:
    """Container whose blobs and listing are readable anonymously."""
    create_container(server, name, public=True)
