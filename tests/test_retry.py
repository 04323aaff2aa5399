"""The retry policy (objstore/retry.py): waits, Retry-After, what is retried, how each library is
told, and what a user sees while it works (logs, one throttling warning)."""

from __future__ import annotations

import json
import logging
import time
from email.utils import formatdate

import pytest
from rigs import profile_via, server_port
from servers.faults import FaultProxy

import objstore
from objstore import backends
from objstore.errors import CredentialsError, RemoteError
from objstore.profiles import S3Profile
from objstore.retry import (
    DEFAULT_RETRIES,
    RetryPolicy,
    ThrottleWatch,
    is_transient,
    policy_for,
    retry_after,
)


def _lib(protocol, policy, options):
    """The policy in the words of ``protocol``'s library (what resolve() hands the filesystem)."""
    return backends.for_protocol(protocol).library_options(policy, dict(options))


def test_waits_grow_with_jitter_up_to_a_cap_and_honour_retry_after():
    policy = RetryPolicy(backoff_first=0.1, backoff_max=2.0)
    assert all(0.05 <= policy.delay(0) <= 0.1 for _ in range(50))
    assert all(1.0 <= policy.delay(10) <= 2.0 for _ in range(50))
    assert policy.delay(0, after=1.5) == 1.5
    assert policy.delay(0, after=10_000) == 30.0  # a server cannot park us for hours


def test_retry_after_in_seconds_or_as_a_date():
    assert retry_after({"Retry-After": "3"}) == 3.0
    assert 8 < retry_after({"Retry-After": formatdate(time.time() + 10, usegmt=True)}) <= 10
    assert retry_after({"Retry-After": "soon"}) is None and retry_after({}) is None


def test_what_is_retried():
    assert is_transient(ConnectionResetError()) and is_transient(TimeoutError())
    assert is_transient(json.JSONDecodeError("x", "doc", 0))  # a listing cut short
    assert is_transient(RemoteError("HTTP 503"))
    for final in (FileNotFoundError(), PermissionError(), FileExistsError(), ValueError(),
                  CredentialsError("denied")):
        assert not is_transient(final)


def test_profile_fields_set_the_policy_and_every_library_hears_of_it():
    prof = S3Profile(name="p", retries=3, timeout=5)
    assert policy_for(prof) == RetryPolicy(retries=3, timeout=5)
    assert policy_for(S3Profile(name="d")).retries == DEFAULT_RETRIES
    s3 = _lib("s3", policy_for(prof), {})
    assert s3["config_kwargs"] == {"retries": {"total_max_attempts": 4, "mode": "standard"},
                                   "connect_timeout": 5, "read_timeout": 5}
    mine = {"config_kwargs": {"retries": {"max_attempts": 1}}}
    assert _lib("s3", policy_for(prof), mine)["config_kwargs"]["retries"] == {
        "max_attempts": 1}  # what the user set wins
    assert _lib("az", policy_for(prof), {})["retry_total"] == 3
    assert _lib("swift", policy_for(prof), {}) == {"retries": 3, "timeout": 5}
    timeout = _lib("gs", policy_for(prof), {})["requests_timeout"]
    assert (timeout.sock_connect, timeout.sock_read, timeout.total) == (5, 5, None)
    resolved = objstore.resolve("s3://b/k", profile=prof)
    assert resolved.io_options["config_kwargs"]["read_timeout"] == 5
    assert "config_kwargs" not in resolved.storage_options  # what plain fsspec users copy


def test_a_service_that_keeps_throttling_is_reported_once(caplog):
    watch = ThrottleWatch(limit=3, window=60)
    with caplog.at_level(logging.WARNING, logger="objstore.retry"):
        for _ in range(10):
            watch.throttled("https://swift.example/v1/AUTH_x")
    warnings = [r for r in caplog.records if "keeps throttling" in r.getMessage()]
    assert len(warnings) == 1 and "max_concurrency" in warnings[0].getMessage()


def test_swift_retries_are_logged_without_secrets(swift_rig, caplog):
    rig = swift_rig
    with FaultProxy("127.0.0.1", server_port(rig), faults=["429", "503"], rate=0.3, seed=3,
                    retry_after=0) as proxy:
        prof = profile_via(rig, proxy.url)
        with caplog.at_level(logging.INFO, logger="objstore.retry"):
            fs = objstore.resolve(rig.url(""), prof).fs
            for i in range(30):
                fs.pipe(f"{rig.bucket}/k{i}", b"x" * i)
            assert [fs.cat(f"{rig.bucket}/k{i}") for i in range(30)] == [
                b"x" * i for i in range(30)]
    lines = [r.getMessage() for r in caplog.records]
    assert sum("retry" in line and "HTTP 429" in line for line in lines) >= 3, lines
    token = prof.token.get_secret_value()
    assert not any(token in line for line in lines)


@pytest.fixture
def swift_rig(request):  # type: ignore[no-untyped-def]
    from conftest import _fresh_rig

    return _fresh_rig(request, "swift")


def test_verbose_cli_shows_the_retries_it_makes(swift_rig, monkeypatch):
    from typer.testing import CliRunner

    from objstore.cli import app

    rig = swift_rig
    rig.profile  # noqa: B018 - the container exists
    with FaultProxy("127.0.0.1", server_port(rig), faults=["503"], rate=0.5, seed=1) as proxy:
        prof = profile_via(rig, proxy.url)
        monkeypatch.setenv("OS_STORAGE_URL", prof.storage_url)
        monkeypatch.setenv("OS_AUTH_TOKEN", prof.token.get_secret_value())
        objstore.resolve(rig.url("a"), prof).fs.pipe(f"{rig.bucket}/a", b"1")
        result = CliRunner().invoke(app, ["-v", "ls", f"swift://{rig.bucket}/"])
    assert result.exit_code == 0, result.output
    assert f"{rig.bucket}/a" in result.stdout
    assert "objstore.retry: retry 1/8 of GET" in result.stderr and "HTTP 503" in result.stderr
    assert prof.token.get_secret_value() not in result.output


def test_retries_and_timeout_come_from_a_toml_profile(isolated_env):
    config = isolated_env / "objstore" / "profiles.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[profiles.flaky]\nbackend = "s3"\nkey = "a"\nsecret = "b"\n'
                      "retries = 12\ntimeout = 60\n")
    r = objstore.resolve("s3://b/k", "flaky")
    assert r.io_options["config_kwargs"]["retries"]["total_max_attempts"] == 13
    assert r.io_options["config_kwargs"]["read_timeout"] == 60


def test_a_swift_listing_cut_short_is_retried_not_a_json_error(swift_rig):
    rig = swift_rig
    names = [f"{rig.bucket}/d/k{i:03d}" for i in range(50)]
    objstore.resolve(rig.url(""), rig.profile).fs.pipe(dict.fromkeys(names, b"1"))
    with FaultProxy("127.0.0.1", server_port(rig), faults=["truncate"], rate=0.5, seed=2,
                    only=lambda method, target: "format=json" in target) as proxy:
        fs = objstore.resolve(rig.url(""), profile_via(rig, proxy.url)).fs
        for _ in range(4):
            assert fs.ls(f"{rig.bucket}/d", detail=False) == names
        assert proxy.injected["truncate"] >= 1
