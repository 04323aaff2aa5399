"""S3 and S3-compatible specifics against the real moto server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import xarray as xr
from test_registry import SECRET, aws_config, aws_credentials, toml

import objstore
from objstore.errors import CredentialsError


def test_anonymous_read_of_public_bucket_through_matched_profile(s3_rig, small_cube):
    url = s3_rig.url("public.zarr")
    objstore.write_cube(small_cube, url, profile=s3_rig.profile)
    client = s3_rig.server.client()
    client.put_bucket_acl(Bucket=s3_rig.bucket, ACL="public-read")
    for obj in client.list_objects_v2(Bucket=s3_rig.bucket)["Contents"]:
        client.put_object_acl(Bucket=s3_rig.bucket, Key=obj["Key"], ACL="public-read")
    toml(f'[profiles.public-moto]\nbackend = "s3"\nendpoint_url = "{s3_rig.server.endpoint_url}"\n'
         f'anonymous = true\nmatch = ["s3://{s3_rig.bucket}/*"]\n')
    r = objstore.resolve(url)
    assert r.profile.name == "public-moto" and r.storage_options["anon"] is True
    xr.testing.assert_identical(objstore.open_cube(url).load(), small_cube.load())


def test_custom_endpoint_from_aws_config_file(s3_rig, small_cube):
    aws_config(f"[profile ceph]\nregion = us-east-1\nendpoint_url = {s3_rig.server.endpoint_url}\n")
    aws_credentials("[ceph]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    url = s3_rig.url("ceph.zarr")
    objstore.write_cube(small_cube, url, profile="ceph")
    assert objstore.open_cube(url, profile="ceph")["tas"].attrs["units"] == "K"


def test_aws_profile_selects_credentials_and_endpoint(s3_rig, small_cube, monkeypatch):
    aws_config(f"[profile lab]\nendpoint_url = {s3_rig.server.endpoint_url}\n")
    aws_credentials("[lab]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    monkeypatch.setenv("AWS_PROFILE", "lab")
    url = s3_rig.url("lab.zarr")
    objstore.write_cube(small_cube, url)
    assert objstore.resolve(url).profile.name == "lab"
    assert objstore.open_cube(url).sizes["time"] == 8


def test_match_selects_the_profile_without_profile_argument(s3_rig, small_cube):
    toml(f'[profiles.lab]\nendpoint_url = "{s3_rig.server.endpoint_url}"\nkey = "testing"\n'
         f'secret = "testing"\nmatch = ["s3://{s3_rig.bucket}/*"]\n')
    url = s3_rig.url("m.zarr")
    objstore.write_cube(small_cube, url)
    assert objstore.open_cube(url).attrs["title"] == "test cube"


def test_fixing_a_profile_is_not_served_a_stale_filesystem(s3_rig, small_cube):
    """fsspec's instance cache must not keep a filesystem built from the old credentials."""
    import s3fs

    endpoint = s3_rig.server.endpoint_url
    s3fs.S3FileSystem(key="testing", secret="testing", endpoint_url=endpoint)  # warm fsspec's cache
    toml(f'[profiles.p]\nendpoint_url = "{endpoint}"\nanonymous = true\n')
    url = s3_rig.url("stale.zarr")
    with pytest.raises((CredentialsError, objstore.RemoteError, OSError)):
        objstore.write_cube(small_cube, url, profile="p")  # moto refuses anonymous writes
    toml(f'[profiles.p]\nendpoint_url = "{endpoint}"\nkey = "testing"\nsecret = "testing"\n')
    objstore.write_cube(small_cube, url, profile="p", mode="w")
    assert objstore.open_cube(url, profile="p").sizes["lat"] == 4


def test_requester_pays_and_region_reach_s3fs():
    toml('[profiles.rp]\nregion = "eu-central-1"\nrequester_pays = true\n'
         'storage_options = { default_block_size = 1048576 }\n')
    r = objstore.resolve("s3://b/k", "rp")
    assert r.storage_options == {"client_kwargs": {"region_name": "eu-central-1"},
                                 "requester_pays": True, "default_block_size": 1048576}


def test_aws_profile_without_keys_is_left_to_botocore():
    aws_config("[profile sso]\nsso_session = corp\nregion = us-west-2\n")
    r = objstore.resolve("s3://b/k", "sso")
    assert r.storage_options["profile"] == "sso"


def test_secret_from_files_not_in_errors(s3_rig):
    aws_credentials(f"[bad]\naws_access_key_id = AKIABAD\naws_secret_access_key = {SECRET}\n")
    aws_config(f"[profile bad]\nendpoint_url = {s3_rig.server.endpoint_url}\n")
    try:
        objstore.open_cube(s3_rig.url("none.zarr"), profile="bad")
    except Exception as exc:  # moto accepts any key; whatever happens, no secret in the message
        assert SECRET not in str(exc) and SECRET not in repr(exc)
    assert Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"]).exists()
