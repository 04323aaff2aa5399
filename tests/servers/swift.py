"""A real OpenStack Swift "all in one" on 127.0.0.1 for the test suite.

``start_swift(tmp)`` starts memcached, the account/container/object servers and two tempauth
proxies (the main one with ``token_life = 86400`` and a "short" one with ``token_life = 3`` for
re-authentication tests) on free ports, with everything (configs, rings, devices, logs) under
``tmp``. The servers are Debian's packages (``swift swift-proxy swift-account swift-container
swift-object memcached``) and run with ``/usr/bin/python3``.

Accounts/users (tempauth): ``test:tester``/``testing`` (.admin, may set ACLs) and
``test:tester3``/``testing3`` (not admin), both on account ``AUTH_test``;
``admin:admin``/``admin`` is a reseller admin. Tokens are shared between the proxies (one
memcached), but each proxy hands out storage URLs pointing at itself.

Notes: the object server keeps metadata in ``user.*`` xattrs (ext4 under ``tmp`` works, about
4 KB of metadata per object fits; if ``tmp`` lacks xattrs a folder under /var/tmp, /tmp or
/dev/shm is used and removed by ``stop()``). Logs: ``tmp/logs/<server>.log`` (syslog goes to
an unused UDP port). SLO/DLO segment rate limiting is off, so tiny segments are fine.
"""

from __future__ import annotations

import array
import atexit
import gzip
import json
import os
import struct
import sys
import tempfile
import textwrap
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from servers._util import (
    SYSTEM_PYTHON,
    ManagedProcess,
    ProcessGroup,
    ServerError,
    free_ports,
    free_udp_port,
    http_request,
    start_process,
    supports_user_xattr,
    tcp_open,
    wait_until,
)

__all__ = ["ServerError", "SwiftServer", "port_clash", "reset_account", "start_swift", "write_ring"]

SWIFT_BIN = "/usr/bin"
MEMCACHED = "/usr/bin/memcached"
STARTUP_TIMEOUT = 60.0

# Main proxy pipeline (as seen to work, see shared/SERVERS.md).
TEMPAUTH_PIPELINE = (
    "catch_errors gatekeeper healthcheck proxy-logging cache listing_formats "
    "bulk tempurl s3api tempauth copy slo dlo proxy-logging proxy-server"
)
# Short-token proxy: the same plus `harness_authns`, see _AUTHNS_MODULE.
SHORT_PIPELINE = (
    "catch_errors gatekeeper healthcheck proxy-logging cache listing_formats "
    "bulk tempurl s3api harness_authns tempauth copy slo dlo proxy-logging "
    "proxy-server"
)

# tempauth reuses a user's still-valid token, keyed "AUTH_/user/<user>" in memcache. All proxies
# share one memcached (so their container/account info caches stay coherent), hence the short
# proxy would hand out the main proxy's 24 h token. This filter, placed before tempauth on the
# short proxy only, gives that key a private namespace for token requests. Tokens themselves
# ("AUTH_/token/<tok>") stay shared, so any proxy accepts any still-valid token.
_AUTHNS_MODULE = """
class _Namespaced(object):
    def __init__(self, mc, ns):
        self._mc = mc
        self._ns = ns

    def _k(self, key):
        return self._ns + key if key.startswith("AUTH_/user/") else key

    def get(self, key, *a, **kw):
        return self._mc.get(self._k(key), *a, **kw)

    def set(self, key, *a, **kw):
        return self._mc.set(self._k(key), *a, **kw)

    def delete(self, key, *a, **kw):
        return self._mc.delete(self._k(key), *a, **kw)

    def __getattr__(self, name):
        return getattr(self._mc, name)


def filter_factory(global_conf, **local_conf):
    ns = local_conf.get("namespace", "harness") + ":"

    def factory(app):
        def middleware(env, start_response):
            mc = env.get("swift.cache")
            if mc is not None and env.get("PATH_INFO", "").startswith("/auth/"):
                env["swift.cache"] = _Namespaced(mc, ns)
            return app(env, start_response)
        return middleware
    return factory
"""


@dataclass
class SwiftServer(ProcessGroup):
    root: Path  # temp dir with configs (etc/), rings (etc/), devices, logs
    auth_url: str  # http://127.0.0.1:PORT/auth/v1.0 (main proxy, token_life = 86400)
    short_auth_url: str  # second proxy, same rings/backends, token_life = 3 s
    storage_url: str  # http://127.0.0.1:PORT/v1/AUTH_test (main proxy)
    proxy_port: int
    short_storage_url: str  # http://127.0.0.1:SHORT_PORT/v1/AUTH_test
    short_proxy_port: int
    memcache_port: int
    swift_dir: Path  # configs + rings
    devices: Path  # object/container/account data (needs user xattrs)
    backend_ports: dict[str, int]  # {"account": .., "container": .., "object": ..}
    log_udp_port: int
    user: str = "test:tester"
    key: str = "testing"
    user3: str = "test:tester3"
    key3: str = "testing3"
    short_token_life: int = 3
    processes: list[ManagedProcess] = field(default_factory=list, repr=False)
    _cleanup_dirs: list[Path] = field(default_factory=list, repr=False)
    _stopped: bool = field(default=False, repr=False)

    # ------------------------------------------------------------------ auth
    def get_token(
        self, user: str | None = None, key: str | None = None, auth_url: str | None = None
    ) -> tuple[str, str]:
        """(storage_url, token) from ``GET auth_url`` (default: main proxy, test:tester)."""
        resp = http_request(
            "GET",
            auth_url or self.auth_url,
            headers={"X-Auth-User": user or self.user, "X-Auth-Key": key or self.key},
        )
        if resp.status // 100 != 2:
            raise ServerError(f"auth failed: {resp.status} {resp.body[:200]!r}")
        return resp.header("x-storage-url"), resp.header("x-auth-token")

    # ------------------------------------------------------------------ reset
    def reset(self) -> None:
        """Delete every object and container of AUTH_test and its account metadata."""
        url, token = self.get_token()
        reset_account(url, token)


    # used by keystone.py to add a proxy on the same rings
    def write_proxy_conf(self, name: str, port: int, pipeline: str, sections: str) -> Path:
        conf = self.swift_dir / f"{name}.conf"
        conf.write_text(
            _default_section(port, self.swift_dir, self.devices, self.log_udp_port, name)
            + f"\n[pipeline:main]\npipeline = {pipeline}\n\n"
            + _proxy_app_section()
            + _common_filters(self.memcache_port)
            + textwrap.dedent(sections)
        )
        return conf

    def start_proxy(
        self, name: str, conf: Path, env: dict[str, str] | None = None
    ) -> ManagedProcess:
        return start_process(
            name,
            [SYSTEM_PYTHON, f"{SWIFT_BIN}/swift-proxy-server", conf, "-v"],
            self.root / "logs" / f"{name}.log",
            env=env,
        )


def reset_account(storage_url: str, token: str) -> None:
    """Delete all objects, then all containers, then the metadata of one account."""
    hdrs = {"X-Auth-Token": token}

    def listing(url: str) -> list[dict]:
        out: list[dict] = []
        marker = ""
        while True:
            r = http_request(
                "GET",
                f"{url}?format=json&limit=10000&marker=" + urllib.parse.quote(marker),
                headers=hdrs,
            )
            if r.status == 404:
                return out
            if r.status // 100 != 2:
                raise ServerError(f"listing {url} failed: {r.status} {r.body[:200]!r}")
            page = json.loads(r.body or b"[]")
            if not page:
                return out
            out.extend(page)
            marker = page[-1].get("name") or page[-1].get("subdir")

    q = urllib.parse.quote
    containers = [c["name"] for c in listing(storage_url)]
    objects = []
    for c in containers:
        for o in listing(f"{storage_url}/{q(c, safe='')}"):
            if "name" in o:
                objects.append(f"/{q(c, safe='')}/{q(o['name'], safe='')}")
    # objects first, then (empty) containers: bulk delete runs entries concurrently
    for batch_of in (objects, [f"/{q(c, safe='')}" for c in containers]):
        for i in range(0, len(batch_of), 10000):
            body = "\n".join(batch_of[i : i + 10000]) + "\n"
            r = http_request(
                "POST",
                f"{storage_url}?bulk-delete",
                body=body,
                headers={**hdrs, "Content-Type": "text/plain", "Accept": "application/json"},
            )
            if r.status // 100 != 2:
                raise ServerError(f"bulk delete failed: {r.status} {r.body[:300]!r}")
            result = json.loads(r.body)
            if result.get("Errors") or not result.get("Response Status", "").startswith("200"):
                raise ServerError(f"bulk delete failed: {result}")
    # account metadata (e.g. Temp-URL keys)
    r = http_request("HEAD", storage_url, headers=hdrs)
    remove = {
        f"X-Remove-Account-Meta-{k[len('x-account-meta-') :]}": "1"
        for k in r.headers
        if k.startswith("x-account-meta-")
    }
    if "x-account-access-control" in r.headers:
        remove["X-Account-Access-Control"] = "{}"
    if remove:
        r = http_request("POST", storage_url, headers={**hdrs, **remove})
        if r.status // 100 != 2:
            raise ServerError(f"resetting account metadata failed: {r.status}")


# ---------------------------------------------------------------------- configs
def _default_section(port: int, swift_dir: Path, devices: Path, udp_port: int, name: str) -> str:
    return textwrap.dedent(f"""\
        [DEFAULT]
        bind_ip = 127.0.0.1
        bind_port = {port}
        workers = 0
        bind_timeout = 1
        user = root
        swift_dir = {swift_dir}
        devices = {devices}
        mount_check = false
        disable_fallocate = true
        log_name = {name}
        log_udp_host = 127.0.0.1
        log_udp_port = {udp_port}
        log_level = INFO
        """)


def _proxy_app_section() -> str:
    return textwrap.dedent("""\
        [app:proxy-server]
        use = egg:swift#proxy
        account_autocreate = true
        allow_account_management = true

        """)


def _common_filters(memcache_port: int) -> str:
    return textwrap.dedent(f"""\
        [filter:catch_errors]
        use = egg:swift#catch_errors

        [filter:gatekeeper]
        use = egg:swift#gatekeeper

        [filter:healthcheck]
        use = egg:swift#healthcheck

        [filter:proxy-logging]
        use = egg:swift#proxy_logging

        [filter:cache]
        use = egg:swift#memcache
        memcache_servers = 127.0.0.1:{memcache_port}

        [filter:listing_formats]
        use = egg:swift#listing_formats

        [filter:bulk]
        use = egg:swift#bulk
        delete_concurrency = 8

        [filter:tempurl]
        use = egg:swift#tempurl

        [filter:copy]
        use = egg:swift#copy

        [filter:slo]
        use = egg:swift#slo
        rate_limit_after_segment = 1000000
        rate_limit_segments_per_sec = 0

        [filter:dlo]
        use = egg:swift#dlo
        rate_limit_after_segment = 1000000
        rate_limit_segments_per_sec = 0

        """)


def _tempauth_section(port: int, token_life: int) -> str:
    url = f"http://127.0.0.1:{port}/v1/AUTH_test"
    return textwrap.dedent(f"""\
        [filter:s3api]
        use = egg:swift#s3api

        [filter:tempauth]
        use = egg:swift#tempauth
        token_life = {token_life}
        user_admin_admin = admin .admin .reseller_admin http://127.0.0.1:{port}/v1/AUTH_admin
        user_test_tester = testing .admin {url}
        user_test_tester3 = testing3 {url}
        """)


def _backend_conf(kind: str, port: int, swift_dir: Path, devices: Path, udp_port: int) -> str:
    default = _default_section(port, swift_dir, devices, udp_port, f"{kind}-server")
    return default + textwrap.dedent(f"""
        [pipeline:main]
        pipeline = {kind}-server

        [app:{kind}-server]
        use = egg:swift#{kind}
        """)


def write_ring(path: Path, port: int, part_power: int = 8) -> None:
    """Write a one-replica, one-device ring (``RingData.serialize_v1`` format) for
    127.0.0.1:port/sdb1 without Swift's ring builder (saves a ~0.7 s Debian-python start)."""
    devs = [
        {
            "device": "sdb1",
            "id": 0,
            "ip": "127.0.0.1",
            "meta": "",
            "port": port,
            "region": 1,
            "replication_ip": "127.0.0.1",
            "replication_port": port,
            "weight": 1.0,
            "zone": 1,
        }
    ]
    text = json.dumps(
        {
            "byteorder": sys.byteorder,
            "devs": devs,
            "part_shift": 32 - part_power,
            "replica_count": 1,
            "version": 2,
        },
        sort_keys=True,
        ensure_ascii=True,
    ).encode("ascii")
    with open(path, "wb") as raw, gzip.GzipFile(str(path), "wb", fileobj=raw, mtime=0) as gz:
        gz.write(struct.pack("!4sH", b"R1NG", 1))
        gz.write(struct.pack("!I", len(text)))
        gz.write(text)
        gz.write(array.array("H", [0] * (1 << part_power)).tobytes())


def _devices_dir(root: Path) -> tuple[Path, Path | None]:
    """A devices folder whose filesystem has user xattrs: under root if possible."""
    devices = root / "devices"
    devices.mkdir(parents=True, exist_ok=True)
    if supports_user_xattr(devices):
        return devices, None
    for base in ("/var/tmp", "/tmp", "/dev/shm"):
        if os.path.isdir(base) and supports_user_xattr(Path(base)):
            d = Path(tempfile.mkdtemp(prefix="swift-devices-", dir=base))
            return d, d
    raise ServerError(
        f"no folder with user xattr support found (tried {devices}, /var/tmp, "
        "/tmp, /dev/shm); Swift's object server needs them"
    )


# ---------------------------------------------------------------------- start
def start_swift(tmp: Path) -> SwiftServer:
    """Start memcached, account/container/object servers and two proxies; wait until ready.

    Ports are picked free; if one was taken meanwhile (another process bound it between the
    pick and the server's bind), the start is retried with new ports."""
    for attempt in range(3):
        try:
            return _start_swift(Path(tmp))
        except ServerError as exc:
            if attempt == 2 or not port_clash(str(exc)):
                raise
    raise AssertionError("unreachable")


def port_clash(message: str) -> bool:
    return "Address already in use" in message or "Could not bind" in message


def _start_swift(tmp: Path) -> SwiftServer:
    for exe in (
        MEMCACHED,
        f"{SWIFT_BIN}/swift-proxy-server",
        f"{SWIFT_BIN}/swift-object-server",
        SYSTEM_PYTHON,
    ):
        if not os.path.exists(exe):
            raise ServerError(
                f"{exe} not found: apt-get install -y --no-install-recommends "
                "swift swift-proxy swift-account swift-container swift-object "
                "memcached"
            )
    root = Path(tmp).resolve()
    swift_dir = root / "etc"
    logs = root / "logs"
    pylib = root / "pylib"
    for d in (swift_dir, logs, pylib):
        d.mkdir(parents=True, exist_ok=True)
    devices, cleanup = _devices_dir(root)
    (devices / "sdb1").mkdir(exist_ok=True)
    (pylib / "swift_harness_authns.py").write_text(_AUTHNS_MODULE)

    acc, con, obj, proxy, short, mc = free_ports(6)
    udp = free_udp_port()
    server = SwiftServer(
        root=root,
        auth_url=f"http://127.0.0.1:{proxy}/auth/v1.0",
        short_auth_url=f"http://127.0.0.1:{short}/auth/v1.0",
        storage_url=f"http://127.0.0.1:{proxy}/v1/AUTH_test",
        proxy_port=proxy,
        short_storage_url=f"http://127.0.0.1:{short}/v1/AUTH_test",
        short_proxy_port=short,
        memcache_port=mc,
        swift_dir=swift_dir,
        devices=devices,
        backend_ports={"account": acc, "container": con, "object": obj},
        log_udp_port=udp,
        _cleanup_dirs=[cleanup] if cleanup else [],
    )
    atexit.register(server.stop)
    procs = server.processes
    try:
        procs.append(
            start_process(
                "memcached",
                [
                    MEMCACHED,
                    "-l",
                    "127.0.0.1",
                    "-p",
                    str(mc),
                    "-U",
                    "0",
                    "-u",
                    "root",
                    "-m",
                    "64",
                    "-t",
                    "2",
                ],
                logs / "memcached.log",
            )
        )
        for kind, port in server.backend_ports.items():
            write_ring(swift_dir / f"{kind}.ring.gz", port)
        for kind, port in server.backend_ports.items():
            conf = swift_dir / f"{kind}-server.conf"
            conf.write_text(_backend_conf(kind, port, swift_dir, devices, udp))
            procs.append(
                start_process(
                    f"{kind}-server",
                    [SYSTEM_PYTHON, f"{SWIFT_BIN}/swift-{kind}-server", conf, "-v"],
                    logs / f"{kind}-server.log",
                )
            )
        main_conf = server.write_proxy_conf(
            "proxy-server", proxy, TEMPAUTH_PIPELINE, _tempauth_section(proxy, 86400)
        )
        short_conf = server.write_proxy_conf(
            "proxy-server-short",
            short,
            SHORT_PIPELINE,
            _tempauth_section(short, server.short_token_life)
            + "\n[filter:harness_authns]\npaste.filter_factory = "
            "swift_harness_authns:filter_factory\nnamespace = short\n",
        )
        procs.append(server.start_proxy("proxy-server", main_conf))
        procs.append(
            server.start_proxy("proxy-server-short", short_conf, env={"PYTHONPATH": str(pylib)})
        )

        def ready() -> bool:
            if not tcp_open(mc):
                return False
            for port in server.backend_ports.values():
                # storage servers answer OPTIONS once their app is loaded
                if http_request("OPTIONS", f"http://127.0.0.1:{port}/", timeout=2).status >= 500:
                    return False
            for port in (proxy, short):
                if (
                    http_request("GET", f"http://127.0.0.1:{port}/healthcheck", timeout=2).status
                    != 200
                ):
                    return False
            return True

        wait_until(ready, STARTUP_TIMEOUT, "swift servers", procs)
        # end to end: tokens (memcached) + account HEAD through both proxies
        for auth in (server.auth_url, server.short_auth_url):
            url, tok = server.get_token(auth_url=auth)
            r = http_request("HEAD", url, headers={"X-Auth-Token": tok})
            if r.status // 100 != 2:
                raise ServerError(f"HEAD {url} answered {r.status}")
    except BaseException:
        server.stop()
        raise
    return server
