"""One console helper: rich output on a terminal, plain JSON with --json, errors without tracebacks.

Every command body runs inside :func:`cli_errors`: an objstore error is one line and exit 1, Ctrl-C
is one line and exit 130, and anything else is one line that asks for a bug report (the traceback
only with ``OBJSTORE_DEBUG=1``). Usage errors stay click's, exit 2.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import ObjstoreError, scrub

__all__ = ["console", "err_console", "print_json", "fail", "cli_errors", "command", "run",
           "ProfileOpt", "EXIT_INTERRUPTED", "EXIT_USAGE"]

ProfileOpt = Annotated[str | None, typer.Option("--profile", "-p", help="Profile name")]

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
EXIT_USAGE = 2

# click's exceptions, as typer exposes them (its own copy of click, or click itself)
_CLICK_ERROR: Any = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
_CLICK_EXIT: tuple[type[Exception], ...] = (typer.Exit, _CLICK_ERROR)

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
    except _CLICK_EXIT:
        raise  # typer.Exit, and usage errors: :func:`run` says what is wrong
    except (KeyboardInterrupt, typer.Abort) as exc:
        if isinstance(exc.__context__, EOFError):  # a question, and nobody to answer it
            raise fail("no answer: standard input is closed (pass --yes to answer yes)") from None
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


def run(app: typer.Typer, args: list[str] | None = None) -> int:
    """Run ``app`` as the ``objstore`` command and return its exit code. Usage errors are one line
    and exit 2 (click's own Usage/Try/Error box would be several); a command body that is not a
    :func:`command` still gets :func:`cli_errors`."""
    _quiet_library_logs()
    try:
        with cli_errors():
            code = app(args=args, standalone_mode=False)
    except _CLICK_ERROR as exc:
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":  # no arguments: the help (typer's rich
            if text := exc.format_message():  # help has printed itself already)
                console.print(text, markup=False)
            return int(exc.exit_code)
        where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        fail(f"{exc.format_message().rstrip('.')}{where}", exc.exit_code)
        return int(exc.exit_code)
    except typer.Exit as exc:
        return int(exc.exit_code)
    return code if isinstance(code, int) else 0


def _quiet_library_logs() -> None:
    """gcsfs, botocore and azure log their retries, some with tracebacks; the command's one line
    says what failed. ``OBJSTORE_DEBUG=1`` shows every log record instead."""
    root = logging.getLogger()
    if os.environ.get("OBJSTORE_DEBUG"):
        logging.basicConfig(level=logging.DEBUG)
    elif not root.handlers:
        root.addHandler(logging.NullHandler())  # else logging's last resort prints to stderr
