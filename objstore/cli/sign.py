"""``objstore sign URL --expires 1h``: print a time-limited URL that reads one object without
credentials."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from .console import ProfileOpt, command, console


def _duration(text: str) -> timedelta:
    from ..errors import ConfigError
    from ..scratch import parse_age

    try:
        return parse_age(text)
    except ConfigError:
        raise typer.BadParameter(f"{text!r} is not a duration: use e.g. 30m, 1h or 7d") from None


@command
def sign(
    url: str,
    profile: ProfileOpt = None,
    expires: Annotated[timedelta, typer.Option("--expires", "-e", parser=_duration, metavar="DURATION",
                                               help="How long it works: 30m, 1h, 7d")] = "1h",
) -> None:
    """Print a URL that lets anyone read the object at URL, with no credentials, until it expires
    (Swift TempURL, S3 presigned URL, GCS signed URL, Azure SAS)."""
    from ..signing import signed_url

    console.print(signed_url(url, profile, expires=expires), markup=False)
