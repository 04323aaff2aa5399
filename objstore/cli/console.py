"""One console helper: rich output on a terminal, plain JSON with --json, errors without tracebacks.

Every command body runs inside :func:`cli_errors`: an objstore error is one line and exit 1, Ctrl-C
is one line and exit 130, and anything else is one line that asks for a bug report (the traceback
only with ``OBJSTORE_DEBUG=1``). Usage errors stay click's, exit 2.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import click
import typer
from rich.console import Console
from rich.markup import escape

from ..errors import ObjstoreError, scrub

__all__ = ["console", "err_console", "print_json", "fail", "cli_errors", "command", "ProfileOpt",
           "EXIT_INTERRUPTED"]

ProfileOpt = Annotated[str | None, typer.Option("--profile", "-p", help="Profile name")]

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)  # an error stays one line


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` as one red line; return the Exit to raise."""
    text = " ".join(scrub(message).split())  # one line, whatever the message held
    err_console.print(f"[red]error:[/red] {escape(text)}", markup=True)
    return typer.Exit(code)


@contextmanager
def cli_errors(interrupted: str = "") -> Iterator[None]:
    """Turn every failure into one line on stderr and an exit code (messages hold no secrets)."""
    try:
        yield
    except (click.exceptions.Exit, click.ClickException):
        raise  # typer.Exit and usage errors: click already says what is wrong
    except (KeyboardInterrupt, click.exceptions.Abort):
        hint = f": {interrupted}" if interrupted else ""
        raise fail(f"interrupted{hint}", EXIT_INTERRUPTED) from None
    except ObjstoreError as exc:
        raise fail(str(exc)) from None
    except Exception as exc:
        if os.environ.get("OBJSTORE_DEBUG"):
            raise
        text = str(exc).splitlines()[0] if str(exc) else ""
        raise fail(f"unexpected {type(exc).__name__}{': ' + text if text else ''}. This is a "
                   "bug in objstore: please report it with the output of the same command run "
                   "with OBJSTORE_DEBUG=1") from None


def command(fn: Callable[..., Any] | None = None, *, interrupted: str = "") -> Any:
    """Decorator: run a command body inside :func:`cli_errors`; ``interrupted`` is the hint
    shown after Ctrl-C (e.g. how to resume)."""

    def wrap(body: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(body)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with cli_errors(interrupted):
                return body(*args, **kwargs)

        return wrapper

    return wrap(fn) if fn is not None else wrap
