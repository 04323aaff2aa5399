"""Smoke test of the Swift + Keystone test harness (tests/servers/swift.py, keystone.py)."""

from __future__ import annotations

import json
import time

import pytest
from servers._util import http_request
from servers.keystone import KeystoneServer, start_keystone
from servers.swift import SwiftServer, start_swift


@pytest.fixture(scope="session")
def harness_swift(request, tmp_path_factory) -> SwiftServer:
    try:  # the suite's own session server (tests/conftest.py), if there is one
        return request.getfixturevalue("swift_server")
    except pytest.FixtureLookupError:
        server = start_swift(tmp_path_factory.mktemp("swift"))
        request.addfinalizer(server.stop)
        return server


@pytest.fixture(scope="session")
def harness_keystone(request, tmp_path_factory, harness_swift) -> KeystoneServer:
    try:
        return request.getfixturevalue("keystone_server")
    except pytest.FixtureLookupError:
        server = start_keystone(tmp_path_factory.mktemp("keystone"), harness_swift)
        request.addfinalizer(server.stop)
        return server


@pytest.fixture
def swift(harness_swift):
    harness_swift.reset()
    yield harness_swift
    harness_swift.check()


def test_put_get(swift):
    url, token = swift.get_token()
    assert url == swift.storage_url
    h = {"X-Auth-Token": token}
    assert http_request("PUT", f"{url}/c1", headers=h).status == 201
    assert http_request("PUT", f"{url}/c1/a/b.txt", headers=h, body=b"hello").status == 201
    r = http_request("GET", f"{url}/c1/a/b.txt", headers=h)
    assert (r.status, r.body) == (200, b"hello")
    r = http_request("GET", f"{url}/c1?format=json", headers=h)
    assert [o["name"] for o in json.loads(r.body)] == ["a/b.txt"]
    assert http_request("GET", f"{url}/c1/a/b.txt").status == 401  # no token


def test_reset(swift):
    url, token = swift.get_token()
    h = {"X-Auth-Token": token}
    for c in ("x", "y z"):
        assert http_request("PUT", f"{url}/{c.replace(' ', '%20')}", headers=h).status == 201
        for i in range(3):
            name = f"{c.replace(' ', '%20')}/o%20{i}%3F"
            assert http_request("PUT", f"{url}/{name}", headers=h, body=b"1").status == 201
    http_request("POST", url, headers={**h, "X-Account-Meta-Temp-URL-Key": "k"})
    swift.reset()
    r = http_request("GET", f"{url}?format=json", headers=h)
    assert r.status in (200, 204) and json.loads(r.body or b"[]") == []
    assert "x-account-meta-temp-url-key" not in http_request("HEAD", url, headers=h).headers


def test_short_token_expires(swift):
    url, token = swift.get_token(auth_url=swift.short_auth_url)
    assert url == swift.short_storage_url
    h = {"X-Auth-Token": token}
    # the short proxy never hands out the main proxy's 24 h token
    r = http_request(
        "GET", swift.short_auth_url, headers={"X-Auth-User": swift.user, "X-Auth-Key": swift.key}
    )
    assert int(r.header("x-auth-token-expires")) <= 3
    assert http_request("PUT", f"{url}/short", headers=h).status == 201
    assert http_request("PUT", f"{url}/short/o", headers=h, body=b"x").status == 201
    time.sleep(3.5)
    assert http_request("GET", f"{url}/short/o", headers=h).status == 401
    url, token = swift.get_token(auth_url=swift.short_auth_url)  # re-auth
    r = http_request("GET", f"{url}/short/o", headers={"X-Auth-Token": token})
    assert (r.status, r.body) == (200, b"x")
    # the main proxy still hands out long tokens, and sees the same data
    r = http_request(
        "GET", swift.auth_url, headers={"X-Auth-User": swift.user, "X-Auth-Key": swift.key}
    )
    assert int(r.header("x-auth-token-expires")) > 3600
    r = http_request(
        "GET", f"{swift.storage_url}/short/o", headers={"X-Auth-Token": r.header("x-auth-token")}
    )
    assert (r.status, r.body) == (200, b"x")


def test_public_read_acl(swift):
    url, token = swift.get_token()
    h = {"X-Auth-Token": token}
    assert http_request("PUT", f"{url}/pub", headers=h).status == 201
    assert http_request("PUT", f"{url}/pub/o", headers=h, body=b"data").status == 201
    assert http_request("GET", f"{url}/pub/o").status == 401
    assert http_request("GET", f"{url}/pub").status == 401
    # a non-admin user of the account may not set ACLs
    _, token3 = swift.get_token(swift.user3, swift.key3)
    assert (
        http_request(
            "POST",
            f"{url}/pub",
            headers={"X-Auth-Token": token3, "X-Container-Read": ".r:*,.rlistings"},
        ).status
        == 403
    )
    assert (
        http_request(
            "POST", f"{url}/pub", headers={**h, "X-Container-Read": ".r:*,.rlistings"}
        ).status
        == 204
    )
    r = http_request("GET", f"{url}/pub/o")
    assert (r.status, r.body) == (200, b"data")
    r = http_request("GET", f"{url}/pub?format=json")
    assert r.status == 200 and [o["name"] for o in json.loads(r.body)] == ["o"]


def test_static_large_object_tiny_segments(swift):
    url, token = swift.get_token()
    h = {"X-Auth-Token": token}
    assert http_request("PUT", f"{url}/slo", headers=h).status == 201
    manifest = []
    for i in range(15):  # > rate_limit_after_segment's default of 10
        seg = f"part{i}-".encode()
        assert http_request("PUT", f"{url}/slo/seg/{i:03d}", headers=h, body=seg).status == 201
        manifest.append({"path": f"/slo/seg/{i:03d}", "size_bytes": len(seg)})
    r = http_request(
        "PUT", f"{url}/slo/big?multipart-manifest=put", headers=h, body=json.dumps(manifest)
    )
    assert r.status == 201, r.body
    t = time.monotonic()
    r = http_request("GET", f"{url}/slo/big", headers=h)
    assert r.body == b"".join(f"part{i}-".encode() for i in range(15))
    assert time.monotonic() - t < 2  # segments are not rate limited


def test_keystone(harness_keystone, harness_swift):
    ks = harness_keystone
    env = ks.env()
    assert env["OS_AUTH_URL"] == ks.auth_url and ks.auth_url.endswith("/v3")
    assert env["OS_IDENTITY_API_VERSION"] == "3"
    url, token = ks.get_token()
    assert url == ks.storage_url
    h = {"X-Auth-Token": token}
    assert http_request("PUT", f"{url}/kc", headers=h).status == 201
    assert http_request("PUT", f"{url}/kc/o", headers=h, body=b"ks").status == 201
    r = http_request("GET", f"{url}/kc/o", headers=h)
    assert (r.status, r.body) == (200, b"ks")
    assert http_request("GET", f"{url}/kc/o").status == 401
    assert http_request("GET", f"{url}/kc/o", headers={"X-Auth-Token": "bogus"}).status == 401
    ks.reset()
    assert http_request("GET", f"{url}/kc", headers=h).status == 404
    ks.check()
    harness_swift.check()
