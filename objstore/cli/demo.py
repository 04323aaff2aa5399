"""``objstore demo``: write and read a cube on a store that needs no account."""

from __future__ import annotations

from typing import Annotated

import typer

from .console import command, console

#: Root attribute that marks a cube as the demo's own: the only thing the demo may replace.
DEMO_MARK = "objstore_demo"


@command
def demo(
    url: Annotated[str, typer.Argument(help="Where to write the demo cube (an empty place)")] =
    "memory://objstore-demo/air.zarr",
) -> None:
    """Write a small multi-variable cube, read it back, and check the round trip.

    The target must be empty (or hold an earlier demo cube): the demo never replaces your data.
    """
    import xarray as xr

    from ..cube import open_cube, write_cube

    ds = _demo_cube()
    write_cube(ds, url, mode="w" if _earlier_demo(url) else "w-")
    console.print(f"wrote {url}")
    back = open_cube(url)
    console.print(back)
    xr.testing.assert_identical(back.load(), ds.load())
    console.print("[green]round trip OK[/green]: the cube read back is identical")


def _earlier_demo(url: str) -> bool:
    """True if ``url`` holds a cube this demo wrote; raises CubeExistsError if it holds anything
    else (write_cube's mode="w-" would refuse too, but this message says what to do instead)."""
    import warnings

    from ..api import resolve
    from ..boundary import mapped_errors
    from ..cube import cube_contents, describe_existing, open_cube
    from ..errors import CubeExistsError, ObjstoreError

    r = resolve(url)
    with mapped_errors(r):
        existing = cube_contents(r)
    if not existing:
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if open_cube(url, consolidated=True).attrs.get(DEMO_MARK):
                return True
    except (ObjstoreError, OSError, ValueError, KeyError):
        pass
    raise CubeExistsError(
        f"{url} already holds {describe_existing(existing)}; the demo writes only to an empty "
        "place and never replaces data. Fix: give it a new path (or run it without one, in memory)",
        url=url,
    )


def _demo_cube():  # type: ignore[no-untyped-def]
    import numpy as np
    import pandas as pd
    import xarray as xr

    time = pd.date_range("2026-01-01", periods=48, freq="h")
    lat, lon = np.linspace(-60, 60, 25), np.linspace(-180, 175, 72)
    rng = np.random.default_rng(0)
    return xr.Dataset(
        {
            "air": (("time", "lat", "lon"), 280 + 10 * rng.standard_normal((48, 25, 72)),
                    {"units": "K", "standard_name": "air_temperature"}),
            "precip": (("time", "lat", "lon"), rng.gamma(1.0, 1.0, (48, 25, 72)),
                       {"units": "mm/h"}),
        },
        coords={"time": time, "lat": ("lat", lat, {"units": "degrees_north"}),
                "lon": ("lon", lon, {"units": "degrees_east"})},
        attrs={"title": "objstore demo cube", DEMO_MARK: "written by `objstore demo`"},
    ).chunk({"time": 12})
