"""Keystone v3 on 127.0.0.1 plus a Swift proxy that trusts it, for the test suite.

``start_keystone(tmp, swift)`` sets Keystone up (sqlite, fernet tokens; Debian's
``python3-keystone``), runs ``keystone-wsgi-public`` on a free port, bootstraps ``admin``, creates
project ``demo`` with user ``demo``/``demopass`` (role ``member``, domain Default), registers an
``object-store`` endpoint, and starts a third Swift proxy (``authtoken`` + ``keystoneauth``,
``operator_roles = admin, member``) on the rings/backends of ``swift``.
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import sqlite3
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

from servers._util import (
    SYSTEM_PYTHON,
    ManagedProcess,
    ProcessGroup,
    ServerError,
    free_ports,
    http_request,
    run_checked,
    start_process,
    stop_all,
    wait_for_http,
)
from servers.swift import SwiftServer, port_clash, reset_account

__all__ = ["KeystoneServer", "start_keystone"]

KEYSTONE_MANAGE = "/usr/bin/keystone-manage"
KEYSTONE_WSGI = "/usr/bin/keystone-wsgi-public"
STARTUP_TIMEOUT = 120.0

KEYSTONE_PIPELINE = (
    "catch_errors gatekeeper healthcheck proxy-logging cache listing_formats "
    "bulk tempurl authtoken keystoneauth copy slo dlo proxy-logging proxy-server"
)


@dataclass
class KeystoneServer(ProcessGroup):
    root: Path
    auth_url: str  # http://127.0.0.1:PORT/v3
    port: int
    proxy_port: int  # the Swift proxy that uses Keystone
    project_id: str
    storage_url: str  # http://127.0.0.1:PROXY_PORT/v1/AUTH_<project_id>
    username: str = "demo"
    password: str = "demopass"
    project_name: str = "demo"
    user_domain_name: str = "Default"
    project_domain_name: str = "Default"
    region_name: str = "RegionOne"
    admin_username: str = "admin"
    admin_password: str = "adminpass"
    startup_seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # cumulative s per startup phase
    processes: list[ManagedProcess] = field(default_factory=list, repr=False)
    _stopped: bool = field(default=False, repr=False)
    _cleanup_dirs: list[Path] = field(default_factory=list, repr=False)

    def env(self) -> dict[str, str]:
        """OS_* variables for python-swiftclient / openstack CLI / rclone (``env_auth``)."""
        return {
            "OS_AUTH_URL": self.auth_url,
            "OS_USERNAME": self.username,
            "OS_PASSWORD": self.password,
            "OS_PROJECT_NAME": self.project_name,
            "OS_USER_DOMAIN_NAME": self.user_domain_name,
            "OS_PROJECT_DOMAIN_NAME": self.project_domain_name,
            "OS_REGION_NAME": self.region_name,
            "OS_IDENTITY_API_VERSION": "3",
        }

    def get_token(
        self,
        username: str | None = None,
        password: str | None = None,
        project_name: str | None = None,
    ) -> tuple[str, str]:
        """(storage_url, token): a v3 password token scoped to the project, and the
        object-store public endpoint of its catalog."""
        token, body = _password_token(
            self.auth_url,
            username or self.username,
            password or self.password,
            project_name or self.project_name,
            self.user_domain_name,
            self.project_domain_name,
        )
        for svc in body["token"].get("catalog", []):
            if svc["type"] == "object-store":
                for ep in svc["endpoints"]:
                    if ep["interface"] == "public" and ep.get("region_id") == self.region_name:
                        return ep["url"], token
        raise ServerError("no object-store endpoint in the token's catalog")

    def reset(self) -> None:
        """Delete every object and container (and account metadata) of the demo project."""
        url, token = self.get_token()
        reset_account(url, token)



def _password_token(
    auth_url: str,
    user: str,
    password: str,
    project: str | None,
    user_domain: str = "Default",
    project_domain: str = "Default",
) -> tuple[str, dict]:
    auth: dict = {
        "identity": {
            "methods": ["password"],
            "password": {
                "user": {"name": user, "domain": {"name": user_domain}, "password": password}
            },
        }
    }
    if project:
        auth["scope"] = {"project": {"name": project, "domain": {"name": project_domain}}}
    r = http_request(
        "POST",
        f"{auth_url}/auth/tokens",
        body=json.dumps({"auth": auth}),
        headers={"Content-Type": "application/json"},
    )
    if r.status != 201:
        raise ServerError(f"keystone auth for {user} failed: {r.status} {r.body[:300]!r}")
    return r.header("x-subject-token"), json.loads(r.body)


def _fernet_repo(path: Path) -> None:
    """What ``keystone-manage fernet_setup``/``credential_setup`` create (staged key 0,
    primary key 1), without two more ~1.5 s process starts."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name in ("0", "1"):
        f = path / name
        f.write_bytes(base64.urlsafe_b64encode(os.urandom(32)))
        f.chmod(0o600)


def _keystone_conf(root: Path) -> str:
    return textwrap.dedent(f"""\
        [DEFAULT]
        use_stderr = true
        debug = false

        [database]
        connection = sqlite:///{root}/keystone.db

        [token]
        provider = fernet
        expiration = 86400

        [fernet_tokens]
        key_repository = {root}/fernet-keys

        [fernet_receipts]
        # bootstrap checks this one too (default /etc/keystone/fernet-keys/, absent on a fresh machine)
        key_repository = {root}/fernet-keys

        [credential]
        key_repository = {root}/credential-keys

        [identity]
        # bcrypt's minimum: every password check is fast
        password_hash_rounds = 4
        """)


def start_keystone(tmp: Path, swift: SwiftServer) -> KeystoneServer:
    """Start Keystone v3 and a keystone-authenticated Swift proxy on ``swift``'s rings.

    Everything lives in ``tmp/keystone`` (``tmp/keystone-N`` if a port clash forced a retry)."""
    for attempt in range(3):
        try:
            return _start_keystone(
                Path(tmp), swift, "keystone" + (f"-{attempt}" if attempt else "")
            )
        except ServerError as exc:
            if attempt == 2 or not port_clash(str(exc)):
                raise
    raise AssertionError("unreachable")


def _start_keystone(tmp: Path, swift: SwiftServer, dirname: str) -> KeystoneServer:
    t0 = time.monotonic()
    for exe in (KEYSTONE_MANAGE, KEYSTONE_WSGI):
        if not os.path.exists(exe):
            raise ServerError(
                f"{exe} not found: apt-get install -y --no-install-recommends "
                "python3-keystone python3-keystonemiddleware "
                "python3-keystoneclient"
            )
    root = tmp.resolve() / dirname
    logs = root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    conf = root / "keystone.conf"
    conf.write_text(_keystone_conf(root))
    _fernet_repo(root / "fernet-keys")
    _fernet_repo(root / "credential-keys")
    env = {"OS_KEYSTONE_CONFIG_FILES": str(conf)}
    port, proxy_port = free_ports(2)
    auth_url = f"http://127.0.0.1:{port}/v3"
    admin_password = "adminpass"

    procs: list[ManagedProcess] = []
    timings: dict[str, float] = {}
    server: KeystoneServer | None = None
    try:
        # The proxy does not talk to Keystone until a request comes: start it right away.
        proxy_conf = swift.write_proxy_conf(
            "proxy-server-keystone",
            proxy_port,
            KEYSTONE_PIPELINE,
            textwrap.dedent(f"""\
            [filter:authtoken]
            paste.filter_factory = keystonemiddleware.auth_token:filter_factory
            www_authenticate_uri = {auth_url}
            auth_url = {auth_url}
            auth_type = password
            username = admin
            password = {admin_password}
            project_name = admin
            user_domain_name = Default
            project_domain_name = Default
            region_name = RegionOne
            interface = public
            delay_auth_decision = True
            cache = swift.cache
            include_service_catalog = False

            [filter:keystoneauth]
            use = egg:swift#keystoneauth
            operator_roles = admin, member
            reseller_admin_role = ResellerAdmin
            """),
        )
        procs.append(swift.start_proxy("proxy-server-keystone", proxy_conf))

        manage = [SYSTEM_PYTHON, KEYSTONE_MANAGE, "--config-file", str(conf)]
        run_checked(manage + ["db_sync"], logs / "keystone-manage.log", env=env)
        timings["db_sync"] = time.monotonic() - t0
        # WAL journal: a keystone request may read in one sqlite connection while another
        # holds a write; in the default rollback journal that ends in "database is locked".
        with sqlite3.connect(root / "keystone.db") as db:
            db.execute("PRAGMA journal_mode=WAL")
        # the server reads the database only per request: let it load during bootstrap
        procs.append(
            start_process(
                "keystone",
                [SYSTEM_PYTHON, KEYSTONE_WSGI, "--host", "127.0.0.1", "--port", str(port)],
                logs / "keystone.log",
                env=env,
            )
        )
        run_checked(
            manage
            + [
                "bootstrap",
                "--bootstrap-username",
                "admin",
                "--bootstrap-password",
                admin_password,
                "--bootstrap-project-name",
                "admin",
                "--bootstrap-role-name",
                "admin",
                "--bootstrap-region-id",
                "RegionOne",
                "--bootstrap-admin-url",
                auth_url,
                "--bootstrap-internal-url",
                auth_url,
                "--bootstrap-public-url",
                auth_url,
            ],
            logs / "keystone-manage.log",
            env=env,
        )
        timings["bootstrap"] = time.monotonic() - t0
        wait_for_http(auth_url, STARTUP_TIMEOUT, procs, ok=lambda s: s == 200)
        timings["keystone_up"] = time.monotonic() - t0

        # --- users, project, endpoint: one request at a time (sqlite, single-threaded server)
        admin_token, _ = _password_token(auth_url, "admin", admin_password, "admin")
        hdrs = {"X-Auth-Token": admin_token, "Content-Type": "application/json"}

        def api(method: str, path: str, payload: dict | None = None) -> dict:
            r = http_request(
                method,
                f"{auth_url}{path}",
                headers=hdrs,
                body=json.dumps(payload) if payload is not None else None,
            )
            if r.status // 100 != 2:
                raise ServerError(f"keystone {method} {path}: {r.status} {r.body[:300]!r}")
            return json.loads(r.body) if r.body else {}

        project_id = api(
            "POST",
            "/projects",
            {"project": {"name": "demo", "domain_id": "default", "enabled": True}},
        )["project"]["id"]
        user_id = api(
            "POST",
            "/users",
            {
                "user": {
                    "name": "demo",
                    "password": "demopass",
                    "domain_id": "default",
                    "default_project_id": project_id,
                    "enabled": True,
                }
            },
        )["user"]["id"]
        roles = {r["name"]: r["id"] for r in api("GET", "/roles")["roles"]}
        if "member" not in roles:
            roles["member"] = api("POST", "/roles", {"role": {"name": "member"}})["role"]["id"]
        api("PUT", f"/projects/{project_id}/users/{user_id}/roles/{roles['member']}")
        service_id = api(
            "POST",
            "/services",
            {"service": {"type": "object-store", "name": "swift", "enabled": True}},
        )["service"]["id"]
        swift_url = f"http://127.0.0.1:{proxy_port}/v1/AUTH_$(project_id)s"
        for interface in ("public", "internal", "admin"):
            api(
                "POST",
                "/endpoints",
                {
                    "endpoint": {
                        "service_id": service_id,
                        "interface": interface,
                        "region_id": "RegionOne",
                        "url": swift_url,
                        "enabled": True,
                    }
                },
            )

        timings["catalog"] = time.monotonic() - t0
        server = KeystoneServer(
            root=root,
            auth_url=auth_url,
            port=port,
            proxy_port=proxy_port,
            project_id=project_id,
            storage_url=f"http://127.0.0.1:{proxy_port}/v1/AUTH_{project_id}",
            admin_password=admin_password,
            processes=procs,
        )
        atexit.register(server.stop)

        # end to end: demo's token works on the keystone proxy
        wait_for_http(
            f"http://127.0.0.1:{proxy_port}/healthcheck",
            STARTUP_TIMEOUT,
            procs,
            ok=lambda s: s == 200,
        )
        url, token = server.get_token()
        r = http_request("HEAD", url, headers={"X-Auth-Token": token})
        if r.status // 100 != 2:
            raise ServerError(
                f"HEAD {url} with a keystone token answered {r.status}\n" + procs[0].tail()
            )
        server.startup_seconds = timings["total"] = time.monotonic() - t0
        server.timings = timings
        return server
    except BaseException:
        if server is not None:
            server.stop()
        else:
            stop_all(procs)
        raise
