"""Shared fixtures: real servers (session-scoped), an isolated environment per test, and one
parametrized ``rig`` fixture that runs the generic tests on every backend."""

from __future__ import annotations

import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"  # before gcsfs is ever imported
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))  # latency_proxy

from rigs import BACKENDS, Rig, make_rig  # noqa: E402

_CLEARED = ("AWS_", "OS_", "ST_", "GOOGLE_", "AZURE_", "SCRATCH_", "OBJSTORE_",
            "STORAGE_EMULATOR_HOST")


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No credentials or config from the developer's machine leak into a test."""
    from objstore import format_memo
    from objstore.registry import _reset_cache

    for name in list(os.environ):
        if name.startswith(_CLEARED):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("OBJSTORE_CONFIG", str(home / "objstore" / "profiles.toml"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / ".aws" / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / ".aws" / "credentials"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
    _reset_cache()
    format_memo.clear()  # reloads from this test's empty cache dir
    return home


@pytest.fixture(scope="session")
def server_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("servers")


def _session_server(start: str, subdir: str):  # type: ignore[no-untyped-def]
    """A session fixture that starts ``servers.<module>.<start>(server_logs / subdir)``."""

    @pytest.fixture(scope="session")
    def fixture(server_logs: Path):  # type: ignore[no-untyped-def]
        import importlib

        module, func = start.rsplit(".", 1)
        (server_logs / subdir).mkdir(exist_ok=True)
        server = getattr(importlib.import_module(module), func)(server_logs / subdir)
        yield server
        server.stop()

    return fixture


moto = _session_server("servers.moto.start_moto", "moto")
swift_server = _session_server("servers.swift.start_swift", "swift")
gcs_server = _session_server("servers.gcs.start_gcs", "gcs")
azurite = _session_server("servers.azurite.start_azurite", "azurite")


@pytest.fixture(scope="session")
def keystone_server(server_logs: Path, swift_server):
    from servers.keystone import start_keystone

    server = start_keystone(server_logs / "keystone", swift_server)
    yield server
    server.stop()


def _server_for(request: pytest.FixtureRequest, backend: str) -> object:
    fixture = {"s3": "moto", "swift": "swift_server", "gcs": "gcs_server", "azure": "azurite"}[backend]
    return request.getfixturevalue(fixture)


def _fresh_rig(request: pytest.FixtureRequest, backend: str) -> Rig:
    return make_rig(backend, _server_for(request, backend), f"t{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=BACKENDS)
def rig(request: pytest.FixtureRequest) -> Rig:
    """A fresh bucket on one real server, with an authenticated profile for it."""
    return _fresh_rig(request, request.param)


#: (backend, I/O engine) pairs: every backend, and obstore where objstore offers it
COUNTED = [("s3", "fsspec"), ("s3", "obstore"), ("swift", "fsspec"), ("gcs", "fsspec"),
           ("azure", "fsspec"), ("azure", "obstore")]


@dataclass
class Counted:
    rig: Rig
    proxy: Any  # benchmarks/latency_proxy.LatencyProxy, recording requests
    profile: Any  # the rig's profile, through the proxy
    engine: str


@pytest.fixture(params=COUNTED, ids=lambda p: f"{p[0]}-{p[1]}")
def counted(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A fresh rig with a request-counting proxy in front of its server."""
    from latency_proxy import LatencyProxy
    from rigs import profile_via, server_port

    backend, engine = request.param
    monkeypatch.setenv("OBJSTORE_ENGINE", engine)
    rig = _fresh_rig(request, backend)
    with LatencyProxy("127.0.0.1", server_port(rig), delay_s=0.0, record=True) as px:
        yield Counted(rig, px, profile_via(rig, px.url), engine)


@pytest.fixture
def s3_rig(request: pytest.FixtureRequest) -> Rig:
    return _fresh_rig(request, "s3")


@pytest.fixture
def gcs_rig(request: pytest.FixtureRequest) -> Rig:
    return _fresh_rig(request, "gcs")


@pytest.fixture
def azure_rig(request: pytest.FixtureRequest) -> Rig:
    return _fresh_rig(request, "azure")


@pytest.fixture
def small_cube():
    import numpy as np
    import pandas as pd
    import xarray as xr

    rng = np.random.default_rng(42)
    time = pd.date_range("2026-01-01", periods=8, freq="D")
    return xr.Dataset(
        {
            "tas": (("time", "lat", "lon"), rng.standard_normal((8, 4, 5)).astype("float32"),
                    {"units": "K", "long_name": "air temperature"}),
            "pr": (("time", "lat", "lon"), rng.gamma(1.0, 1.0, (8, 4, 5)), {"units": "mm"}),
            "mask": (("lat", "lon"), rng.integers(0, 2, (4, 5)).astype("int8")),
        },
        coords={"time": time, "lat": [10.0, 20.0, 30.0, 40.0], "lon": [0.0, 1.0, 2.0, 3.0, 4.0]},
        attrs={"title": "test cube", "Conventions": "CF-1.8"},
    ).chunk({"time": 2})


_exit_status: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _exit_status.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """End the process right after pytest's summary: at interpreter exit adlfs's and aiohttp's
    finalizers print 'Loop is not running' tracebacks, which would bury the summary line. The
    servers are already stopped by their session fixtures. OBJSTORE_TEST_SOFT_EXIT=1 disables it."""
    if _exit_status and not os.environ.get("OBJSTORE_TEST_SOFT_EXIT"):
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status[-1])
