"""The remembered zarr format of cubes: in the user cache, without URLs or secrets in clear."""

from __future__ import annotations

from objstore import format_memo
from objstore.urls import parse

URL = "https://acct.blob.core.windows.net/cubes/era5.zarr?sv=2024&sig=SECRETSIG"


def test_remembered_across_processes_without_the_url_in_clear():
    format_memo.remember(parse(URL), "azure-prod", 3)
    format_memo.clear()  # as a new process would start
    assert format_memo.known(parse(URL), "azure-prod") == 3
    assert format_memo.known(parse(URL), "other-profile") is None
    text = format_memo._path().read_text()
    assert "SECRETSIG" not in text and "era5" not in text and "cubes" not in text


def test_a_sibling_cube_gets_its_buckets_format():
    format_memo.remember(parse("s3://bucket/a.zarr"), "p", 3)
    assert format_memo.known(parse("s3://bucket/b.zarr"), "p") == 3
    assert format_memo.known(parse("s3://other/b.zarr"), "p") is None


def test_a_broken_cache_file_costs_only_the_probe():
    path = format_memo._path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    format_memo.clear()
    assert format_memo.known(parse("s3://bucket/a.zarr"), "p") is None
    format_memo.remember(parse("s3://bucket/a.zarr"), "p", 2)
    format_memo.clear()
    assert format_memo.known(parse("s3://bucket/a.zarr"), "p") == 2
