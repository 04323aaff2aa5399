"""Google Cloud Storage specifics against gcp-storage-emulator and a local OAuth2 token endpoint."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from cli_runner import run_cli
from rigs import profile_via, server_port
from rigs_gcs import service_account_file, token_endpoint
from servers.faults import FaultProxy
from test_registry import toml

import objstore
from objstore.boundary import mapped_errors
from objstore.errors import CredentialsError
from objstore.profiles import GCSProfile, Source

TOKEN = "ya29.explicit-" + "S3CR3T" * 6



# --- credentials, for real ------------------------------------------------------------------

def test_service_account_file_is_exchanged_for_a_bearer_token(gcs_rig, small_cube):
    """google-auth signs a JWT with the key in the file; the token it gets back reaches the server."""
    ep = token_endpoint()
    gcs_rig.server.clear_request_log()
    url = gcs_rig.url("sa.zarr")
    r = objstore.write_cube(small_cube, url, profile=gcs_rig.profile)
    assert os.fspath(r.storage_options["token"]) == str(service_account_file())
    xr.testing.assert_identical(objstore.open_cube(url, profile=gcs_rig.profile).load(),
                                small_cube.load())

    seen = gcs_rig.server.seen_bearer_tokens()
    assert seen and set(seen) <= set(ep.issued_tokens)  # every request carried an issued token
    assert not ep.rejected
    email = json.loads(service_account_file().read_text())["client_email"]
    assert ep.assertions and ep.assertions[-1]["iss"] == email


def test_google_application_credentials_from_the_environment(gcs_rig, small_cube, monkeypatch):
    for k, v in gcs_rig.env.items():
        monkeypatch.setenv(k, v)
    gcs_rig.server.clear_request_log()
    url = gcs_rig.url("env.zarr")
    r = objstore.write_cube(small_cube, url)
    assert r.profile.name == "gcs-env" and str(r.profile.source).startswith("env: ")
    assert os.fspath(r.storage_options["token"]) == str(service_account_file())
    assert objstore.open_cube(url)["tas"].attrs["units"] == "K"
    assert set(gcs_rig.server.seen_bearer_tokens()) <= set(token_endpoint().issued_tokens)
    assert gcs_rig.server.seen_bearer_tokens()


def test_explicit_access_token_is_sent_as_is(gcs_rig, small_cube):
    toml(f'[profiles.tok]\nbackend = "gcs"\ntoken = "{TOKEN}"\n'
         f'endpoint_url = "{gcs_rig.server.endpoint}"\nproject = "test"\n'
         f'match = ["gs://{gcs_rig.bucket}/*"]\n')
    gcs_rig.server.clear_request_log()
    url = gcs_rig.url("tok.zarr")
    objstore.write_cube(small_cube, url)
    assert objstore.open_cube(url).sizes["time"] == 8
    assert set(gcs_rig.server.seen_bearer_tokens()) == {TOKEN}
    assert TOKEN not in repr(objstore.resolve(url).storage_options)  # fingerprint, not the token


# --- errors name the variable or file -------------------------------------------------------

def test_missing_credentials_file_names_the_variable_and_the_path(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere" / "sa.json"
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(missing))
    assert "gcs-env" in run_cli("profiles")  # listing still works
    with pytest.raises(CredentialsError) as info:
        objstore.open_cube("gs://bucket/cube.zarr")
    assert "GOOGLE_APPLICATION_CREDENTIALS" in str(info.value) and str(missing) in str(info.value)


def test_bad_token_file_in_a_profile_names_the_profile_and_the_file(tmp_path):
    bad = tmp_path / "not-json.txt"
    bad.write_text("hello")
    toml(f'[profiles.broken]\nbackend = "gcs"\ntoken_file = "{bad}"\n'
         f'[profiles.gone]\nbackend = "gcs"\ntoken_file = "{tmp_path / "gone.json"}"\n')
    with pytest.raises(CredentialsError, match=rf"token_file {re.escape(str(bad))} of profile "
                                               r"'broken' \(from toml: .*line 1\).*not a JSON"):
        objstore.resolve("gs://b/k", "broken")
    with pytest.raises(CredentialsError, match="gone.json of profile 'gone'.*no such file"):
        objstore.resolve("gs://b/k", "gone")


def test_forbidden_from_gcsfs_is_a_credentials_error():
    r = objstore.resolve("gs://b/cube.zarr")
    with pytest.raises(CredentialsError, match="access denied to gs://b/cube.zarr.*anonymous"):
        with mapped_errors(r):
            raise OSError("Forbidden: https://storage.googleapis.com/b\nAnonymous caller ...")


# --- safe defaults --------------------------------------------------------------------------

def test_default_without_credentials_is_anonymous_not_a_metadata_probe(gcs_rig, small_cube,
                                                                       monkeypatch):
    assert objstore.resolve("gs://b/k").storage_options["token"] == "anon"
    explicit = GCSProfile(name="gd", google_default=True, source=Source(kind="test"))
    assert objstore.resolve("gs://b/k", explicit).storage_options["token"] == "google_default"

    url = gcs_rig.url("anon.zarr")
    objstore.write_cube(small_cube, url, profile=gcs_rig.profile)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_rig.server.endpoint.removeprefix("http://"))
    r = objstore.resolve(url)
    assert r.profile.name == "gcs-env" and r.storage_options == {
        "token": "anon", "use_listings_cache": False, "endpoint_url": gcs_rig.server.endpoint}
    start = time.monotonic()
    assert objstore.open_cube(url).sizes["lat"] == 4
    assert time.monotonic() - start < 10  # the metadata probe alone takes ~12 s; this takes ~0.1 s


def test_objstore_switches_off_the_gcsfs_grpc_probe_before_gcsfs_is_imported(gcs_rig, small_cube):
    """In a fresh interpreter without the variable: objstore sets it, then gcsfs is imported."""
    url = gcs_rig.url("fresh.zarr")
    objstore.write_cube(small_cube, url, profile=gcs_rig.profile)
    code = textwrap.dedent(f"""
        import os, sys, time
        import objstore
        from objstore.profiles import GCSProfile
        assert "gcsfs" not in sys.modules
        p = GCSProfile(anonymous=True, endpoint_url={gcs_rig.server.endpoint!r})
        r = objstore.resolve({url!r}, p)
        assert "gcsfs" not in sys.modules  # resolving imports only the adapter
        t = time.monotonic()
        ds = objstore.open_cube({url!r}, profile=p)
        import gcsfs
        print(os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"], gcsfs.GCSFileSystem.__name__,
              dict(ds.sizes)["time"], round(time.monotonic() - t, 2))
    """)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GCSFS_", "GOOGLE_", "STORAGE_EMULATOR_HOST"))}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=50)
    assert out.returncode == 0, out.stderr[-2000:]
    flag, cls, ntime, seconds = out.stdout.split()
    assert (flag, cls, ntime) == ("false", "GCSFileSystem", "8")
    assert float(seconds) < 30  # ~0.2 s; the experimental probe would stall ~60 s


def test_objstore_imports_gcsfs_only_through_fsspec_after_the_adapter():
    root = Path(objstore.__file__).parent
    direct = [str(p.relative_to(root)) for p in root.rglob("*.py")
              if re.search(r"^\s*(import gcsfs|from gcsfs\b)", p.read_text(), re.M)]
    assert direct == []
    # the switch gcsfs reads once, at import: set by the backend before gcsfs is ever imported
    code = ("import os, sys\nos.environ.pop('GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT', None)\n"
            "import objstore.backends.gcs\n"
            "print(os.environ.get('GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT'), 'gcsfs' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["false", "False"], out.stderr


def test_warns_when_gcsfs_was_imported_first_with_the_probe_on(monkeypatch):
    import importlib.util
    import types

    from objstore.backends import gcs

    fake = types.ModuleType("gcsfs")
    fake.__spec__ = importlib.util.find_spec("gcsfs")  # the adapter's REQUIRES check reads it
    fake.GCSFileSystem = type("ExtendedGcsFileSystem", (), {})  # what gcsfs exports with it on
    monkeypatch.setitem(sys.modules, "gcsfs", fake)
    monkeypatch.setattr(gcs, "_warned_late_import", False)
    with pytest.warns(UserWarning, match="GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false"):
        objstore.resolve("gs://b/k")


def test_project_requester_pays_and_a_bare_emulator_host_reach_gcsfs():
    toml('[profiles.billed]\nbackend = "gcs"\ngoogle_default = true\nproject = "mine"\n'
         'requester_pays = "billing-project"\nendpoint_url = "127.0.0.1:4443"\n'
         'storage_options = { default_block_size = 1048576 }\n')
    assert objstore.resolve("gs://b/k", "billed").storage_options == {
        "token": "google_default", "use_listings_cache": False,
        "endpoint_url": "http://127.0.0.1:4443", "project": "mine",
        "requester_pays": "billing-project", "default_block_size": 1048576}


def test_cli_shows_gcs_profiles_with_source_and_never_the_token(monkeypatch, tmp_path):
    toml(f'[profiles.tok]\nbackend = "gcs"\ntoken = "{TOKEN}"\n')
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "sa.json"))
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "127.0.0.1:4443")
    rows = {r["name"]: r for r in json.loads(run_cli("profiles", "--json"))}
    assert rows["gcs-env"]["source"] == "env: GOOGLE_APPLICATION_CREDENTIALS, STORAGE_EMULATOR_HOST"
    assert rows["gcs-env"]["endpoint"] == "http://127.0.0.1:4443"
    outputs = [run_cli("profiles"), run_cli("profiles", "--json"), run_cli("profiles", "show", "tok"),
               run_cli("profiles", "show", "tok", "--json")]
    assert all(TOKEN not in out for out in outputs)
    assert "**********" in outputs[2]


# --- uploads: one request per chunk, checked against the CRC32C GCS stores ------------------

def test_a_60_mib_chunk_is_uploaded_in_one_request(gcs_rig):
    """gcsfs sends a body from 50 MiB as a resumable upload (three requests, each a round trip);
    objstore sends it in one, from the caller's buffer."""
    body = np.random.default_rng(3).bytes(60 * 2**20)
    fs = objstore.resolve(gcs_rig.url(""), gcs_rig.profile).fs
    gcs_rig.server.clear_request_log()
    fs.pipe_file(f"{gcs_rig.bucket}/big/0", body)
    assert [r["method"] for r in gcs_rig.server.requests()] == ["POST"]
    assert fs.cat_file(f"{gcs_rig.bucket}/big/0") == body


def test_an_upload_damaged_on_the_way_is_sent_again(gcs_rig):
    """The CRC32C GCS answers for what it stored is compared with the body's: a body flipped on
    the way is uploaded again, so the bucket holds what was written."""
    body = np.random.default_rng(5).bytes(2**20)
    damaged: list[str] = []

    def first_upload(method: str, target: str) -> bool:
        if method == "POST" and "/upload/" in target and not damaged:
            damaged.append(target)
            return True
        return False

    with FaultProxy("127.0.0.1", server_port(gcs_rig), faults=["bitflip"], rate=1.0, seed=5,
                    only=first_upload) as proxy:
        via = objstore.resolve(gcs_rig.url(""), profile_via(gcs_rig, proxy.url)).fs
        via.pipe_file(f"{gcs_rig.bucket}/flip/0", body)
        assert proxy.injected["bitflip"] == 1
    fs = objstore.resolve(gcs_rig.url(""), gcs_rig.profile).fs
    assert fs.cat_file(f"{gcs_rig.bucket}/flip/0") == body  # what the bucket holds


def test_an_upload_with_metadata_keeps_it_and_its_content_type(gcs_rig):
    """With metadata the one request is a multipart upload (metadata and body in one POST)."""
    fs = objstore.resolve(gcs_rig.url(""), gcs_rig.profile).fs
    fs.pipe_file(f"{gcs_rig.bucket}/meta/0", b"x" * 3_000_000, metadata={"origin": "test"},
                 content_type="text/plain")
    fs.pipe_file(f"{gcs_rig.bucket}/meta/1", b"{}", content_type="application/json")
    fs.invalidate_cache()
    first, second = fs.info(f"{gcs_rig.bucket}/meta/0"), fs.info(f"{gcs_rig.bucket}/meta/1")
    assert (first["metadata"], first["contentType"], first["size"]) == (
        {"origin": "test"}, "text/plain", 3_000_000)
    assert (second["contentType"], fs.cat_file(f"{gcs_rig.bucket}/meta/1")) == (
        "application/json", b"{}")
