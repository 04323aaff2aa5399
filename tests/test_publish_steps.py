"""publish's steps on their own, on every backend (through a request-counting proxy): the plan of
an interrupted publish sends only what is missing, and resuming lists the destination once for the
plan (once more to verify what it sent, not at all when nothing was sent)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pytest
from latency_proxy import LatencyProxy
from rigs import profile_via, server_port
from test_publish import local_zarr

import objstore
from objstore import publish_stage
from objstore.errors import CubeExistsError
from objstore.publish import MARKER, plan


@pytest.fixture
def via(rig):  # type: ignore[no-untyped-def]
    """(rig, the proxy, the rig's profile through the proxy)."""
    with LatencyProxy("127.0.0.1", server_port(rig), delay_s=0.0, record=True) as px:
        yield rig, px, profile_via(rig, px.url)


def listings(px: LatencyProxy, key: str) -> list[str]:
    """The listings of everything under ``key`` the proxy saw (GCS also lists to look one object
    up: those name the object, not ``key``)."""
    out = []
    for method, target in px.requests:
        _, _, query = unquote(target).partition("?")
        if method == "GET" and f"prefix={key}/" in query.split("&"):
            out.append(target)
    return out


KEY = "steps/cube.zarr"


def writes(px: LatencyProxy) -> list[str]:
    return [unquote(t) for m, t in px.requests if m in ("PUT", "POST")
            and not t.endswith("?delete") and "comp=batch" not in t]


def interrupted(rig, tmp_path: Path, small_cube, lost: int = 3):  # type: ignore[no-untyped-def]
    """A cube published, then made to look stopped half-way: its root documents, consolidated
    metadata and ``lost`` chunks gone, the publish marker in place. Returns (src, url, names of
    the chunks that were lost)."""
    src = local_zarr(small_cube, tmp_path / "src.zarr")
    url = rig.url(KEY)
    objstore.publish(src, url, rig.profile)
    r = objstore.resolve(url, rig.profile)
    gone = [f"tas/{i}.0.0" for i in range(lost)]
    for rel in [".zmetadata", ".zgroup", ".zattrs", *gone]:
        r.fs.rm_file(f"{r.path}/{rel}")
    r.fs.pipe_file(f"{r.path}/{MARKER}", b"{}")
    r.fs.invalidate_cache()
    return src, url, gone


def test_the_plan_of_a_resumed_publish_sends_only_what_is_missing(via, tmp_path, small_cube):
    rig, px, prof = via
    src, url, gone = interrupted(rig, tmp_path, small_cube)
    staged = publish_stage.stage(src, lambda _: None)
    r = objstore.resolve(url, prof)
    px.reset_counts()
    p = plan(staged, r)
    assert len(listings(px, KEY)) == 1 and not writes(px)  # one listing decides it all
    assert p.interrupted and not p.identical and not p.replacing
    assert sorted(i.rel for i in p.body.copy) == gone
    assert [g for g in p.final] == [[".zgroup", ".zattrs"], [".zmetadata"]]
    assert len(p.body.skip) == len(staged.items) - len(gone) - 3


def test_resuming_lists_the_destination_once_to_plan_and_once_to_verify(via, tmp_path,
                                                                          small_cube):
    rig, px, prof = via
    src, url, gone = interrupted(rig, tmp_path, small_cube)
    px.reset_counts()
    result = objstore.publish(src, url, prof)
    assert result.uploaded == len(gone) + 3 and any("resuming:" in n for n in result.notes)
    assert len(listings(px, KEY)) == 2, listings(px, KEY)
    assert len(writes(px)) == 1 + len(gone) + 3, writes(px)  # the marker, what was lost

    px.reset_counts()  # once more: nothing to send, one listing and nothing else
    again = objstore.publish(src, url, prof)
    assert again.uploaded == 0 and again.skipped == again.objects
    assert len(listings(px, KEY)) == 1 and not writes(px)
    # besides: the bucket's existence check (and adlfs's look at the folder before listing it)
    assert len(px.requests) <= 3, px.requests


def test_a_resumed_netcdf_publish_reuses_the_listing_taken_before_converting(via, tmp_path):
    from test_publish import cf_netcdf

    rig, px, prof = via
    nc = cf_netcdf(tmp_path / "src.nc")
    url = rig.url(KEY)
    objstore.publish(nc, url, rig.profile, chunks="time=2")
    r = objstore.resolve(url, rig.profile)
    r.fs.rm_file(f"{r.path}/.zmetadata")
    r.fs.rm_file(f"{r.path}/tas/0.0.0")
    r.fs.pipe_file(f"{r.path}/{MARKER}", b"{}")
    px.reset_counts()
    result = objstore.publish(nc, url, prof, chunks="time=2")
    assert result.uploaded == 1 + 1  # the lost chunk, the consolidated metadata
    assert len(listings(px, KEY)) == 2  # before converting (also the plan's), then to verify


def test_a_plan_refuses_before_anything_is_sent(via, tmp_path, small_cube):
    rig, px, prof = via
    url = rig.url(KEY)
    objstore.publish(small_cube, url, rig.profile)
    src = local_zarr(small_cube * 2, tmp_path / "other.zarr")
    staged = publish_stage.stage(src, lambda _: None)
    px.reset_counts()
    with pytest.raises(CubeExistsError, match="already holds"):
        plan(staged, objstore.resolve(url, prof))
    p = plan(staged, objstore.resolve(url, prof), overwrite=True)
    assert not writes(px)
    assert p.replacing and p.unpublish == [".zmetadata"]
    assert {".zgroup", ".zattrs"} <= set(p.remove)  # root documents go before the new chunks

