"""The Backend objects (objstore/backends/): found by name, URL or protocol, light to import, and
the one place a missing library is reported with the extra that brings it."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

import objstore
from objstore import backends
from objstore.errors import BackendNotInstalledError
from objstore.urls import parse

URLS = {
    "s3://b/k": "s3", "s3a://b/k": "s3", "gs://b/k": "gcs", "az://c/k": "azure",
    "abfs://c@acct.dfs.core.windows.net/k": "azure", "swift://c/k": "swift",
    "https://host.example/v1/AUTH_x/c/k": "swift",
    "https://acct.blob.core.windows.net/c/k": "azure",
    "https://storage.googleapis.com/b/k": "gcs", "https://b.s3.amazonaws.com/k": "s3",
    "https://example.org/data.nc": "http", "/tmp/x.zarr": "file", "memory://x": "memory",
}


@pytest.mark.parametrize(("url", "name"), URLS.items())
def test_every_url_finds_its_backend(url, name):
    backend = backends.for_url(parse(url))
    assert backend.name == name
    if not url.startswith(("/", "https://")):  # https hosts are sniffed, not schemes
        assert parse(url).scheme in backend.schemes


def test_every_protocol_finds_the_backend_that_serves_it():
    for name in backends.names():
        for protocol in backends.get(name).protocols:
            assert backends.for_protocol(protocol) is backends.get(name)


def test_backends_import_no_storage_library():
    code = ("import sys, json\nfrom objstore import backends\n"
            "[backends.get(n) for n in backends.names()]\n"
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'s3fs', 'gcsfs', 'adlfs', 'aiohttp', 'botocore', 'azure'})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []


def test_a_missing_library_names_the_extra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "adlfs" else real(name, *a))
    with pytest.raises(BackendNotInstalledError, match=r"pip install 'objstore\[azure\]'"):
        objstore.resolve("https://acct.blob.core.windows.net/c/k")


def test_what_each_backend_says_about_buckets_and_writes():
    word = {n: backends.get(n).bucket_word for n in ("s3", "gcs", "azure", "swift")}
    assert word == {"s3": "bucket", "gcs": "bucket", "azure": "container", "swift": "container"}
    assert [n for n in backends.names() if backends.get(n).creates_bucket_on_write] == ["swift"]
    assert [n for n in backends.names() if not backends.get(n).allows_writes] == ["http"]
    assert [n for n in backends.names() if backends.get(n).is_local] == ["file", "memory"]
    public = [n for n in backends.names() if backends.get(n).can_be_public]
    assert public == ["s3", "gcs", "azure", "swift"]


def test_a_resolved_url_carries_its_backend():
    assert objstore.resolve("memory://cube.zarr").backend is backends.get("memory")


def test_each_backend_reads_the_md5_its_listing_reports():
    import base64
    import hashlib

    digest = hashlib.md5(b"cube").digest()
    s3, gcs, az, swift = (backends.get(n) for n in ("s3", "gcs", "azure", "swift"))
    assert s3.md5({"ETag": f'"{digest.hex()}"'}) == digest.hex()
    assert s3.md5({"ETag": f'"{digest.hex()}-3"'}) is None  # multipart: not an MD5
    assert gcs.md5({"md5Hash": base64.b64encode(digest).decode()}) == digest.hex()
    assert gcs.md5({"etag": digest.hex()}) is None  # GCS etags are generations
    assert az.md5({"content_settings": {"content_md5": bytearray(digest)}}) == digest.hex()
    assert az.md5({"etag": "0x8DC"}) is None
    assert swift.md5({"hash": digest.hex()}) == digest.hex()
    assert swift.md5({"hash": digest.hex(), "slo": True}) is None  # a large-object manifest
