"""``objstore plot``: a picture of one variable of a cube, drawn locally (no server)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .console import ProfileOpt, command, console


@command
def plot(
    url: Annotated[str, typer.Argument(help="The cube, e.g. s3://bucket/air.zarr")],
    var: Annotated[str, typer.Argument(help="The variable to plot")],
    sel: Annotated[list[str] | None, typer.Option(
        "--sel", "-s", help="Selection: time=2020-01-15, lat=30:60, time=[0] (repeatable)")] = None,
    kind: Annotated[str, typer.Option(help="map, pcolormesh, contourf, line or hist")] = "map",
    cmap: Annotated[str, typer.Option(help="A matplotlib colormap")] = "viridis",
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="PNG or SVG file to write (default: VAR.png)")] = None,
    width: Annotated[int, typer.Option(help="Pixels")] = 800,
    height: Annotated[int, typer.Option(help="Pixels")] = 500,
    dpi: Annotated[int, typer.Option(help="Dots per inch")] = 100,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing output file")] = False,
    profile: ProfileOpt = None,
) -> None:
    """Plot VAR of the cube at URL into a PNG (or SVG) file."""
    from ..cube import open_cube
    from ..errors import ViewError
    from ..views.plot import render

    out = output or Path(f"{var}.png")
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg"):
        raise ViewError(f"cannot write {out}: the file name must end in .png or .svg")
    if out.exists() and not force:
        raise ViewError(f"{out} already exists: choose another --output or pass --force")
    ds = open_cube(url, profile)
    name = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]  # a signed URL's query stays out
    image = render(ds, var, kind, cmap, sel, fmt=fmt,  # type: ignore[arg-type]
                   width=width, height=height, dpi=dpi, title=str(ds.attrs.get("title") or name))
    out.write_bytes(image)
    console.print(f"wrote {out} ({len(image)} bytes)")
