"""AWS profiles as botocore reads them: listing, provenance, endpoints, what reaches s3fs
(no server needed)."""

from __future__ import annotations

import json

import pytest
from cli_runner import run_cli
from test_registry import SECRET, aws_config, aws_credentials, registry

import objstore
from objstore.errors import ConfigError

ROLE = "arn:aws:iam::123456789012:role/writer"


def test_every_form_is_listed_with_its_provenance():
    cfg = aws_config(
        "[profile base]\nregion = eu-west-1\n\n"
        f"[profile role]\nrole_arn = {ROLE}\nsource_profile = base\n\n"
        "[profile proc]\ncredential_process = /usr/local/bin/get-creds\n\n"
        "[profile sso]\nsso_session = corp\nsso_account_id = 123456789012\n"
        "sso_role_name = Reader\n\n[sso-session corp]\nsso_start_url = https://corp.example/start\n"
        "sso_region = us-east-1\n")
    creds = aws_credentials(f"[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = {SECRET}\n"
                            f"[temp]\naws_access_key_id = ASIATEMP\naws_secret_access_key = {SECRET}\n"
                            f"aws_session_token = {SECRET}TOKEN\n")
    reg = registry()
    for name in ("base", "role", "proc", "sso", "temp"):
        p = reg.get(name)
        assert p.backend == "s3" and p.aws_profile == name and p.source.kind == "aws"
        assert p.secret is None and p.token is None  # botocore holds the secrets, not the profile
    assert reg.get("base").source.location == f"{cfg} [profile base] + {creds} [base]"
    assert reg.get("temp").source.location == f"{creds} [temp]"
    assert "corp" not in reg.profiles  # an [sso-session] is not a profile
    assert reg.get("base").key.get_secret_value() == "AKIABASE"  # the key it signs with
    assert reg.get("role").key is None and reg.get("proc").key is None


def test_file_profiles_reach_s3fs_by_name_only():
    aws_config(f"[profile both]\nrole_arn = {ROLE}\nsource_profile = both\nregion = eu-west-1\n")
    aws_credentials(f"[both]\naws_access_key_id = AKIABOTH\naws_secret_access_key = {SECRET}\n"
                    f"[temp]\naws_access_key_id = ASIATEMP\naws_secret_access_key = {SECRET}\n"
                    f"aws_session_token = {SECRET}TOKEN\n")
    r = objstore.resolve("s3://bucket/cube.zarr", "both")
    assert r.storage_options == {"profile": "both", "client_kwargs": {"region_name": "eu-west-1"}}
    assert objstore.resolve("s3://bucket/cube.zarr", "temp").storage_options == {"profile": "temp"}


def test_toml_profile_with_its_own_keys_keeps_them():
    from test_registry import toml

    toml(f'[profiles.mine]\naws_profile = "other"\nkey = "AKIAMINE"\nsecret = "{SECRET}"\n')
    opts = objstore.resolve("s3://bucket/k", "mine").storage_options
    assert opts["key"] == "AKIAMINE" and "profile" not in opts


@pytest.mark.parametrize(("variables", "expected"), [
    ({}, "https://services.example"),
    ({"AWS_ENDPOINT_URL": "https://global.env"}, "https://global.env"),
    ({"AWS_ENDPOINT_URL": "https://global.env", "AWS_ENDPOINT_URL_S3": "https://s3.env"},
     "https://s3.env"),
    ({"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true", "AWS_ENDPOINT_URL": "https://x"}, None),
])
def test_endpoint_as_botocore_picks_it(monkeypatch, variables, expected):
    for k, v in variables.items():
        monkeypatch.setenv(k, v)
    aws_config("[services lab]\ns3 =\n  endpoint_url = https://services.example\n\n"
               "[profile lab]\nservices = lab\nendpoint_url = https://profile.example\n")
    assert registry().get("lab").endpoint_url == expected


def test_endpoint_forms_in_the_profile():
    aws_config("[profile flat]\nendpoint_url = https://flat.example\n\n"
               "[profile nested]\nendpoint_url = https://flat.example\ns3 =\n"
               "  endpoint_url = https://nested.example\n  addressing_style = path\n\n"
               "[profile broken]\nservices = nowhere\n")
    reg = registry()
    assert reg.get("flat").endpoint_url == "https://flat.example"
    assert reg.get("nested").endpoint_url == "https://nested.example"  # s3-specific wins
    assert reg.get("broken").endpoint_url is None  # botocore names the missing section when used


def test_region_variable_beats_the_file_as_in_botocore(monkeypatch):
    aws_config("[profile eu]\nregion = eu-west-1\n")
    assert registry().get("eu").region == "eu-west-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert registry().get("eu").region == "us-west-2"


def test_malformed_aws_file_names_the_file():
    path = aws_config("[profile ok]\nregion = x\nthis line is not ini\n")
    with pytest.raises(ConfigError, match=f"{path}, line 3: not a valid AWS INI file"):
        registry().get("ok")


def test_cli_lists_role_and_sso_profiles_without_secrets():
    aws_config(f"[profile role]\nrole_arn = {ROLE}\nsource_profile = base\n"
               "endpoint_url = https://ceph.example\n\n"
               "[profile sso]\nsso_start_url = https://corp.example/start\nsso_region = us-east-1\n"
               "sso_account_id = 123456789012\nsso_role_name = Reader\n")
    aws_credentials(f"[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = {SECRET}\n"
                    f"aws_session_token = {SECRET}TOKEN\n")
    rows = {r["name"]: r for r in json.loads(run_cli("profiles", "--json"))}
    assert rows["role"]["endpoint"] == "https://ceph.example" and rows["sso"]["backend"] == "s3"
    assert rows["base"]["source"].startswith("aws: ")
    outputs = [run_cli("profiles")] + [run_cli("profiles", "show", n, "--json")
                                       for n in ("role", "sso", "base")]
    assert not [out for out in outputs if SECRET in out]
    assert json.loads(outputs[-1])["aws_profile"] == "base"


def test_obstore_credential_provider_pickles_as_the_profile_name():
    import pickle

    from objstore.backends._aws_provider import AwsProfileCredentials

    aws_credentials(f"[lab]\naws_access_key_id = AKIALAB\naws_secret_access_key = {SECRET}\n")
    provider = AwsProfileCredentials("lab")
    assert provider()["secret_access_key"] == SECRET  # botocore read the file
    blob = pickle.dumps(provider)
    assert SECRET.encode() not in blob and b"AKIALAB" not in blob
    again = pickle.loads(blob)
    assert again == provider and again()["access_key_id"] == "AKIALAB"
    assert SECRET not in repr(provider)
