"""Swift rig: a fresh container on the real Swift (tempauth v1), reached with ST_AUTH/ST_USER/ST_KEY."""

from __future__ import annotations

from typing import Any

from rigs import Rig
from servers._util import http_request

from objstore.profiles import Source, SwiftProfile


def make(server: Any, bucket: str) -> Rig:
    storage_url, token = server.get_token()
    resp = http_request("PUT", f"{storage_url}/{bucket}", headers={"X-Auth-Token": token})
    assert resp.status in (201, 202), resp.status
    profile = SwiftProfile(name="swift-test", auth_url=server.auth_url, user=server.user,
                           key=server.key, source=Source(kind="test"))
    env = {"ST_AUTH": server.auth_url, "ST_USER": server.user, "ST_KEY": server.key}
    plain = {"auth_url": server.auth_url, "user": server.user, "key": server.key}
    return Rig("swift", "swift", bucket, profile, env, plain, server)
