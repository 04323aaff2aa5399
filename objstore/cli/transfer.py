"""``objstore cp`` and ``objstore rm``."""

from __future__ import annotations

from typing import Annotated

import typer

from .console import ProfileOpt, command, console, err_console, print_json
from .progress import TransferReporter


@command(interrupted="run the same objstore cp command again to resume (objects already copied "
                     "are skipped)")
def cp(
    src: Annotated[str, typer.Argument(help="A local file or folder, or a store URL")],
    dest: Annotated[str, typer.Argument(help="A local path or a store URL")],
    profile: ProfileOpt = None,
    src_profile: Annotated[str | None, typer.Option(
        "--src-profile", help="Profile for SRC when it differs from --profile")] = None,
    concurrency: Annotated[int | None, typer.Option(
        "--concurrency", "-j", min=1, help="Requests in flight (default: profile, else 64)")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the result as JSON only")] = False,
) -> None:
    """Copy a file or a whole tree (recursively) between local disk and object stores.

    Objects already at DEST with the same size and MD5 are skipped, so re-running an interrupted copy sends only what is missing; everything is verified afterwards.
    """
    from ..transfer import copy, human_bytes

    reporter = TransferReporter("copying", quiet=json)

    def on_plan(p) -> None:  # type: ignore[no-untyped-def]
        if p.skip:
            reporter.note(f"{len(p.skip)} objects ({human_bytes(p.skip_bytes)}) already there "
                          "and identical, skipped")
        reporter.upload_started(len(p.copy), p.copy_bytes)

    try:
        result = copy(src, dest, profile, src_profile=src_profile, concurrency=concurrency,
                      progress=reporter.advance, on_plan=on_plan)
    finally:
        reporter.upload_finished()
    if json:
        print_json(result.to_json())
        return
    console.print(
        f"copied {result.copied} objects ({human_bytes(result.copied_bytes)}), skipped "
        f"{result.skipped} ({human_bytes(result.skipped_bytes)}); verified {result.objects} "
        f"objects{f' (MD5 of {result.checksums})' if result.checksums else ''} "
        f"in {result.seconds:.1f} s", markup=False)


@command
def rm(
    url: str,
    profile: ProfileOpt = None,
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Everything under URL")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask")] = False,
    json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Delete the object at URL, or with --recursive everything under it (asks first)."""
    from ..transfer import human_bytes, remove

    def confirm(items) -> bool:  # type: ignore[no-untyped-def]
        total = sum(i.size for i in items)
        if yes:
            return True
        for item in items[:10]:
            err_console.print(f"  {item.rel or url}  ({human_bytes(item.size)})", markup=False)
        if len(items) > 10:
            err_console.print(f"  ... and {len(items) - 10} more", markup=False)
        return typer.confirm(f"Delete {len(items)} objects ({human_bytes(total)}) at {url}?",
                             default=False, err=True)

    deleted = remove(url, profile, recursive=recursive, confirm=confirm)
    if not deleted:
        err_console.print("nothing deleted")
        raise typer.Exit(1)
    if json:
        print_json({"url": url, "deleted": len(deleted), "bytes": sum(i.size for i in deleted)})
        return
    console.print(f"deleted {len(deleted)} objects ({human_bytes(sum(i.size for i in deleted))})",
                  markup=False)
