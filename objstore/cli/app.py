"""The top-level ``objstore`` Typer app: registers each command group."""

from __future__ import annotations

import typer

from . import demo, files, profiles, scratch

app = typer.Typer(
    help="Open and write data cubes on any object store with named profiles.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(profiles.app, name="profiles")
app.add_typer(scratch.app, name="scratch")
app.command("ls")(files.ls)
app.command("open")(files.open_)
app.command("demo")(demo.demo)


def main() -> None:
    app()
