"""nox sessions: tests (with the real servers), lint (ruff), typecheck (mypy)."""

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]


@nox.session
def tests(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("bash", "scripts/install-servers.sh", external=True)
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "objstore", "tests", "benchmarks")
    session.run("ruff", "format", "--check", "objstore")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[all]", "mypy")
    session.run("mypy", "objstore")
