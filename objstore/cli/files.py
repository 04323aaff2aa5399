"""``objstore ls`` and ``objstore open``."""

from __future__ import annotations

from typing import Annotated

import typer

from ..api import resolve
from ..boundary import mapped_errors
from .console import ProfileOpt, command, console, print_json


@command
def ls(
    url: str,
    profile: ProfileOpt = None,
    long: Annotated[bool, typer.Option("--long", "-l", help="Sizes and dates")] = False,
    json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List objects under URL."""
    r = resolve(url, profile)
    with mapped_errors(r):
        entries = r.fs.ls(r.path, detail=True)
    rows = [
        {"name": e["name"], "type": e.get("type", "file"), "size": e.get("size") or 0,
         "modified": str(e.get("LastModified") or e.get("last_modified") or e.get("mtime") or "")}
        for e in entries
    ]
    if json:
        print_json(rows)
        return
    for row in rows:
        name = row["name"] + ("/" if row["type"] == "directory" else "")
        if long:
            console.print(f"{row['size']:>12}  {row['modified'][:19]:19}  {name}")
        else:
            console.print(name)


@command
def open_(url: str, profile: ProfileOpt = None) -> None:
    """Open the cube at URL and print its summary."""
    from ..cube import open_cube

    console.print(str(open_cube(url, profile)))
