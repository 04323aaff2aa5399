"""Two ``write_cube`` calls to one URL at the same moment: both threads reach the claim before
either makes it (a barrier in front of ``objstore.cube.claim``)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import xarray as xr

import objstore
from objstore import cube


def race_two_writes(monkeypatch: pytest.MonkeyPatch, ds: xr.Dataset, url: str,
                    profile: Any) -> list[object]:
    """Write ``ds + 1`` and ``ds + 2`` to ``url`` from two threads at once; each outcome is the
    value added (it succeeded) or the exception it raised."""
    both_here = threading.Barrier(2)
    claim = cube.claim

    def at_once(*args):  # type: ignore[no-untyped-def]
        both_here.wait(timeout=60)
        return claim(*args)

    monkeypatch.setattr(cube, "claim", at_once)
    outcomes: list[object] = []

    def write(value: float) -> None:
        try:
            objstore.write_cube(ds + value, url, profile=profile)
            outcomes.append(value)
        except Exception as exc:  # noqa: BLE001 - the caller judges every outcome
            outcomes.append(exc)

    threads = [threading.Thread(target=write, args=(v,)) for v in (1.0, 2.0)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return outcomes
