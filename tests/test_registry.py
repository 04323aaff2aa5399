"""Profile sources and precedence, pinned pair by pair (no server needed)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

import objstore
from objstore.errors import ConfigError, CredentialsError, ProfileNotFoundError
from objstore.registry import ProfileRegistry
from objstore.sources import toml_file

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzSECRETKEY"


def write(path: str | Path, text: str) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def registry() -> ProfileRegistry:
    return ProfileRegistry(env=dict(os.environ))


def toml(text: str) -> Path:
    return write(os.environ["OBJSTORE_CONFIG"], text)


def aws_config(text: str) -> Path:
    return write(os.environ["AWS_CONFIG_FILE"], text)


def aws_credentials(text: str) -> Path:
    return write(os.environ["AWS_SHARED_CREDENTIALS_FILE"], text)


# --- sources ---------------------------------------------------------------------------------

def test_toml_profile_with_provenance():
    path = toml('[profiles.osn-own]\nbackend = "s3"\nendpoint_url = "https://x.example"\n'
                'anonymous = true\nmatch = ["s3://Pangeo/*"]\n')
    p = registry().get("osn-own")
    assert p.backend == "s3" and p.anonymous and p.endpoint_url == "https://x.example"
    assert p.source.kind == "toml" and str(path) in p.source.location and "line 1" in p.source.location


def test_aws_files_config_vs_credentials_sections():
    aws_config("[default]\nregion = eu-west-1\n\n[profile ceph]\nregion = us-east-1\n"
               "endpoint_url = https://ceph.example\n\n[profile nested]\ns3 =\n"
               "  endpoint_url = https://nested.example\n")
    aws_credentials(f"[ceph]\naws_access_key_id = AKIACEPH\naws_secret_access_key = {SECRET}\n"
                    "[default]\naws_access_key_id = AKIADEF\naws_secret_access_key = x\n")
    reg = registry()
    ceph = reg.get("ceph")
    assert ceph.endpoint_url == "https://ceph.example" and ceph.region == "us-east-1"
    assert ceph.key.get_secret_value() == "AKIACEPH" and ceph.aws_profile == "ceph"
    assert "[profile ceph]" in ceph.source.location and "[ceph]" in ceph.source.location
    assert reg.get("default").region == "eu-west-1"
    assert reg.get("nested").endpoint_url == "https://nested.example"


def test_aws_env_profile(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "https://s3.env.example")
    p = registry().get("aws-env")
    assert p.endpoint_url == "https://s3.env.example"
    assert "AWS_ACCESS_KEY_ID" in p.source.location and SECRET not in repr(p)


def test_presets_osn_and_aws_open_data():
    reg = registry()
    assert reg.get("osn").anonymous and reg.get("osn").endpoint_url.startswith("https://")
    assert reg.get("aws-open-data").anonymous
    assert reg.for_url("s3://Pangeo/pangeo-forge/x.zarr").name == "osn"
    assert reg.for_url("s3://noaa-goes16/ABI").name == "aws-open-data"


def test_openstack_env_profiles(monkeypatch):
    monkeypatch.setenv("ST_AUTH", "https://swift.example/auth/v1.0")
    monkeypatch.setenv("ST_USER", "acct:user")
    monkeypatch.setenv("ST_KEY", SECRET)
    p = registry().get("swift-env")
    assert p.auth_version == "1" and p.user == "acct:user"
    assert p.source.location == "ST_AUTH, ST_USER, ST_KEY"


# --- precedence, pair by pair -----------------------------------------------------------------

def test_toml_beats_env(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENV")
    toml('[profiles.aws-env]\nendpoint_url = "https://from-toml"\n')
    assert registry().get("aws-env").source.kind == "toml"


def test_env_beats_aws_files(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENV")
    aws_credentials("[aws-env]\naws_access_key_id = AKIAFILE\naws_secret_access_key = x\n")
    assert registry().get("aws-env").source.kind == "env"


def test_aws_files_beat_presets():
    aws_config("[profile osn]\nendpoint_url = https://my-osn\n")
    reg = registry()
    assert reg.get("osn").source.kind == "aws"
    assert any(p.source.kind == "preset" for p in reg.shadowed)


def test_toml_beats_presets():
    toml('[profiles.osn]\nendpoint_url = "https://mine"\n')
    assert registry().get("osn").endpoint_url == "https://mine"


def test_explicit_beats_match_beats_default(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENV")
    toml('[profiles.short]\nmatch = ["s3://bucket/*"]\n'
         '[profiles.long]\nmatch = ["s3://bucket/deep/*"]\n')
    reg = registry()
    assert reg.for_url("s3://bucket/deep/cube.zarr").name == "long"  # longest pattern wins
    assert reg.for_url("s3://bucket/other.zarr").name == "short"
    assert reg.for_url("s3://bucket/deep/cube.zarr", "short").name == "short"  # explicit wins
    assert reg.for_url("s3://elsewhere/cube.zarr").name == "aws-env"  # scheme default


def test_aws_profile_picks_the_default(monkeypatch):
    aws_credentials("[work]\naws_access_key_id = AKIAWORK\naws_secret_access_key = x\n"
                    "[default]\naws_access_key_id = AKIADEF\naws_secret_access_key = x\n")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENV")
    monkeypatch.setenv("AWS_PROFILE", "work")
    assert registry().for_url("s3://b/k").name == "work"  # AWS_PROFILE beats env credentials
    monkeypatch.delenv("AWS_PROFILE")
    assert registry().for_url("s3://b/k").name == "aws-env"  # env beats [default]
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    assert registry().for_url("s3://b/k").name == "default"


def test_unknown_aws_profile_is_named(monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "ghost")
    with pytest.raises(ProfileNotFoundError, match="'ghost' \\(from AWS_PROFILE\\).*Profiles found"):
        registry().for_url("s3://b/k")


# --- errors -----------------------------------------------------------------------------------

def test_unknown_profile_lists_profiles_and_sources():
    toml('[profiles.mine]\nbackend = "s3"\n')
    with pytest.raises(ProfileNotFoundError) as info:
        registry().get("typo")
    msg = str(info.value)
    assert "'typo'" in msg and "mine" in msg and "osn" in msg
    assert os.environ["OBJSTORE_CONFIG"] in msg and os.environ["AWS_CONFIG_FILE"] in msg
    assert isinstance(info.value, KeyError)


def test_malformed_toml_names_file_and_line():
    path = toml('[profiles.a]\nbackend = "s3"\nendpoint_url = https://no-quotes\n')
    with pytest.raises(ConfigError) as info:
        _ = registry().profiles
    assert str(path) in str(info.value) and "line 3" in str(info.value)


def test_invalid_field_names_file_line_and_field_but_not_the_value():
    path = toml(f'[profiles.a]\nbackend = "s3"\n\n[profiles.b]\nbackend = "s3"\nsecret = "{SECRET}"\n'
                'anonymous = "perhaps"\nnot_a_field = 1\n')
    with pytest.raises(ConfigError) as info:
        _ = registry().profiles
    msg = str(info.value)
    assert f"{path}, line 4" in msg and "anonymous" in msg and "not_a_field" in msg
    assert SECRET not in msg and "perhaps" not in msg


def test_unknown_backend_is_a_config_error():
    toml('[profiles.a]\nbackend = "ftp"\n')
    with pytest.raises(ConfigError, match="profile 'a'.*backend"):
        _ = registry().profiles


def test_missing_swift_credentials_name_the_variables():
    with pytest.raises(CredentialsError, match="ST_AUTH.*OS_STORAGE_URL.*OS_AUTH_URL"):
        objstore.resolve("swift://cubes/fire.zarr")


def test_missing_azure_credentials_name_the_variables():
    with pytest.raises(CredentialsError, match="AZURE_STORAGE_CONNECTION_STRING"):
        objstore.resolve("az://container/cube.zarr")


# --- writing the TOML file -------------------------------------------------------------------

def test_add_profile_is_atomic_0600_and_validated(tmp_path):
    path = tmp_path / "cfg" / "profiles.toml"
    toml_file.add_profile(path, "osn2", {"backend": "s3", "endpoint_url": "https://e",
                                         "anonymous": True, "match": ["s3://x/*"]})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert toml_file.load_file(path)[0].match == ["s3://x/*"]
    with pytest.raises(ConfigError, match="already exists"):
        toml_file.add_profile(path, "osn2", {"backend": "s3"})
    with pytest.raises(ConfigError):
        toml_file.add_profile(path, "bad", {"backend": "s3", "anonymous": "maybe"})
    assert [p.name for p in toml_file.load_file(path)] == ["osn2"]


# --- resolution ------------------------------------------------------------------------------

def test_resolve_gives_fs_path_options_store_and_mapper_without_io():
    r = objstore.resolve("s3://Pangeo/pangeo-forge/gpcp.zarr")
    assert r.protocol == "s3" and r.path == "Pangeo/pangeo-forge/gpcp.zarr"
    assert r.storage_options == {"anon": True, "endpoint_url": "https://ncsa.osn.xsede.org"}
    assert r.fsspec_url == "s3://Pangeo/pangeo-forge/gpcp.zarr"
    assert r.fs.anon


def test_changed_profile_gets_a_fresh_filesystem(monkeypatch):
    toml('[profiles.p]\nkey = "AKIA1"\nsecret = "s1"\n')
    fs1 = objstore.resolve("s3://b/k", "p").fs
    assert objstore.resolve("s3://b/k", "p").fs is fs1  # cached while nothing changes
    toml('[profiles.p]\nkey = "AKIA2"\nsecret = "s2-longer"\n')
    fs2 = objstore.resolve("s3://b/k", "p").fs
    assert fs2 is not fs1 and fs2.key == "AKIA2"


def test_resolved_repr_hides_secrets():
    toml(f'[profiles.p]\nkey = "AKIA1"\nsecret = "{SECRET}"\n')
    r = objstore.resolve("s3://b/k", "p")
    assert SECRET not in repr(r) and SECRET not in repr(r.profile) and SECRET not in str(r.profile)


def test_foreign_error_text_is_scrubbed_of_secrets():
    from objstore.errors import scrub

    text = scrub("403, url='http://h/c/k?sv=2020-10&sig=abc%2Fdef&se=1' AccountKey=Eby8==;X "
                 "Authorization: Bearer ya29.secret X-Amz-Signature=deadbeef")
    for secret in ("abc%2Fdef", "Eby8==", "ya29.secret", "deadbeef"):
        assert secret not in text
    assert "sv=2020-10" in text and "se=1" in text
