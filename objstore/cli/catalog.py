"""``objstore catalog``: intake and STAC catalogs of cubes, and a reader's check of a catalog."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from .console import ProfileOpt, command, console, err_console

app = typer.Typer(help="Intake and STAC catalogs of cubes, with profile names instead of secrets.",
                  no_args_is_help=True)

NamesOpt = Annotated[list[str] | None, typer.Option(
    "--name", help="NAME=URL: catalog the cube at URL as NAME (repeatable)")]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Replace an existing catalog")]
PrivateOpt = Annotated[bool, typer.Option(
    "--private", help="Entries open through objstore with the profile name, even for cubes "
                      "anyone can read")]


def _names(pairs: list[str] | None) -> dict[str, str]:
    out = {}
    for pair in pairs or []:
        name, sep, url = pair.partition("=")
        if not sep or not name or not url:
            raise typer.BadParameter(f"--name wants NAME=URL, got {pair!r}")
        out[name] = url
    return out


def _say_access(entries: list) -> None:
    for e in entries:
        a = e.access
        how = ("public: plain fsspec, no credentials" if a.public else
               f"private: engine=objstore, profile {a.profile!r}" if a.profile else
               "private: engine=objstore, the reader's default profile")
        err_console.print(f"{e.name}: {a.url} ({how})", markup=False)


@app.command("intake")
@command
def intake(
    urls: Annotated[list[str] | None, typer.Argument(help="Cube URLs")] = None,
    output: Annotated[str | None, typer.Option(
        "--output", "-o", help="Write the catalog here (a path or an object-store URL); "
                               "default: print it")] = None,
    profile: ProfileOpt = None,
    name: NamesOpt = None,
    description: Annotated[str | None, typer.Option("--description", help="Catalog description")]
    = None,
    format: Annotated[str, typer.Option("--format", help="v1 (intake 0.7 and 2) or v2 (intake 2)")]
    = "v1",
    private: PrivateOpt = False,
    overwrite: OverwriteOpt = False,
) -> None:
    """Write an intake catalog of the cubes at URL...

    Cubes anyone can read (checked, not guessed) get plain fsspec options; the others open through
    engine="objstore" with the profile's name, never a key, token or password.
    """
    from ..catalog.build import intake_text, open_entries, refuse_existing
    from ..catalog.files import write_text

    if format not in ("v1", "v2"):
        raise typer.BadParameter("--format must be v1 or v2")
    if output is not None and not overwrite:
        refuse_existing(output, profile)
    entries = open_entries(urls or [], profile=profile, names=_names(name), private=private)
    text = intake_text(entries, description=description, format=format)  # type: ignore[arg-type]
    if output is None:
        console.print(text, markup=False, end="")
        return
    write_text(output, text, profile)
    _say_access(entries)
    console.print(f"wrote {output} ({len(entries)} entries, intake {format})", markup=False)


@app.command("stac")
@command
def stac(
    urls: Annotated[list[str] | None, typer.Argument(help="Cube URLs")] = None,
    output: Annotated[str, typer.Option("--output", "-o", help="Folder for the STAC collection")]
    = "stac",
    collection_id: Annotated[str, typer.Option("--collection-id", help="The collection's id")]
    = "cubes",
    profile: ProfileOpt = None,
    name: NamesOpt = None,
    description: Annotated[str | None, typer.Option("--description", help="Collection text")]
    = None,
    private: PrivateOpt = False,
    overwrite: OverwriteOpt = False,
) -> None:
    """Write a STAC Collection with one Item per cube (datacube and xarray-assets extensions).

    Validated against the core STAC schemas pystac ships (offline); open an item's data with
    xr.open_dataset(item.assets["data"], engine="stac").
    """
    from pathlib import Path

    from ..catalog.build import open_entries, refuse_existing, write_stac
    from ..catalog.stac_objects import NOTES

    if not overwrite:
        refuse_existing(Path(output) / "collection.json")

    entries = open_entries(urls or [], profile=profile, names=_names(name), private=private)
    coll = write_stac(entries, output, collection_id=collection_id, description=description)
    items = list(coll.get_items())
    _say_access(entries)
    for item in items:
        for note in item.properties.get(NOTES, []):
            err_console.print(f"{item.id}: {note}", markup=False)
    console.print(f"wrote {coll.get_self_href()} ({len(items)} items)", markup=False)



@app.command("check")
@command
def check(
    catalog: Annotated[str, typer.Argument(
        help="An intake catalog (v1 or v2) or a STAC collection.json: a path, object-store or "
             "https URL")],
    profile: Annotated[str | None, typer.Option(
        "--profile", "-p", help="Profile for reading the catalog file itself")] = None,
) -> None:
    """Open every entry as a reader would (public ones anonymously, private ones with your profile
    of the name they carry) and say which open and why the others do not. Exit 1 if any fail."""
    from ..catalog.check import check as run

    results = run(catalog, profile)
    for r in results:
        mark = "[green]ok  [/green]" if r.ok else "[red]FAIL[/red]"
        console.print(f"{mark} {escape(r.name)} ({escape(r.access)}): {escape(r.detail)}",
                      markup=True)
    bad = sum(not r.ok for r in results)
    console.print(f"{len(results) - bad} of {len(results)} entries open", markup=False)
    if bad:
        raise typer.Exit(1)

def say_catalog_update(u) -> None:  # type: ignore[no-untyped-def]
    """What ``publish --catalog`` did to the catalog (a CatalogUpdate)."""
    verb = "replaced" if u.replaced else "added"
    how = "public" if u.public else "private: opens through objstore with a profile name"
    console.print(f"catalog: {verb} {u.name!r} ({how}) in {u.catalog} and {u.stac}", markup=False)
    if u.public_url:
        console.print(f"[bold]catalog URL:[/bold] {u.public_url}", markup=True)
        console.print(f'Readers: import intake; intake.open_catalog("{u.public_url}")'
                      f'["{u.name}"].to_dask()', markup=False)
        console.print(f"STAC: {u.stac_public_url}", markup=False)
