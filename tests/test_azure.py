"""Azure Blob specifics against Azurite: SAS, anonymous public/private containers, the adlfs
listings-cache trap, URL forms, errors that name the variables, secrets never shown."""

from __future__ import annotations

import json
import uuid

import fsspec
import pytest
import xarray as xr
from cli_runner import run_cli
from servers.azurite import create_container, create_public_container, make_sas
from test_registry import toml

import objstore
from objstore.errors import CredentialsError
from objstore.profiles import AzureProfile, Source

KEY = "S3CR3TKEY" + "x" * 70 + "=="
SAS = "sv=2024-08-04&ss=b&srt=co&sp=rl&se=2030-01-01T00:00:00Z&sig=S3CR3TSIG%2Babc%3D"
CONN = f"DefaultEndpointsProtocol=https;AccountName=envacct;AccountKey={KEY};EndpointSuffix=core.windows.net"



# --- credentials against Azurite ------------------------------------------------------------

def test_sas_token_profile_writes_and_reads(azurite, small_cube):
    container = f"sas{uuid.uuid4().hex[:10]}"
    create_container(azurite, container)
    sas = make_sas(azurite, container)
    toml(f'[profiles.sas]\nbackend = "azure"\naccount_name = "{azurite.account_name}"\n'
         f'sas_token = "?{sas}"\nendpoint_url = "{azurite.blob_endpoint}"\n'
         f'match = ["az://{container}/*"]\n')
    url = f"az://{container}/sas.zarr"
    r = objstore.write_cube(small_cube, url)
    assert r.profile.name == "sas"
    assert r.storage_options["connection_string"] == (
        f"BlobEndpoint={azurite.blob_endpoint};SharedAccessSignature={sas}")
    xr.testing.assert_identical(objstore.open_cube(url).load(), small_cube.load())


def test_read_only_sas_refuses_writes_with_a_credentials_error(azurite, small_cube):
    container = f"ro{uuid.uuid4().hex[:10]}"
    create_container(azurite, container)
    sas = make_sas(azurite, container, permissions="rl")
    profile = AzureProfile(name="ro", account_name=azurite.account_name, sas_token=sas,
                           endpoint_url=azurite.blob_endpoint, source=Source(kind="test"))
    with pytest.raises(CredentialsError, match=f"access denied to az://{container}/ro.zarr") as info:
        objstore.write_cube(small_cube, f"az://{container}/ro.zarr", profile=profile)
    assert sas not in str(info.value) and "sig=" not in str(info.value)


def test_explicit_profile_beats_adlfs_environment_fallbacks(azure_rig, small_cube, monkeypatch):
    """adlfs prefers AZURE_STORAGE_CONNECTION_STRING over an explicit key; objstore must not."""
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING",
                       "BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;")  # nothing listens
    url = azure_rig.url("explicit.zarr")
    objstore.write_cube(small_cube, url, profile=azure_rig.profile)
    assert objstore.open_cube(url, profile=azure_rig.profile).sizes["time"] == 8


def test_anonymous_read_of_a_public_container(azurite, small_cube):
    container = f"pub{uuid.uuid4().hex[:10]}"
    create_public_container(azurite, container)
    url = f"az://{container}/open.zarr"
    objstore.write_cube(small_cube, url, profile=make_profile(azurite))
    toml(f'[profiles.public]\nbackend = "azure"\nanonymous = true\n'
         f'endpoint_url = "{azurite.blob_endpoint}"\nmatch = ["az://{container}/*"]\n')
    r = objstore.resolve(url)
    assert r.profile.name == "public" and r.storage_options == {
        "use_listings_cache": False, "anon": True,
        "connection_string": f"BlobEndpoint={azurite.blob_endpoint};"}
    xr.testing.assert_identical(objstore.open_cube(url).load(), small_cube.load())

    # The https form names the account; a profile for that account (here: Azurite's) is used.
    toml(f'[profiles.public]\nbackend = "azure"\nanonymous = true\n'
         f'account_name = "{azurite.account_name}"\nendpoint_url = "{azurite.blob_endpoint}"\n')
    https = f"https://{azurite.account_name}.blob.core.windows.net/{container}/open.zarr"
    assert objstore.resolve(https).profile.name == "public"
    xr.testing.assert_identical(objstore.open_cube(https).load(), small_cube.load())


def test_anonymous_read_of_a_private_container_names_the_url(azure_rig, small_cube):
    url = azure_rig.url("private.zarr")
    objstore.write_cube(small_cube, url, profile=azure_rig.profile)
    anon = AzureProfile(name="anon", anonymous=True, endpoint_url=azure_rig.server.blob_endpoint,
                        source=Source(kind="test"))
    with pytest.raises(CredentialsError, match=f"access denied to {url} .*anonymous"):
        objstore.open_cube(url, profile=anon)


def make_profile(azurite) -> AzureProfile:
    return AzureProfile(name="key", account_name=azurite.account_name,
                        account_key=azurite.account_key, endpoint_url=azurite.blob_endpoint,
                        source=Source(kind="test"))


# --- the adlfs listings-cache trap ----------------------------------------------------------

def test_objstore_never_writes_empty_consolidated_metadata(azure_rig, small_cube):
    # The trap, with plain adlfs defaults: to_zarr(consolidated=True) succeeds, reads back empty.
    plain = fsspec.get_mapper(azure_rig.plain_url("plain.zarr"), **azure_rig.plain_options)
    small_cube.to_zarr(plain, consolidated=True, zarr_format=2)
    trapped = xr.open_zarr(fsspec.get_mapper(azure_rig.plain_url("plain.zarr"),
                                             **azure_rig.plain_options), consolidated=True)
    assert list(trapped.data_vars) == []  # empty metadata: the trap is real

    # Through objstore (use_listings_cache=False): the cube round-trips.
    url = azure_rig.url("safe.zarr")
    r = objstore.write_cube(small_cube, url, profile=azure_rig.profile)
    assert r.storage_options["use_listings_cache"] is False
    assert r.fs.dircache.use_listings_cache is False
    zmeta = json.loads(r.fs.cat(f"{r.path}/.zmetadata"))["metadata"]
    assert {"tas/.zarray", "pr/.zarray", "mask/.zarray"} <= set(zmeta)
    xr.testing.assert_identical(objstore.open_cube(url, profile=azure_rig.profile).load(),
                                small_cube.load())


# --- URL forms and accounts (no server) -----------------------------------------------------

def test_url_forms_and_the_account_they_name(monkeypatch):
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", "acct")
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_KEY", KEY)
    keyed = (f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={KEY};"
             "BlobEndpoint=https://acct.blob.core.windows.net;")
    for url in ("az://c/k.zarr", "abfs://c/k.zarr", "abfs://c@acct.dfs.core.windows.net/k.zarr",
                "https://acct.blob.core.windows.net/c/k.zarr"):
        r = objstore.resolve(url)
        assert (r.protocol, r.path, r.profile.name) == ("az", "c/k.zarr", "azure-env"), url
        assert r.storage_options == {"use_listings_cache": False, "connection_string": keyed}, url

    other = objstore.resolve("https://public.blob.core.windows.net/data/cube.zarr")
    assert other.profile.name == "(anonymous)" and other.profile.account_name == "public"
    assert other.storage_options == {
        "use_listings_cache": False, "anon": True,
        "connection_string": "BlobEndpoint=https://public.blob.core.windows.net;"}

    with pytest.raises(CredentialsError, match="account 'public' but profile 'azure-env'.*'acct'"):
        objstore.resolve("https://public.blob.core.windows.net/data/x", "azure-env")


def test_connection_string_profile_matches_its_account(monkeypatch):
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", CONN)
    r = objstore.resolve("https://envacct.blob.core.windows.net/c/k")
    assert r.profile.name == "azure-env" and r.storage_options["connection_string"] == CONN
    assert objstore.resolve("https://someone.blob.core.windows.net/c/k").profile.anonymous


def test_custom_account_host_and_azure_ad_left_to_adlfs():
    toml(f'[profiles.china]\nbackend = "azure"\naccount_name = "acct"\naccount_key = "{KEY}"\n'
         'account_host = "acct.blob.core.chinacloudapi.cn"\n'
         '[profiles.aad]\nbackend = "azure"\naccount_name = "acct"\n'
         'storage_options = { anon = false }\n')
    china = objstore.resolve("az://c/k", "china").storage_options["connection_string"]
    assert "BlobEndpoint=https://acct.blob.core.chinacloudapi.cn;" in china
    assert objstore.resolve("az://c/k", "aad").storage_options == {
        "use_listings_cache": False, "account_name": "acct", "anon": False}


# --- errors name the missing variable; `objstore profiles` still works ----------------------

def test_account_name_without_key_or_sas_names_both_variables(monkeypatch):
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", "acct")
    assert "azure-env" in run_cli("profiles")
    with pytest.raises(CredentialsError) as info:
        objstore.open_cube("az://c/cube.zarr")
    msg = str(info.value)
    assert "AZURE_STORAGE_ACCOUNT_KEY" in msg and "AZURE_STORAGE_SAS_TOKEN" in msg
    assert "az://c/cube.zarr" in msg and "'acct'" in msg


def test_key_without_account_name_names_the_variable(monkeypatch):
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_KEY", KEY)
    with pytest.raises(CredentialsError, match="AZURE_STORAGE_ACCOUNT_NAME") as info:
        objstore.resolve("az://c/cube.zarr")
    assert KEY not in str(info.value)


def test_anonymous_without_an_account_says_how_to_name_one(monkeypatch):
    monkeypatch.setenv("AZURE_STORAGE_ANON", "true")
    with pytest.raises(CredentialsError, match="ACCOUNT.blob.core.windows.net"):
        objstore.resolve("az://c/cube.zarr")


def test_cli_lists_azure_profiles_with_source_and_never_a_secret(monkeypatch):
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", CONN)
    toml(f'[profiles.keyed]\nbackend = "azure"\naccount_name = "acct"\naccount_key = "{KEY}"\n'
         f'[profiles.sassy]\nbackend = "azure"\naccount_name = "acct2"\nsas_token = "{SAS}"\n'
         f'[profiles.azurite]\nbackend = "azure"\nconnection_string = "DefaultEndpointsProtocol='
         f'http;AccountName=devstoreaccount1;AccountKey={KEY};BlobEndpoint='
         f'http://127.0.0.1:10000/devstoreaccount1;"\n')
    rows = {r["name"]: r for r in json.loads(run_cli("profiles", "--json"))}
    assert rows["azure-env"]["source"] == "env: AZURE_STORAGE_CONNECTION_STRING"
    assert rows["azure-env"]["endpoint"] == "envacct.blob.core.windows.net"
    assert rows["azurite"]["endpoint"] == "http://127.0.0.1:10000/devstoreaccount1"
    assert rows["keyed"]["source"].startswith("toml: ")
    outputs = [run_cli("profiles"), run_cli("profiles", "--json")]
    for name in ("azure-env", "keyed", "sassy", "azurite"):
        outputs += [run_cli("profiles", "show", name), run_cli("profiles", "show", name, "--json")]
    for out in outputs:
        for secret in (KEY, SAS, CONN, "S3CR3T", "sig=", "AccountKey"):
            assert secret not in out, (secret, out)
    assert "**********" in run_cli("profiles", "show", "sassy")
