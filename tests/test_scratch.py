"""Scratch-bucket helpers on every backend: per-user prefix, temporary cubes, ls ages, clean, guard."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import xarray as xr
from typer.testing import CliRunner

import objstore
from objstore import scratch
from objstore.cli import app
from objstore.errors import ConfigError


@pytest.fixture
def hub(rig, monkeypatch):
    """A hub session: ambient credentials and SCRATCH_BUCKET=<scheme>://<bucket>/alice."""
    for k, v in rig.env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("SCRATCH_BUCKET", rig.url("alice"))
    return rig


def test_write_cube_to_scratch_url_with_ambient_credentials(hub, small_cube):
    target = scratch.url("rasm.zarr")
    assert target == hub.url("alice/rasm.zarr")
    objstore.write_cube(small_cube, target)
    xr.testing.assert_identical(objstore.open_cube(target).load(), small_cube.load())
    assert objstore.resolve(target).profile.name == "scratch"


def test_temporary_is_cleaned_after_success_and_after_an_exception(hub, small_cube):
    with scratch.temporary("t.zarr") as tmp:
        assert tmp.startswith(hub.url("alice/objstore-tmp-"))
        objstore.write_cube(small_cube, tmp)
        assert objstore.open_cube(tmp).sizes["time"] == 8
    with pytest.raises(RuntimeError, match="boom"):
        with scratch.temporary() as tmp2:
            objstore.write_cube(small_cube, f"{tmp2}/c.zarr")
            raise RuntimeError("boom")
    assert tmp.rsplit("/", 1)[0] != tmp2
    assert scratch.ls() == []


def test_ls_ages_and_clean_older_than(hub, small_cube):
    objstore.write_cube(small_cube, scratch.url("old.zarr"))
    objstore.write_cube(small_cube.isel(time=[0]), scratch.url("new.zarr"))
    later = datetime.now(UTC) + timedelta(days=4)
    entries = {e.url.rsplit("/", 1)[-1]: e for e in scratch.ls(now=later)}
    assert set(entries) == {"old.zarr", "new.zarr"}
    old = entries["old.zarr"]
    assert old.objects > 5 and old.size > 0
    assert 3.9 < old.age.total_seconds() / 86400 < 4.1 and 2.9 < old.days_left < 3.1
    assert [e.url for e in scratch.clean(timedelta(days=5), now=later)] == []
    gone = scratch.clean(timedelta(days=3), now=later, dry_run=True)
    assert len(gone) == 2 and len(scratch.ls()) == 2  # dry run deletes nothing
    scratch.clean(timedelta(days=3), now=later)
    assert scratch.ls() == []


def test_cli_scratch_url_ls_and_clean(hub, small_cube):
    runner = CliRunner()
    out = runner.invoke(app, ["scratch", "url", "x.zarr"], env={"COLUMNS": "200"})
    assert out.stdout.strip() == hub.url("alice/x.zarr")
    objstore.write_cube(small_cube, scratch.url("x.zarr"))
    listing = json.loads(runner.invoke(app, ["scratch", "ls", "--json"]).stdout)
    assert [e["url"] for e in listing] == [hub.url("alice/x.zarr")]
    assert listing[0]["days_left"] > 6.9
    dry = runner.invoke(app, ["scratch", "clean", "--dry-run"])
    assert "would delete" in dry.stdout and len(scratch.ls()) == 1
    runner.invoke(app, ["scratch", "clean", "--older-than", "0d", "--yes"])
    assert scratch.ls() == []


def test_refuses_writes_outside_your_prefix(hub, small_cube):
    with pytest.raises(scratch.ScratchPrefixError, match="outside your prefix.*SCRATCH_BUCKET"):
        objstore.write_cube(small_cube, hub.url("bob/rasm.zarr"))
    with pytest.raises(scratch.ScratchPrefixError):
        objstore.write_cube(small_cube, hub.url("alice2/rasm.zarr"))  # a neighbour, not a subfolder
    objstore.write_cube(small_cube, hub.url("bob/rasm.zarr"), force=True)


def test_scratch_profile_is_listed_with_its_source(hub):
    rows = json.loads(CliRunner().invoke(app, ["profiles", "--json"]).stdout)
    row = next(r for r in rows if r["name"] == "scratch")
    assert row["source"].startswith("env: SCRATCH_BUCKET") and row["match"] == [hub.url("alice/*")]


@pytest.mark.parametrize("value, message", [
    (None, "SCRATCH_BUCKET is not set"),
    ("hub-scratch/alice", "not a URL"),
    ("ftp://hub/alice", "unknown scheme"),
    ("s3://", "missing the bucket"),
    ("https://example.org/x", "must name a bucket"),
])
def test_bad_scratch_bucket_values_name_the_variable(monkeypatch, value, message):
    if value is not None:
        monkeypatch.setenv("SCRATCH_BUCKET", value)
    with pytest.raises(ConfigError, match=message) as info:
        scratch.url("x.zarr")
    assert "SCRATCH_BUCKET" in str(info.value)


def test_scratch_bucket_that_does_not_exist(s3_rig, monkeypatch):
    for k, v in s3_rig.env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("SCRATCH_BUCKET", "s3://no-such-bucket-here/alice")
    with pytest.raises(objstore.ObjstoreError, match="SCRATCH_BUCKET=s3://no-such-bucket-here/alice"):
        scratch.ls()


def test_expiry_is_configurable(monkeypatch):
    monkeypatch.setenv("OBJSTORE_SCRATCH_EXPIRY_DAYS", "3")
    assert scratch.expiry_days() == 3
    monkeypatch.setenv("OBJSTORE_SCRATCH_EXPIRY_DAYS", "soon")
    with pytest.raises(ConfigError, match="OBJSTORE_SCRATCH_EXPIRY_DAYS"):
        scratch.expiry_days()


def test_swift_scratch_objects_expire_on_their_own(swift_server, monkeypatch, small_cube):
    """On Swift every object under the prefix carries X-Delete-After (the expiry period)."""
    from rigs import make_rig
    from servers._util import http_request

    rig = make_rig("swift", swift_server, "scratchexp")
    for k, v in rig.env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("SCRATCH_BUCKET", rig.url("alice"))
    monkeypatch.setenv("OBJSTORE_SCRATCH_EXPIRY_DAYS", "2")
    objstore.write_cube(small_cube, scratch.url("e.zarr"))
    storage_url, token = swift_server.get_token()
    head = http_request("HEAD", f"{storage_url}/scratchexp/alice/e.zarr/.zmetadata",
                        headers={"X-Auth-Token": token})
    delete_at = int(head.header("x-delete-at"))
    assert abs(delete_at - (datetime.now(UTC) + timedelta(days=2)).timestamp()) < 120
    objstore.write_cube(small_cube, rig.url("elsewhere.zarr"), force=True)  # not scratch: no expiry
    head = http_request("HEAD", f"{storage_url}/scratchexp/elsewhere.zarr/.zmetadata",
                        headers={"X-Auth-Token": token})
    assert head.header("x-delete-at") is None
