"""One console helper: rich output on a terminal, plain JSON with --json, errors without tracebacks."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import ObjstoreError, scrub

__all__ = ["console", "err_console", "print_json", "cli_errors", "command", "ProfileOpt"]

ProfileOpt = Annotated[str | None, typer.Option("--profile", "-p", help="Profile name")]

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn objstore errors into one red line and exit code 1 (messages hold no secrets)."""
    try:
        yield
    except ObjstoreError as exc:
        err_console.print(f"[red]error:[/red] {escape(scrub(str(exc)))}", markup=True)
        raise typer.Exit(1) from None


def command(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: run a command body inside :func:`cli_errors`."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with cli_errors():
            return fn(*args, **kwargs)

    return wrapper
