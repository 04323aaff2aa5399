"""The obstore I/O engine on S3 (moto) and Azure (Azurite), selected by the profile's ``engine``
field; GCS refuses it with the reason, and ``auto`` picks what docs/performance.md says."""

from __future__ import annotations

import pickle
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import xarray as xr
from zarr.storage import ObjectStore

import objstore
from objstore import perf
from objstore.errors import ConfigError, CredentialsError, CubeExistsError, CubeNotFoundError
from objstore.profiles import AzureProfile, GCSProfile, S3Profile, Source, SwiftProfile

OBSTORE_BACKENDS = ["s3", "azure"]


@pytest.fixture(params=OBSTORE_BACKENDS)
def obs_rig(request):
    """A fresh bucket on S3 or Azure whose profile selects the obstore engine."""
    rig = request.getfixturevalue(f"{request.param}_rig")
    rig.profile = rig.profile.model_copy(update={"engine": "obstore"})
    return rig


def _inner(url, profile):
    return objstore.resolve(url, profile=profile).zarr_store()._store


def test_the_store_really_is_obstore(obs_rig):
    from obstore.store import AzureStore, S3Store

    inner = _inner(obs_rig.url("kind.zarr"), obs_rig.profile)
    assert isinstance(inner, ObjectStore)
    expected = {"s3": S3Store, "azure": AzureStore}[obs_rig.backend]
    assert isinstance(inner.store, expected)
    assert inner.store.prefix == "kind.zarr"
    assert inner.store.client_options["pool_max_idle_per_host"] == str(
        perf.DEFAULT_MAX_CONCURRENCY)


def test_round_trip_is_identical(obs_rig, small_cube):
    url = obs_rig.url("cubes/tas.zarr")
    objstore.write_cube(small_cube, url, profile=obs_rig.profile)
    back = objstore.open_cube(url, profile=obs_rig.profile)
    xr.testing.assert_identical(back.load(), small_cube.load())
    # and the fsspec engine reads what obstore wrote
    fs_profile = obs_rig.profile.model_copy(update={"engine": "fsspec"})
    xr.testing.assert_identical(objstore.open_cube(url, profile=fs_profile).load(),
                                small_cube.load())


def test_overwrite_only_when_asked(obs_rig, small_cube):
    url = obs_rig.url("keep.zarr")
    objstore.write_cube(small_cube, url, profile=obs_rig.profile)
    with pytest.raises(CubeExistsError):
        objstore.write_cube(small_cube * 0, url, profile=obs_rig.profile)
    xr.testing.assert_identical(objstore.open_cube(url, profile=obs_rig.profile).load(),
                                small_cube.load())
    smaller = small_cube.isel(time=slice(0, 4)) + 1  # mode="w": the old objects go (bulk delete)
    objstore.write_cube(smaller, url, profile=obs_rig.profile, mode="w")
    xr.testing.assert_identical(objstore.open_cube(url, profile=obs_rig.profile).load(),
                                smaller.load())


def test_missing_cube(obs_rig):
    with pytest.raises(CubeNotFoundError):
        objstore.open_cube(obs_rig.url("nothing-here.zarr"), profile=obs_rig.profile)


def test_the_store_pickles_without_showing_secrets(obs_rig):
    store = objstore.resolve(obs_rig.url("p.zarr"), profile=obs_rig.profile).zarr_store()
    secret = (obs_rig.server.account_key if obs_rig.backend == "azure"
              else obs_rig.profile.secret.get_secret_value())
    text = repr(store) + repr(store._store) + repr(store._store.store)
    if obs_rig.backend == "azure":
        text += repr(store._store.store.config) + repr(store._store.store.credential_provider)
    assert secret not in text
    copy = pickle.loads(pickle.dumps(store))
    assert isinstance(copy._store, ObjectStore) and copy._store.store == store._store.store


# --- Azure: a wrong key, a SAS, anonymous, and the environment never beats the profile --------

def _azure_profile(azure_rig, **kw):
    base = {"name": "az-obstore", "account_name": azure_rig.server.account_name,
            "endpoint_url": azure_rig.server.blob_endpoint, "engine": "obstore",
            "source": Source(kind="test")}
    return AzureProfile(**{**base, **kw})


def test_azure_wrong_key_is_a_credentials_error_without_the_key(azure_rig, small_cube):
    wrong = "QUJD" + azure_rig.server.account_key[4:]
    prof = _azure_profile(azure_rig, account_key=wrong)
    with pytest.raises(CredentialsError, match="access denied") as info:
        objstore.write_cube(small_cube, azure_rig.url("wrong.zarr"), profile=prof)
    assert wrong not in str(info.value) and wrong not in repr(info.value)
    with pytest.raises(CredentialsError) as info:
        objstore.open_cube(azure_rig.url("wrong.zarr"), profile=prof)
    assert wrong not in str(info.value)


def test_azure_sas_round_trip_and_a_bad_sas_stays_secret(azure_rig, small_cube, monkeypatch):
    from servers.azurite import make_sas

    sas = make_sas(azure_rig.server, azure_rig.bucket)
    # object_store reads AZURE_STORAGE_* too: a wrong key there must not beat the profile's SAS
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_KEY", "QUJD" + azure_rig.server.account_key[4:])
    prof = _azure_profile(azure_rig, sas_token=sas)
    url = azure_rig.url("sas.zarr")
    objstore.write_cube(small_cube, url, profile=prof)
    xr.testing.assert_identical(objstore.open_cube(url, profile=prof).load(), small_cube.load())

    sig = sas.split("sig=")[1].split("&")[0]
    bad = _azure_profile(azure_rig, sas_token=sas.replace("sig=", "sig=AAAA"))
    with pytest.raises(CredentialsError) as info:
        objstore.open_cube(url, profile=bad)
    assert sig not in str(info.value) and "sig=AAAA" not in str(info.value)


def test_azure_anonymous_reads_a_public_container(azurite, small_cube):
    from servers.azurite import create_public_container

    container = f"pub{uuid.uuid4().hex[:10]}"
    create_public_container(azurite, container)
    owner = AzureProfile(
        name="owner", account_name=azurite.account_name, account_key=azurite.account_key,
        endpoint_url=azurite.blob_endpoint, engine="obstore", source=Source(kind="test"))
    url = f"az://{container}/public.zarr"
    objstore.write_cube(small_cube, url, profile=owner)
    anon = AzureProfile(name="anon", endpoint_url=azurite.blob_endpoint, anonymous=True,
                        engine="obstore", source=Source(kind="test"))
    inner = _inner(url, anon)
    assert str(inner.store.config.get("skip_signature")).lower() == "true"
    xr.testing.assert_identical(objstore.open_cube(url, profile=anon).load(), small_cube.load())


# --- S3: moto accepts any key, so a refusal comes from a server that refuses everything -------

class _Refuse(BaseHTTPRequestHandler):
    def _deny(self) -> None:
        body = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
                b"<Message>Access Denied</Message></Error>")
        self.send_response(403)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _deny  # noqa: N815

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def refusing_server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Refuse)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_s3_denied_is_a_credentials_error_without_the_secret(refusing_server, small_cube):
    secret = "s3cr3t-" + uuid.uuid4().hex
    prof = S3Profile(name="denied", key="AKIAWRONG", secret=secret, endpoint_url=refusing_server,
                     engine="obstore", source=Source(kind="test"))
    with pytest.raises(CredentialsError, match="access denied") as info:
        objstore.open_cube("s3://bucket/c.zarr", profile=prof)
    assert secret not in str(info.value) and secret not in repr(info.value)
    with pytest.raises(CredentialsError) as info:
        objstore.write_cube(small_cube, "s3://bucket/c.zarr", profile=prof)
    assert secret not in str(info.value)


def test_s3_wrong_key_against_moto_never_shows_the_secret(s3_rig, small_cube):
    secret = "s3cr3t-" + uuid.uuid4().hex
    prof = s3_rig.profile.model_copy(update={"engine": "obstore"})
    prof = S3Profile(**{**prof.model_dump(), "secret": secret})
    try:  # moto accepts any key; whatever happens, the secret is in no message
        objstore.open_cube(s3_rig.url("none.zarr"), profile=prof)
    except Exception as exc:  # noqa: BLE001
        assert secret not in str(exc) and secret not in repr(exc)


# --- which engine: auto, explicit, GCS --------------------------------------------------------

def test_auto_picks_obstore_for_s3_and_azure_where_options_translate(s3_rig, azure_rig):
    for rig in (s3_rig, azure_rig):
        auto = rig.profile.model_copy(update={"engine": "auto"})
        r = objstore.resolve(rig.url("a.zarr"), profile=auto)
        assert perf.engine(auto, r.protocol, r.storage_options) == "obstore"
        assert isinstance(r.zarr_store()._store, ObjectStore)
    aad = AzureProfile(name="aad", account_name="acct", engine="auto",
                       storage_options={"anon": False})  # Azure AD: adlfs's business
    r = objstore.resolve("az://c/k", profile=aad)
    assert perf.engine(aad, r.protocol, r.storage_options) == "fsspec"
    s3_extra = S3Profile(name="x", key="k", secret="s", engine="auto",
                         storage_options={"default_block_size": 2**20})
    r = objstore.resolve("s3://b/k", profile=s3_extra)
    assert perf.engine(s3_extra, r.protocol, r.storage_options) == "fsspec"


def test_auto_picks_fsspec_for_gcs(gcs_rig, small_cube):
    auto = gcs_rig.profile.model_copy(update={"engine": "auto"})
    url = gcs_rig.url("auto.zarr")
    r = objstore.resolve(url, profile=auto)
    assert perf.engine(auto, r.protocol, r.storage_options) == "fsspec"
    objstore.write_cube(small_cube, url, profile=auto)
    xr.testing.assert_identical(objstore.open_cube(url, profile=auto).load(), small_cube.load())


def test_explicit_obstore_on_gcs_says_why_not():
    prof = GCSProfile(name="g", anonymous=True, engine="obstore")
    with pytest.raises(ConfigError, match="not offered for GCS.*emulator"):
        objstore.resolve("gs://b/c.zarr", profile=prof).zarr_store()


def test_explicit_obstore_that_cannot_be_honoured_names_the_option():
    s3 = S3Profile(name="s", key="k", secret="sec", engine="obstore",
                   storage_options={"config_kwargs": {"signature_version": "s3"}})
    with pytest.raises(ConfigError, match="config_kwargs.'signature_version'"):
        objstore.resolve("s3://b/c.zarr", profile=s3).zarr_store()
    aad = AzureProfile(name="aad", account_name="acct", engine="obstore",
                       storage_options={"anon": False})
    with pytest.raises(ConfigError, match="'account_name'"):
        objstore.resolve("az://c/k", profile=aad).zarr_store()
    swift = SwiftProfile(name="sw", storage_url="http://127.0.0.1:9/v1/AUTH_x", token="t",
                         engine="obstore")
    with pytest.raises(ConfigError, match="S3 and Azure, not swift://"):
        objstore.resolve("swift://c/k", profile=swift).zarr_store()


def test_objstore_engine_variable_means_obstore_where_offered(monkeypatch):
    monkeypatch.setenv("OBJSTORE_ENGINE", "obstore")
    assert perf.engine(GCSProfile(name="g"), "gs", {"token": "anon"}) == "fsspec"
    assert perf.engine(S3Profile(name="s"), "s3", {"anon": True}) == "obstore"
    assert perf.engine(S3Profile(name="s", engine="fsspec"), "s3", {"anon": True}) == "fsspec"
    with pytest.raises(ConfigError, match="OBJSTORE_ENGINE.*'default_block_size'"):
        perf.engine(S3Profile(name="s"), "s3", {"anon": True, "default_block_size": 1})
