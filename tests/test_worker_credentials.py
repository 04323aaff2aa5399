"""Credentials that outlive a dask job (issue 13, item 9), in real worker processes.

A ``distributed.LocalCluster`` worker unpickles a lazily opened cube and reads it through a slow
link (a latency proxy) for longer than one token lives: Swift tempauth tokens of 3 s, Keystone
tokens of a few seconds (a second Keystone process with a short ``[token] expiration``, on the
same database and keys), GCS access tokens that gcsfs counts as stale a few seconds after issue.
Workers see their own empty cache, and either the same objstore config file or none at all.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask
import numpy as np
import pytest
import xarray as xr
from latency_proxy import LatencyProxy
from rigs import make_rig

import objstore
from objstore.errors import CredentialsError
from objstore.profiles import Source, SwiftProfile
from objstore.swift import get_token

distributed = pytest.importorskip("distributed")

DELAY = 0.08  # seconds each way per request: the 32-chunk read takes several token lifetimes


def _cube(steps: int = 32) -> xr.Dataset:
    rng = np.random.default_rng(7)
    data = rng.standard_normal((steps, 500)).astype("f4")
    return xr.Dataset({"v": (("time", "x"), data)}).chunk({"time": 1})


@contextlib.contextmanager
def _cluster(env: dict[str, str]) -> Iterator[Any]:
    """One worker process, one thread (so its requests come one after the other)."""
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None, env=env) as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        yield client


def _worker_env(tmp_path: Path, config: Path | None) -> dict[str, str]:
    """An empty home and token cache; ``config``: the objstore file it reads (None: nothing)."""
    home = tmp_path / "worker-home"
    (home / ".config").mkdir(parents=True, exist_ok=True)
    return {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "OBJSTORE_CONFIG": str(config or home / "no-objstore-config.toml")}


def _toml(path: Path, name: str, fields: dict[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(f'{k} = "{v}"\n' for k, v in fields.items())
    path.write_text(f'[profiles.{name}]\nbackend = "swift"\n{body}')
    return path


def _load_on(client: Any, ds: xr.Dataset) -> xr.Dataset:
    with dask.config.set(scheduler=client.get):
        return ds.load()


def _auths(proxy: LatencyProxy, path: str) -> int:
    return sum(1 for _method, target in proxy.requests if target.startswith(path))


# ---------------------------------------------------------------------------- Swift tempauth
@pytest.fixture
def swift_cube(swift_server: Any) -> str:
    """The URL of a cube in a fresh container."""
    rig = make_rig("swift", swift_server, f"w{os.urandom(6).hex()}")
    url = rig.url("job.zarr")
    objstore.write_cube(_cube(), url, profile=rig.profile)
    return url


@pytest.fixture
def swift_short(swift_server: Any, swift_cube: str) -> Iterator[tuple[Any, LatencyProxy, str]]:
    """A slow link to the Swift proxy whose tokens live 3 s."""
    with LatencyProxy("127.0.0.1", swift_server.short_proxy_port, delay_s=DELAY,
                      record=True) as proxy:
        yield swift_server, proxy, swift_cube


def _swift_fields(server: Any, proxy: LatencyProxy) -> dict[str, str]:
    return {"auth_url": f"{proxy.url}/auth/v1.0", "storage_url": f"{proxy.url}/v1/AUTH_test",
            "user": server.user, "key": server.key}


def test_named_profile_job_outlives_swift_tokens_and_ships_no_secret(swift_short, tmp_path,
                                                                      isolated_env):
    server, proxy, url = swift_short
    config = _toml(Path(os.environ["OBJSTORE_CONFIG"]), "lab", _swift_fields(server, proxy))
    ds = objstore.open_cube(url, profile="lab", chunks={"time": 1})
    token = get_token(**_swift_fields(server, proxy))[1]

    blob = pickle.dumps(ds)
    assert server.key.encode() not in blob and b"AUTH_tk" not in blob and token.encode() not in blob
    assert b"lab" in blob  # the profile travels by name

    proxy.reset_counts()
    with _cluster(_worker_env(tmp_path, config)) as client:
        back = _load_on(client, ds)
    xr.testing.assert_equal(back, _cube().load())
    # the worker authenticated by itself (its cache is empty) and again when its token aged
    assert _auths(proxy, "/auth/") >= 2


def test_code_profile_job_outlives_swift_tokens_on_workers_without_config(swift_short,
                                                                           tmp_path):
    server, proxy, url = swift_short
    profile = SwiftProfile(name="in-code", source=Source(kind="code"),
                           **_swift_fields(server, proxy))
    ds = objstore.open_cube(url, profile=profile, chunks={"time": 1})
    assert b"AUTH_tk" not in pickle.dumps(ds)  # credentials travel, never a token

    proxy.reset_counts()
    with _cluster(_worker_env(tmp_path, None)) as client:
        back = _load_on(client, ds)
    xr.testing.assert_equal(back, _cube().load())
    assert _auths(proxy, "/auth/") >= 2


def test_named_profile_unknown_to_the_worker_is_one_clear_error(swift_short, tmp_path):
    server, proxy, url = swift_short
    _toml(Path(os.environ["OBJSTORE_CONFIG"]), "lab", _swift_fields(server, proxy))
    ds = objstore.open_cube(url, profile="lab", chunks={"time": 1})
    with _cluster(_worker_env(tmp_path, None)) as client, \
            pytest.raises(CredentialsError) as info:
        _load_on(client, ds)
    msg = str(info.value)
    assert "'lab'" in msg and "OBJSTORE_CONFIG" in msg and "docs/swift.md" in msg
    assert server.key not in msg


def _read_revoking(ds: xr.Dataset, memcache_port: int) -> float:
    """On a worker: read one chunk, drop every token on the server, read the rest."""
    import time

    with dask.config.set(scheduler="synchronous"):
        first = float(ds.v.isel(time=0).values.sum(dtype="f8"))
        with socket.create_connection(("127.0.0.1", memcache_port)) as s:
            s.sendall(b"flush_all\r\n")  # tempauth keeps its tokens in memcached
            s.recv(64)
        time.sleep(1.1)  # a flush applies to items set before the current second
        return first + float(ds.v.isel(time=slice(1, None)).values.sum(dtype="f8"))


def test_worker_renews_a_revoked_token_on_401(swift_server, swift_cube, tmp_path):
    """Long-lived tokens (a day), dropped by the server mid-job: the worker renews on the 401."""
    with LatencyProxy("127.0.0.1", swift_server.proxy_port, delay_s=0, record=True) as proxy:
        config = _toml(Path(os.environ["OBJSTORE_CONFIG"]), "lab",
                       _swift_fields(swift_server, proxy))
        ds = objstore.open_cube(swift_cube, profile="lab")
        proxy.reset_counts()
        with _cluster(_worker_env(tmp_path, config)) as client:
            total = client.submit(_read_revoking, ds, swift_server.memcache_port).result()
        auths = _auths(proxy, "/auth/")
    want = float(_cube().v.values.sum(dtype="f8"))
    assert total == pytest.approx(want, rel=1e-5)
    assert auths == 2  # the worker's first token, and one more after the 401
