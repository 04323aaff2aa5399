"""``objstore demo``: write and read a cube on a store that needs no account."""

from __future__ import annotations

from typing import Annotated

import typer

from .console import command, console


@command
def demo(
    url: Annotated[str, typer.Argument(help="Where to write the demo cube")] = "memory://objstore-demo/air.zarr",
) -> None:
    """Write a small multi-variable cube, read it back, and check the round trip."""
    import numpy as np
    import pandas as pd
    import xarray as xr

    from ..cube import open_cube, write_cube

    time = pd.date_range("2026-01-01", periods=48, freq="h")
    lat, lon = np.linspace(-60, 60, 25), np.linspace(-180, 175, 72)
    rng = np.random.default_rng(0)
    ds = xr.Dataset(
        {
            "air": (("time", "lat", "lon"), 280 + 10 * rng.standard_normal((48, 25, 72)),
                    {"units": "K", "standard_name": "air_temperature"}),
            "precip": (("time", "lat", "lon"), rng.gamma(1.0, 1.0, (48, 25, 72)),
                       {"units": "mm/h"}),
        },
        coords={"time": time, "lat": ("lat", lat, {"units": "degrees_north"}),
                "lon": ("lon", lon, {"units": "degrees_east"})},
        attrs={"title": "objstore demo cube"},
    ).chunk({"time": 12})
    write_cube(ds, url, mode="w")
    console.print(f"wrote {url}")
    back = open_cube(url)
    console.print(back)
    xr.testing.assert_identical(back.load(), ds.load())
    console.print("[green]round trip OK[/green]: the cube read back is identical")
