"""Run the objstore CLI in-process, as a user would type it, and return what it printed."""

from __future__ import annotations

from typer.testing import CliRunner

from objstore.cli import app


def run_cli(*args: str) -> str:
    """Output of ``objstore ARGS...``; the command must succeed."""
    result = CliRunner().invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return result.output
