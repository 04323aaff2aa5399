"""Swift tokens against real servers: v1 tempauth, Keystone v3, the 0600 token cache, renewal of
short-lived and rejected tokens, and errors that name what is wrong without leaking secrets."""

from __future__ import annotations

import os
import pickle
import stat
import time
from pathlib import Path

import platformdirs
import pytest
import xarray as xr

import objstore
from objstore.errors import CredentialsError
from objstore.profiles import SwiftProfile
from objstore.swift import SwiftFileSystem, auth, get_token
from objstore.swift.auth import Credentials, Token, TokenCache

pytest_plugins = ("swift_fixtures",)


def _cache_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.json"))


def test_token_cache_is_0600_and_a_second_instance_does_not_authenticate(swift, new_fs):
    fs1 = new_fs(swift, cache=True)  # the default place: platformdirs' user cache dir
    fs1.pipe("cache/x", b"1")
    assert fs1.stats.auth_requests == 1
    directory = Path(platformdirs.user_cache_dir("objstore")) / "swift-tokens"
    (file,) = _cache_files(directory)
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert fs1._token.token not in file.name and swift.key not in file.read_text()

    fs2 = new_fs(swift, cache=True)
    assert fs2.cat("cache/x") == b"1"
    assert fs2.stats.auth_requests == 0


def test_rejected_cached_token_is_discarded_and_renewed(swift, new_fs, tmp_path):
    cache = TokenCache(tmp_path)
    creds = Credentials(auth_url=swift.auth_url, user=swift.user, key=swift.key)
    cache.save(creds.cache_key(), Token(swift.storage_url, "AUTH_tkbogus", time.time() + 3600))
    fs = new_fs(swift, tmp_path)
    fs.pipe("renew/x", b"1")  # 401 with the cached token, then a fresh one
    assert fs.stats.auth_requests == 1
    assert cache.load(creds.cache_key()).token not in ("AUTH_tkbogus", None)


def test_a_cache_file_readable_by_others_is_ignored(swift, tmp_path):
    cache = TokenCache(tmp_path)
    creds = Credentials(auth_url=swift.auth_url, user=swift.user, key=swift.key)
    cache.save(creds.cache_key(), Token(swift.storage_url, "AUTH_tkx", time.time() + 3600))
    (file,) = _cache_files(tmp_path)
    file.chmod(0o644)
    assert cache.load(creds.cache_key()) is None


def test_short_lived_tokens_are_renewed_transparently(swift, new_fs):
    fs = new_fs(swift, auth_url=swift.short_auth_url)  # tempauth token_life = 3 s
    first = None
    start = time.monotonic()
    for i in range(12):  # spans > 4 s, so more than one token lifetime
        fs.pipe(f"short/obj{i}", str(i).encode())
        first = first or fs._token
        time.sleep(0.35)
    assert time.monotonic() - start > swift.short_token_life
    assert fs.find("short") == sorted(f"short/obj{i}" for i in range(12))
    assert fs.stats.auth_requests >= 2

    # an expired token believed fresh: the 401 renews it once, transparently
    fs._token = Token(first.storage_url, first.token, time.time() + 3600)
    before = fs.stats.auth_requests
    assert fs.cat("short/obj0") == b"0"
    assert fs.stats.auth_requests == before + 1

    # the same expired token given as a pre-authenticated pair, no credentials: a clear error
    pre = SwiftFileSystem(storage_url=first.storage_url, token=first.token,
                          skip_instance_cache=True)
    with pytest.raises(CredentialsError, match="pre-authenticated token for .* was rejected or "
                       "expired; set OS_AUTH_TOKEN") as err:
        pre.cat("short/obj0")
    assert first.token not in str(err.value)


def test_rejected_preauthenticated_token_through_open_cube(swift):
    profile = SwiftProfile(storage_url=swift.storage_url, token="AUTH_tkSECRETSECRET")
    with pytest.raises(CredentialsError, match=f"token for {swift.storage_url}") as err:
        objstore.open_cube("swift://somewhere/x.zarr", profile=profile)
    assert "SECRETSECRET" not in str(err.value)


def test_wrong_password_names_the_auth_url(swift, new_fs):
    fs = new_fs(swift, key="wrong-SECRET")
    with pytest.raises(CredentialsError, match=swift.auth_url) as err:
        fs.ls("")
    assert "wrong-SECRET" not in str(err.value) and "test:tester" in str(err.value)
    profile = SwiftProfile(auth_url=swift.auth_url, user=swift.user, key="wrong-SECRET")
    with pytest.raises(CredentialsError, match=swift.auth_url):
        objstore.open_cube("swift://c/x.zarr", profile=profile)


def test_missing_credentials_name_the_missing_variables():
    with pytest.raises(CredentialsError, match="ST_AUTH/ST_USER/ST_KEY"):
        SwiftFileSystem(skip_instance_cache=True)
    with pytest.raises(CredentialsError, match=r"missing ST_USER \(user\), ST_KEY \(key\)"):
        SwiftFileSystem(auth_url="http://x/auth/v1.0", skip_instance_cache=True)
    with pytest.raises(CredentialsError, match=r"missing OS_PASSWORD \(key\)"):
        SwiftFileSystem(auth_url="http://x/v3", auth_version="3", user="u",
                        skip_instance_cache=True)
    with pytest.raises(CredentialsError, match="OS_AUTH_TOKEN"):
        SwiftFileSystem(storage_url="http://x/v1/AUTH_a", skip_instance_cache=True)


def test_non_admin_user_without_acl_gets_access_denied(swift, new_fs, tmp_path):
    new_fs(swift, tmp_path).pipe("adminonly/x", b"1")
    fs3 = new_fs(swift, tmp_path, user=swift.user3, key=swift.key3)
    with pytest.raises(CredentialsError, match=r"access denied \(HTTP 403\) to .*/adminonly/x"):
        fs3.cat("adminonly/x")


def test_environment_fallback_and_pickling_carry_the_credentials(swift, monkeypatch):
    monkeypatch.setenv("ST_AUTH", swift.auth_url)
    monkeypatch.setenv("ST_USER", swift.user)
    monkeypatch.setenv("ST_KEY", swift.key)
    fs = SwiftFileSystem(skip_instance_cache=True)
    fs.pipe("envc/x", b"1")
    blob = pickle.dumps(fs)
    for var in ("ST_AUTH", "ST_USER", "ST_KEY"):
        monkeypatch.delenv(var)
    assert pickle.loads(blob).cat("envc/x") == b"1"  # a dask worker without the variables


def test_get_token_helper_uses_the_cache(swift, tmp_path, monkeypatch):
    calls = []
    fetch = auth.fetch_v1

    async def counting(*args, **kwargs):
        calls.append(1)
        return await fetch(*args, **kwargs)

    monkeypatch.setattr(auth, "fetch_v1", counting)
    url, token, expires = get_token(auth_url=swift.auth_url, user=swift.user, key=swift.key,
                                    token_cache=str(tmp_path))
    assert url == swift.storage_url and token.startswith("AUTH_tk")
    assert expires > time.time() + 3600
    assert get_token(auth_url=swift.auth_url, user=swift.user, key=swift.key,
                     token_cache=str(tmp_path))[1] == token
    assert len(calls) == 1


def test_token_freshness_margin_scales_with_short_lifetimes():
    now = time.time()
    assert Token("u", "t", now + 3600, now).fresh(60, now + 3500)
    assert not Token("u", "t", now + 3600, now).fresh(60, now + 3550)
    short = Token("u", "t", now + 3, now)  # margin capped at a quarter of the lifetime
    assert short.fresh(60, now + 2) and not short.fresh(60, now + 2.5)
    assert Token("u", "t", None).fresh()


# ---------------------------------------------------------------------- Keystone v3
def test_keystone_v3_from_the_environment(keystone_server, monkeypatch, small_cube, tmp_path):
    ks = keystone_server
    for k, v in ks.env().items():
        monkeypatch.setenv(k, v)
    url = "swift://kcubes/x.zarr"
    objstore.write_cube(small_cube, url)  # profile "swift-env" from the OS_* variables
    xr.testing.assert_identical(objstore.open_cube(url).load(), small_cube.load())

    fs = SwiftFileSystem(token_cache=str(tmp_path), skip_instance_cache=True)
    assert fs.exists("kcubes/x.zarr/.zmetadata")
    storage_url, token, expires = get_token(token_cache=str(tmp_path))
    assert storage_url == ks.storage_url and expires > time.time()
    assert token == fs._token.token  # get_token found fs's token in the cache

    monkeypatch.setenv("OS_PASSWORD", "wrong-SECRET")
    with pytest.raises(CredentialsError, match=ks.auth_url) as err:
        SwiftFileSystem(token_cache=False, skip_instance_cache=True).ls("kcubes")
    assert "wrong-SECRET" not in str(err.value)


def test_cli_swift_token_prints_exports_usable_by_the_swift_cli(swift_server, monkeypatch):
    import subprocess

    from typer.testing import CliRunner

    from objstore.cli import app

    monkeypatch.setenv("ST_AUTH", swift_server.auth_url)
    monkeypatch.setenv("ST_USER", swift_server.user)
    monkeypatch.setenv("ST_KEY", swift_server.key)
    out = CliRunner().invoke(app, ["swift", "token"])
    assert out.exit_code == 0, out.output
    line = out.stdout.strip()
    assert line.startswith("export OS_STORAGE_URL=") and " OS_AUTH_TOKEN=" in line
    env = dict(p.split("=", 1) for p in line.removeprefix("export ").split())
    assert env["OS_STORAGE_URL"] == swift_server.storage_url
    stat = subprocess.run(["swift", "--os-storage-url", env["OS_STORAGE_URL"], "--os-auth-token",
                           env["OS_AUTH_TOKEN"], "stat"], capture_output=True, text=True, timeout=60)
    assert stat.returncode == 0 and "AUTH_test" in stat.stdout


def test_os_cloud_with_clouds_yaml(keystone_server, monkeypatch, small_cube, tmp_path):
    ks = keystone_server
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(
        "clouds:\n  lab:\n    auth:\n"
        f"      auth_url: {ks.auth_url}\n      username: {ks.username}\n"
        f"      password: {ks.password}\n      project_name: {ks.project_name}\n"
        f"      user_domain_name: {ks.user_domain_name}\n"
        f"      project_domain_name: {ks.project_domain_name}\n"
        f"    region_name: {ks.region_name}\n    identity_api_version: 3\n")
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds))
    reg = objstore.ProfileRegistry(env=dict(os.environ))
    lab = reg.get("lab")
    assert lab.backend == "swift" and lab.source.kind == "clouds.yaml" and "[lab]" in str(lab.source)
    assert ks.password not in repr(lab)

    monkeypatch.setenv("OS_CLOUD", "lab")
    url = "swift://ccubes/c.zarr"
    objstore.write_cube(small_cube, url)  # swift-env from OS_CLOUD
    assert objstore.resolve(url).profile.source.location.startswith("OS_CLOUD=lab")
    xr.testing.assert_identical(objstore.open_cube(url, profile="lab").load(), small_cube.load())

    monkeypatch.setenv("OS_CLOUD", "nope")
    with pytest.raises(objstore.ConfigError, match="OS_CLOUD='nope'.*clouds there: lab"):
        objstore.resolve(url)


def test_get_token_works_inside_a_running_event_loop(swift, tmp_path):
    """A notebook cell runs inside an event loop: asyncio.run would refuse there."""
    import asyncio

    async def notebook_cell():
        return get_token(auth_url=swift.auth_url, user=swift.user, key=swift.key,
                         token_cache=str(tmp_path))

    url, token, _ = asyncio.run(notebook_cell())
    assert url == swift.storage_url and token.startswith("AUTH_tk")
    fs = SwiftFileSystem(storage_url=url, token=token, token_cache=False, skip_instance_cache=True)
    assert fs.ls("") == []  # the token works
