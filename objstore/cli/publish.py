"""``objstore publish``: convert, consolidate, upload with progress, verify, make public, and hand
readers the snippet."""

from __future__ import annotations

from typing import Annotated

import typer

from .console import ProfileOpt, command, console, print_json
from .progress import TransferReporter


@command(interrupted="run the same objstore publish command again to resume (objects already "
                     "uploaded are not sent again)")
def publish(
    src: Annotated[str, typer.Argument(help="A zarr folder, or a NetCDF (or other) file xarray opens")],
    dest: Annotated[str, typer.Argument(help="Where the cube goes, e.g. swift://container/cube.zarr")],
    profile: ProfileOpt = None,
    public: Annotated[bool, typer.Option("--public", help="Make it world-readable and prove it")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace a cube already at DEST")] = False,
    chunks: Annotated[str | None, typer.Option(
        "--chunks", help="Chunking for converted data, e.g. time=1,lat=256 (default: ~16 MiB)")] = None,
    zarr_format: Annotated[int, typer.Option("--zarr-format", help="2 or 3, for converted data")] = 2,
    concurrency: Annotated[int | None, typer.Option(
        "--concurrency", "-j", min=1, help="Requests in flight (default: profile, else 64)")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the result as JSON only")] = False,
    catalog: Annotated[str | None, typer.Option(
        "--catalog", help="Add the cube to this intake catalog (path or URL) and its STAC "
                          "collection; with --public they are made public too")] = None,
) -> None:
    """Publish a data cube at DEST in one step.

    Converts SRC to zarr, consolidates its metadata, uploads what is missing (resuming an interrupted publish), verifies it, and with --public makes it world-readable and prints the URL and the snippet readers paste. Refuses to replace a cube at DEST unless --overwrite.
    """
    from ..publish import publish as run
    from ..transfer import human_bytes

    if zarr_format not in (2, 3):
        raise typer.BadParameter("--zarr-format must be 2 or 3")
    reporter = TransferReporter("uploading", quiet=json)
    result = run(src, dest, profile, public=public, overwrite=overwrite, chunks=chunks,
                 zarr_format=zarr_format, concurrency=concurrency,  # type: ignore[arg-type]
                 reporter=reporter, catalog=catalog)
    if json:
        data = result.to_json()
        if result.catalog is not None:
            data["catalog"] = vars(result.catalog)
        print_json(data)
        return
    rate = result.uploaded_bytes / result.seconds / 1e6 if result.seconds else 0.0
    console.print(
        f"[green]published[/green] {result.url}: {result.objects} objects, "
        f"{human_bytes(result.bytes)} ({result.uploaded} uploaded, {result.skipped} skipped) "
        f"in {result.seconds:.1f} s ({rate:.1f} MB/s)", markup=True)
    if result.public_url:
        console.print(f"[bold]public URL:[/bold] {result.public_url}", markup=True)
        console.print("Readers paste:")
        console.print(result.snippet or "", markup=False)
    if result.catalog is not None:
        from .catalog import say_catalog_update

        say_catalog_update(result.catalog)
