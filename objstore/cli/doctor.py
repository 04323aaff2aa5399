"""``objstore doctor [PROFILE | URL]``: a table of checks, each failure with its fix."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from .console import ProfileOpt, command, console, print_json

_MARK = {"ok": "[green]ok[/green]", "fail": "[red]FAIL[/red]", "warn": "[yellow]warn[/yellow]",
         "info": "[blue]info[/blue]", "skip": "[dim]skip[/dim]"}


@command
def doctor(
    target: Annotated[str, typer.Argument(help="A URL (bucket, prefix or cube) or a profile name")],
    profile: ProfileOpt = None,
    no_write: Annotated[bool, typer.Option("--no-write", help="Skip the write/read/delete probe")] = False,
    json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    origin: Annotated[str, typer.Option("--origin", help="The web page origin the CORS check "
                                        "asks for")] = "https://example.org",
) -> None:
    """Diagnose a profile or URL: endpoint, clock, access, a write probe, public read, the cube."""
    from ..doctor import diagnose

    report = diagnose(target, profile, write=not no_write, origin=origin)
    if json:
        print_json(report.to_json())
    else:
        table = Table(title=f"objstore doctor: {escape(report.target)} (profile {escape(report.profile)})")
        for col in ("check", "result", "detail", "fix"):
            table.add_column(col, overflow="fold")
        for c in report.checks:
            table.add_row(c.name, _MARK[c.status], escape(c.detail), escape(c.fix))
        console.print(table)
    if not report.ok:
        raise typer.Exit(1)
