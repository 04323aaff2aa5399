"""``objstore swift``: Swift-specific helpers (a token for the shell)."""

from __future__ import annotations

import shlex
from typing import Annotated

import typer

from .console import command

app = typer.Typer(help="OpenStack Swift helpers.", no_args_is_help=True)


@app.command("token")
@command
def token(
    profile: Annotated[str | None, typer.Option("--profile", "-p", help="Swift profile")] = None,
) -> None:
    """Print `export OS_STORAGE_URL=... OS_AUTH_TOKEN=...` (from the token cache or a new token).

    Use as: eval "$(objstore swift token --profile dkrz)". This is the one command that prints a
    secret, because printing it is what it is for.
    """
    from ..api import resolve
    from ..swift import get_token

    r = resolve("swift://_", profile)
    storage_url, tok, _expires = get_token(**r.storage_options)
    typer.echo(f"export OS_STORAGE_URL={shlex.quote(storage_url)} OS_AUTH_TOKEN={shlex.quote(tok)}")
