"""``objstore profiles``: list, show and add profiles."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from ..backends import env as env_tables
from ..errors import ConfigError, ObjstoreError
from ..perf import profile_engines
from ..profiles import redacted
from ..registry import default_registry
from ..sources import toml_file
from .console import command, console, err_console, print_json

app = typer.Typer(help="List, show and add profiles.", no_args_is_help=False)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _note_missing_config() -> None:
    if note := toml_file.missing_config_note(os.environ):
        err_console.print(f"note: {note}", markup=False)


@app.callback(invoke_without_command=True)
@command
def list_profiles(ctx: typer.Context, json: JsonOpt = False) -> None:
    """List every profile: name, backend, source, endpoint, match patterns."""
    if ctx.invoked_subcommand:
        return
    reg = default_registry()
    rows: list[dict[str, Any]] = [
        {"name": p.name, "backend": p.backend, "source": str(p.source), "endpoint": p.endpoint,
         "match": p.match}
        for p in reg.profiles.values()
    ]
    if json:
        print_json(rows)
        return
    _note_missing_config()
    table = Table(title="objstore profiles")
    for column in ("name", "backend", "source", "endpoint", "match"):
        table.add_column(column, overflow="fold")  # a long path wraps; nothing is cut off
    for row in rows:  # Text: "[default]" or "[profile x]" in a source is text, not markup
        table.add_row(*(Text(str(row[k])) for k in ("name", "backend", "source", "endpoint")),
                      Text(", ".join(row["match"])))
    console.print(table)
    if not rows:
        console.print("No profiles found. Searched: " + "; ".join(reg.searched()), markup=False)


@app.command("show")
@command
def show(name: str, json: JsonOpt = False) -> None:
    """Show one profile, secrets redacted."""
    profile = default_registry().get(name)
    data = redacted(profile)
    data["source"] = str(profile.source)
    try:
        engines = profile_engines(profile)
    except ObjstoreError as exc:  # a missing library, an incomplete profile: say so, go on
        engines = {m: {"engine": "unknown", "library": "", "why": str(exc)}
                   for m in ("read", "write")}
    if json:
        print_json({**data, "engines": engines})
        return
    for key, value in data.items():
        console.print(Text.assemble((key, "bold"), f": {value}"))
    for mode, label in (("read", "reads with"), ("write", "writes with")):
        e = engines[mode]
        lib = f" ({e['library']})" if e["library"] and e["library"] != e["engine"] else ""
        console.print(Text.assemble((label, "bold"), f": {e['engine']}{lib}, because {e['why']}"))


@app.command("add")
@command
def add(
    name: str,
    backend: Annotated[str, typer.Option(help="s3, gcs, azure, swift, http, file or memory")] = "s3",
    endpoint_url: Annotated[str | None, typer.Option(help="Custom endpoint URL")] = None,
    anonymous: Annotated[bool, typer.Option("--anonymous", help="Unsigned/anonymous access")] = False,
    match: Annotated[list[str] | None, typer.Option("--match", help="URL glob it applies to")] = None,
    region: Annotated[str | None, typer.Option(help="Region (s3)")] = None,
    aws_profile: Annotated[str | None, typer.Option(help="AWS profile whose credentials to use")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Replace an existing profile")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Add it even though it hides a profile of the same name from another "
        "source (a preset, the environment, AWS files)")] = False,
) -> None:
    """Add a profile to objstore's TOML file (written atomically, mode 0600, comments kept)."""
    fields: dict[str, object] = {"backend": backend}
    if endpoint_url is not None:
        fields["endpoint_url"] = endpoint_url
    if anonymous:
        fields["anonymous"] = True
    if match:
        fields["match"] = list(match)
    if region:
        fields["region"] = region
    if aws_profile:
        fields["aws_profile"] = aws_profile
    toml_file.check_name(name)
    path = toml_file.config_path(os.environ)
    existing = default_registry().profiles.get(name)
    if existing is not None and existing.source.kind != "toml" and not force:
        raise ConfigError(
            f"profile {name!r} already exists ({existing.source}); a profile of that name in "
            f"{path} would hide it. Choose another name, or pass --force to hide it")
    toml_file.add_profile(path, name, fields, replace=replace)
    console.print(Text.assemble("added profile ", (name, "bold"), f" to {path}"))


@app.command("env")
@command
def env_variables(
    backend: Annotated[str | None, typer.Argument(
        help="s3, swift, gcs or azure (default: all)")] = None,
    json: JsonOpt = False,
) -> None:
    """The environment variables each backend's *-env profile reads, and which are set (never
    their values)."""
    if backend is not None and backend not in env_tables.TABLES:
        raise ConfigError(f"no environment variables for backend {backend!r}: expected one of "
                          f"{', '.join(env_tables.TABLES)}")
    rows = [{"backend": name, "profile": profile, "variable": v.name, "field": v.field,
             "way": v.way, "set": bool(os.environ.get(v.name, "").strip())}
            for name, (profile, table) in env_tables.TABLES.items()
            if backend in (None, name) for v in table]
    if json:
        print_json(rows)
        return
    table = Table(title="environment variables (values are never shown)")
    for column in ("backend", "profile", "variable", "field", "way", "set"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(Text(str(row[k])) for k in ("backend", "profile", "variable", "field",
                                                      "way")), "yes" if row["set"] else "")
    console.print(table)
