"""``objstore public URL``: make a cube world-readable (or private again) and print the reader URL."""

from __future__ import annotations

from typing import Annotated

import typer

from .console import ProfileOpt, command, console


@command
def public(
    url: str,
    profile: ProfileOpt = None,
    private: Annotated[bool, typer.Option("--private", help="Revoke public read access")] = False,
) -> None:
    """Make URL world-readable the backend's way (Swift .r:*,.rlistings, S3 public-read, Azure
    container access, GCS allUsers) and print the https URL and the snippet readers paste."""
    from ..public import make_private, make_public, reader_snippet

    if private:
        console.print(f"private again: {make_private(url, profile)}", markup=False)
        return
    https = make_public(url, profile)
    console.print(https, markup=False)
    console.print(reader_snippet(https), markup=False)
