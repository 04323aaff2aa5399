"""Notebooks run cells inside an event loop: the cube workflow works there on every backend."""

from __future__ import annotations

import asyncio

import xarray as xr

import objstore


def test_cube_round_trip_inside_a_running_event_loop(rig, small_cube):
    async def notebook_cell():
        url = rig.url("nb/cube.zarr")
        objstore.write_cube(small_cube, url, profile=rig.profile)
        return objstore.open_cube(url, profile=rig.profile).load()

    xr.testing.assert_identical(asyncio.run(notebook_cell()), small_cube.compute())
