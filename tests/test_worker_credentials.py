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
                                  dashboard_address=":0", env=env) as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        yield client


def _worker_env(tmp_path: Path, config: Path | None) -> dict[str, str]:
    """An empty home and token cache; ``config``: the objstore file it reads (None: nothing)."""
    home = tmp_path / "worker-home"
    (home / ".config").mkdir(parents=True, exist_ok=True)
    return {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "OBJSTORE_CONFIG": str(config or home / "no-objstore-config.toml")}


def _toml(path: Path, name: str, fields: dict[str, str], backend: str = "swift") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(f'{k} = "{v}"\n' for k, v in fields.items())
    path.write_text(f'[profiles.{name}]\nbackend = "{backend}"\n{body}')
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


def test_named_profile_write_through_workers_outlives_swift_tokens(swift_server, tmp_path):
    """``write_cube`` with dask workers writing the chunks, for longer than a token lives."""
    rig = make_rig("swift", swift_server, f"w{os.urandom(6).hex()}")
    url = rig.url("written.zarr")
    with LatencyProxy("127.0.0.1", swift_server.short_proxy_port, delay_s=DELAY,
                      record=True) as proxy:
        config = _toml(Path(os.environ["OBJSTORE_CONFIG"]), "lab",
                       _swift_fields(swift_server, proxy))
        with _cluster(_worker_env(tmp_path, config)) as client, \
                dask.config.set(scheduler=client.get):
            proxy.reset_counts()
            objstore.write_cube(_cube(), url, profile="lab")
        puts = [t for m, t in proxy.requests if m == "PUT" and "/v/" in t]
        auths = _auths(proxy, "/auth/")
    xr.testing.assert_equal(objstore.open_cube(url, profile=rig.profile).load(), _cube().load())
    assert len(puts) >= 32 and auths >= 3  # this process's token, the worker's, and renewals


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


def test_named_profile_options_hold_no_secret_yet_authenticate(swift_server, swift_cube):
    """The options of a config-file profile name it; `objstore swift token` still works."""
    from cli_runner import run_cli

    fields = {"auth_url": swift_server.auth_url, "user": swift_server.user,
              "key": swift_server.key}
    _toml(Path(os.environ["OBJSTORE_CONFIG"]), "lab", fields)
    r = objstore.resolve(swift_cube, "lab")
    shown = repr(r.storage_options) + str(r.storage_options) + repr(r.fs)
    assert "key" not in r.storage_options and swift_server.key not in shown and "'lab'" in shown
    assert objstore.filesystem(swift_cube, "lab").exists(swift_cube)
    assert "OS_AUTH_TOKEN=AUTH_tk" in run_cli("swift", "token", "--profile", "lab")


def test_a_worker_whose_profile_is_someone_else_refuses_it(swift_server, swift_cube):
    """Same profile name, another user in the worker's config: refused, nothing sent as them."""
    fields = {"auth_url": swift_server.auth_url, "user": swift_server.user,
              "key": swift_server.key}
    config = _toml(Path(os.environ["OBJSTORE_CONFIG"]), "lab", fields)
    blob = pickle.dumps(objstore.open_cube(swift_cube, profile="lab"))
    _toml(config, "lab", {**fields, "user": swift_server.user3, "key": swift_server.key3})
    with pytest.raises(CredentialsError) as info:
        pickle.loads(blob).load()
    msg = str(info.value)
    assert "'lab'" in msg and swift_server.user in msg and "same objstore config" in msg
    assert swift_server.key3 not in msg


def test_what_travels_for_each_kind_of_swift_profile(tmp_path, monkeypatch):
    """clouds.yaml: the name only; ST_* variables: the credentials (workers may lack them)."""
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text("clouds:\n  mycloud:\n    auth:\n      auth_url: http://ks.example/v3\n"
                      "      username: u\n      password: pw-SECRET\n      project_name: p\n")
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds))
    monkeypatch.setenv("ST_AUTH", "http://swift.example/auth/v1.0")
    monkeypatch.setenv("ST_USER", "a:b")
    monkeypatch.setenv("ST_KEY", "st-SECRET")
    by_name = pickle.dumps(objstore.filesystem("swift://c/x.zarr", "mycloud"))
    assert b"pw-SECRET" not in by_name and b"mycloud" in by_name
    from_env = pickle.loads(pickle.dumps(objstore.filesystem("swift://c/x.zarr", "swift-env")))
    assert from_env.credentials.key == "st-SECRET"


# ---------------------------------------------------------------------------- Keystone v3
KEYSTONE_TOKEN_LIFE = 5  # seconds; renewed a quarter of that before expiry


@pytest.fixture(scope="module")
def short_keystone(keystone_server: Any) -> Iterator[str]:
    """A second Keystone process on the same database and keys, issuing 5 s tokens (the Swift
    proxy validates them through the first one, which refuses them once expired)."""
    from servers._util import SYSTEM_PYTHON, free_port, start_process, stop_all, wait_for_http
    from servers.keystone import KEYSTONE_WSGI

    conf = keystone_server.root / "keystone-short.conf"
    text = (keystone_server.root / "keystone.conf").read_text()
    conf.write_text(text.replace("expiration = 86400", f"expiration = {KEYSTONE_TOKEN_LIFE}"))
    port = free_port()
    proc = start_process("keystone-short", [SYSTEM_PYTHON, KEYSTONE_WSGI, "--host", "127.0.0.1",
                                            "--port", str(port)],
                         keystone_server.root / "logs" / "keystone-short.log",
                         env={"OS_KEYSTONE_CONFIG_FILES": str(conf)})
    try:
        wait_for_http(f"http://127.0.0.1:{port}/v3", 120, [proc], ok=lambda s: s == 200)
        yield f"127.0.0.1:{port}"
    finally:
        stop_all([proc])


def test_keystone_job_outlives_its_tokens_and_ships_no_secret(keystone_server, short_keystone,
                                                              swift_server, tmp_path):
    ks = keystone_server
    host, port = short_keystone.split(":")
    with LatencyProxy(host, int(port), delay_s=0, record=True) as identity, \
            LatencyProxy("127.0.0.1", ks.proxy_port, delay_s=DELAY) as storage:
        fields = {"auth_version": "3", "auth_url": f"{identity.url}/v3", "user": ks.username,
                  "key": ks.password, "project_name": ks.project_name,
                  "user_domain_name": ks.user_domain_name,
                  "project_domain_name": ks.project_domain_name, "region_name": ks.region_name,
                  "storage_url": f"{storage.url}/v1/AUTH_{ks.project_id}"}
        config = _toml(Path(os.environ["OBJSTORE_CONFIG"]), "cloud", fields)
        url = f"swift://k{os.urandom(6).hex()}/job.zarr"
        objstore.write_cube(_cube(), url, profile="cloud")
        ds = objstore.open_cube(url, profile="cloud", chunks={"time": 1})
        blob = pickle.dumps(ds)
        assert ks.password.encode() not in blob and b"gAAAAA" not in blob  # fernet tokens

        identity.reset_counts()
        with _cluster(_worker_env(tmp_path, config)) as client:
            back = _load_on(client, ds)
        auths = _auths(identity, "/v3/auth/tokens")
    xr.testing.assert_equal(back, _cube().load())
    assert auths >= 2


# ---------------------------------------------------------------------------- GCS
#: gcsfs refreshes a token with less than 300 s left: tokens of 303 s are stale 3 s after issue
GCS_EXPIRES_IN = 303
GCS_TOKEN_LIFE = 6  # the gate refuses a token this long after it first saw it


class _TokenGate:
    """An HTTP proxy in front of the GCS emulator (which accepts any token) that answers 401 to
    a bearer token it first saw more than ``life`` seconds ago, and slows every request."""

    def __init__(self, upstream: str, life: float, delay: float) -> None:
        import http.client
        import threading
        import time
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import urlsplit

        up = urlsplit(upstream)
        seen: dict[str, float] = {}
        self.refused = 0
        gate = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                token = self.headers.get("Authorization", "")
                first = seen.setdefault(token, time.time())
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(2 * delay)
                if not token or time.time() - first > life:
                    gate.refused += 1
                    return self._send(401, {}, b'{"error": {"code": 401}}')
                conn = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                self._send(resp.status, dict(resp.getheaders()), data)

            def _send(self, status: int, headers: dict[str, str], data: bytes) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection",
                                         "date", "server"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _any  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def test_gcs_job_outlives_its_tokens_on_workers_without_config(gcs_server, tmp_path):
    import rigs_gcs

    rig = make_rig("gcs", gcs_server, f"g{os.urandom(6).hex()}")
    url = rig.url("job.zarr")
    objstore.write_cube(_cube(), url, profile=rig.profile)
    endpoint = rigs_gcs.token_endpoint()
    gate = _TokenGate(gcs_server.endpoint, GCS_TOKEN_LIFE, DELAY)
    saved = endpoint.expires_in
    endpoint.expires_in = GCS_EXPIRES_IN
    try:
        fields = {"token_file": str(rigs_gcs.service_account_file()), "endpoint_url": gate.url,
                  "project": rigs_gcs.PROJECT}
        _toml(Path(os.environ["OBJSTORE_CONFIG"]), "gcp", fields, backend="gcs")
        ds = objstore.open_cube(url, profile="gcp", chunks={"time": 1})
        blob = pickle.dumps(ds)
        assert b"PRIVATE KEY" not in blob and b"ya29." not in blob  # the key file's path travels

        issued = len(endpoint.issued_tokens)
        with _cluster(_worker_env(tmp_path, None)) as client:
            back = _load_on(client, ds)
        issued = len(endpoint.issued_tokens) - issued
    finally:
        endpoint.expires_in = saved
        gate.close()
    xr.testing.assert_equal(back, _cube().load())
    assert issued >= 2 and gate.refused == 0


def test_gcs_worker_without_the_key_file_gets_one_clear_error(gcs_server, tmp_path):
    import shutil
    import subprocess
    import sys

    import rigs_gcs

    rig = make_rig("gcs", gcs_server, f"g{os.urandom(6).hex()}")
    url = rig.url("job.zarr")
    objstore.write_cube(_cube(4), url, profile=rig.profile)
    key_file = tmp_path / "sa.json"
    shutil.copy(rigs_gcs.service_account_file(), key_file)
    _toml(Path(os.environ["OBJSTORE_CONFIG"]), "gcp", {
        "token_file": str(key_file), "endpoint_url": gcs_server.endpoint,
        "project": rigs_gcs.PROJECT}, backend="gcs")
    (tmp_path / "job.pickle").write_bytes(pickle.dumps(objstore.open_cube(url, profile="gcp")))
    key_file.unlink()  # as on a worker that does not have it

    script = ("import pickle, sys, objstore\n"
              "try:\n"
              "    pickle.load(open(sys.argv[1], 'rb')).load()\n"
              "except objstore.errors.CredentialsError as exc:\n"
              "    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "job.pickle")],
                         capture_output=True, text=True, timeout=120)
    assert f"token_file {key_file} of profile 'gcp'" in out.stdout, out.stderr[-2000:]
    assert "same path on every worker" in out.stdout
