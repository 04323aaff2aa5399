"""The top-level ``objstore`` Typer app: registers each command group."""

from __future__ import annotations

import typer

from . import catalog, demo, doctor, files, profiles, public, scratch, sign, swift
from . import plot as plot_cmd
from . import publish as publish_cmd
from . import serve as serve_cmd
from . import transfer as transfer_cmd

app = typer.Typer(
    help="Open and write data cubes on any object store with named profiles.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _options(verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Show retries and throttling as they happen")) -> None:
    from ..retry import show_retries

    show_retries(verbose)  # per command: an earlier -v in the same process does not linger


app.add_typer(profiles.app, name="profiles")
app.add_typer(scratch.app, name="scratch")
app.add_typer(swift.app, name="swift")
app.add_typer(catalog.app, name="catalog")
app.command("ls")(files.ls)
app.command("open")(files.open_)
app.command("demo")(demo.demo)
app.command("public")(public.public)
app.command("publish")(publish_cmd.publish)
app.command("cp")(transfer_cmd.cp)
app.command("rm")(transfer_cmd.rm)
app.command("doctor")(doctor.doctor)
app.command("sign")(sign.sign)
app.command("plot")(plot_cmd.plot)
app.command("serve")(serve_cmd.serve)


def main() -> None:
    import sys

    from .console import run

    sys.exit(run(app))
