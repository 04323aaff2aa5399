"""``objstore scratch``: your prefix under $SCRATCH_BUCKET: url, ls, clean."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from .. import scratch
from ..transfer import human_bytes
from .console import command, console, print_json

app = typer.Typer(help="Your scratch space under $SCRATCH_BUCKET.", no_args_is_help=True)


@app.command("url")
@command
def url(name: str) -> None:
    """Print the URL for NAME under your scratch prefix."""
    console.print(scratch.url(name), markup=False)


@app.command("ls")
@command
def ls(json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """What is in your scratch prefix: sizes, ages, days left before the hub deletes it."""
    entries = scratch.ls()
    if json:
        print_json([{"url": e.url, "objects": e.objects, "bytes": e.size,
                     "modified": e.modified.isoformat(), "age_days": round(e.age.total_seconds() / 86400, 2),
                     "days_left": round(e.days_left, 2)} for e in entries])
        return
    table = Table("url", "objects", "size", "age", "days left", title=f"scratch: {scratch.prefix()}")
    for e in entries:
        table.add_row(e.url, str(e.objects), human_bytes(e.size), f"{e.age.total_seconds() / 86400:.1f} d",
                      f"{e.days_left:.1f}")
    console.print(table)


@app.command("clean")
@command
def clean(
    older_than: Annotated[str, typer.Option("--older-than", help="e.g. 3d, 12h (default: all)")] = "0d",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only show what would go")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask")] = False,
) -> None:
    """Delete items in your scratch prefix older than --older-than."""
    age = scratch.parse_age(older_than)
    doomed = scratch.clean(age, dry_run=True)
    if not doomed:
        console.print("nothing to clean")
        return
    for e in doomed:
        console.print(f"{'would delete' if dry_run else 'delete'} {e.url} ({e.objects} objects, "
                      f"{human_bytes(e.size)}, {e.age.total_seconds() / 86400:.1f} days old)", markup=False)
    if dry_run:
        return
    if not yes and not typer.confirm(f"Delete {len(doomed)} items?", default=False):
        raise typer.Exit(1)
    scratch.clean(age)
    console.print(f"deleted {len(doomed)} items")
