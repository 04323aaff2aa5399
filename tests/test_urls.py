from __future__ import annotations

import pytest

from objstore.errors import InvalidURLError
from objstore.urls import parse


@pytest.mark.parametrize(
    "url, backend, bucket, key",
    [
        ("s3://bucket/a/b.zarr", "s3", "bucket", "a/b.zarr"),
        ("s3a://bucket/x", "s3", "bucket", "x"),
        ("gs://bucket/x.zarr/", "gcs", "bucket", "x.zarr"),
        ("az://container/x", "azure", "container", "x"),
        ("abfs://container/x", "azure", "container", "x"),
        ("abfs://container@acct.dfs.core.windows.net/x", "azure", "container", "x"),
        ("https://acct.blob.core.windows.net/container/x", "azure", "container", "x"),
        ("swift://cubes/fire.zarr", "swift", "cubes", "fire.zarr"),
        ("https://swift.example:8080/v1/AUTH_x/cubes/fire.zarr", "swift", "cubes", "fire.zarr"),
        ("http://127.0.0.1:8080/v1/AUTH_test/c/k", "swift", "c", "k"),
        ("https://storage.googleapis.com/bucket/x", "gcs", "bucket", "x"),
        ("https://bucket.s3.us-west-2.amazonaws.com/x", "s3", "bucket", "x"),
        ("https://data.example.org/cube.zarr", "http", "", "https://data.example.org/cube.zarr"),
    ],
)
def test_parse(url, backend, bucket, key):
    u = parse(url)
    assert (u.backend, u.bucket, u.key) == (backend, bucket, key)


def test_swift_https_keeps_host_and_account():
    u = parse("https://swift.example:8080/v1/AUTH_x/cubes/fire.zarr")
    assert u.swift_storage_url == "https://swift.example:8080/v1/AUTH_x"
    assert u.path == "cubes/fire.zarr"


def test_local_paths_and_memory(tmp_path):
    assert parse(str(tmp_path / "c.zarr")).key == str(tmp_path / "c.zarr")
    assert parse(f"file://{tmp_path}/c.zarr").backend == "file"
    assert parse("memory://x/c.zarr").key == "/x/c.zarr"


@pytest.mark.parametrize(
    "url, message",
    [("", "empty URL"), ("ftp://x/y", "unknown scheme 'ftp'"), ("s3:///key", "missing the bucket"),
     ("https:///path", "missing the host")],
)
def test_bad_urls_say_what_is_wrong(url, message):
    with pytest.raises(InvalidURLError, match=message):
        parse(url)
