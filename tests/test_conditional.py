"""Conditional creates as each real server here does them (objstore/conditional.py): the probe
tells atomic servers from those that ignore the condition or check it without a lock, the claim
of ``write_cube(mode="w-")`` lets exactly one of two racing writers through where the server is
atomic, and says so once where it is not."""

from __future__ import annotations

import warnings

import pytest
import xarray as xr
from racing import race_two_writes

import objstore
from objstore import conditional
from objstore.errors import CubeExistsError, NotAtomicWarning

#: what the servers of the test suite do (moto, Azurite: atomic; the Swift all-in-one checks
#: If-None-Match before the upload, without a lock; the GCS emulator ignores ifGenerationMatch)
EXPECTED = {"s3": "atomic", "azure": "atomic", "swift": "checked", "gcs": "ignored"}


def test_the_probe_finds_out_what_the_server_does_and_leaves_nothing(rig):
    r = objstore.resolve(rig.url("probed"), rig.profile)
    verdict = conditional.probe(r.fs, r.path)
    assert verdict.kind == EXPECTED[rig.backend], verdict
    assert verdict.atomic == (rig.backend in ("s3", "azure"))
    r.fs.invalidate_cache()
    assert not r.fs.exists(r.path) or r.fs.find(r.path) == []


def test_local_disk_is_atomic_without_a_probe(tmp_path):
    r = objstore.resolve(str(tmp_path / "x.zarr"))
    assert conditional.probe(r.fs, r.path).atomic


def test_two_writers_racing_one_succeeds_where_the_server_is_atomic(rig, small_cube,
                                                                    monkeypatch):
    url = rig.url("race.zarr")
    monkeypatch.setattr(conditional, "_verdicts", {})
    monkeypatch.setattr(conditional, "_warned", set())
    with warnings.catch_warnings(record=True) as seen:  # warnings of both threads
        warnings.simplefilter("always")
        outcomes = race_two_writes(monkeypatch, small_cube, url, rig.profile)
    said = [str(w.message) for w in seen if issubclass(w.category, NotAtomicWarning)]
    winners = [o for o in outcomes if isinstance(o, float)]
    if EXPECTED[rig.backend] == "atomic":
        losers = [o for o in outcomes if isinstance(o, CubeExistsError)]
        assert len(winners) == 1 and len(losers) == 1, outcomes
        assert "still running" in str(losers[0])
        xr.testing.assert_identical(objstore.open_cube(url, profile=rig.profile).load(),
                                    (small_cube + winners[0]).load())
        assert said == []
    else:  # both may go ahead: objstore says so, once, naming the place and the fix
        assert len(outcomes) == 2, outcomes
        assert len(said) == 1, said
        assert "race.zarr" in said[0] and "one writer at a time" in said[0]


@pytest.mark.parametrize("backend", ["gcs"])
def test_the_warning_comes_once_per_store(request, backend, small_cube, monkeypatch):
    rig = request.getfixturevalue(f"{backend}_rig")
    monkeypatch.setattr(conditional, "_verdicts", {})
    monkeypatch.setattr(conditional, "_warned", set())
    with pytest.warns(NotAtomicWarning, match="Conditional creates are not atomic"):
        objstore.write_cube(small_cube, rig.url("one.zarr"), profile=rig.profile)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        objstore.write_cube(small_cube, rig.url("two.zarr"), profile=rig.profile)
