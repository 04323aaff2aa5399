"""Each backend's environment variables, as data: ONE table per backend.

The table feeds the ``*-env`` profile loaders in :mod:`objstore.sources`, the "no credentials"
hints, and the tables in the docs (``render_markdown``; a test keeps the docs equal to it).
A variable belongs to a *way* of signing in; the hint lists the ways in table order, each with
its required variables. Swift's table lives in :mod:`objstore.swift.env`, where the Swift filesystem reads it when it
is used on its own; this module imports nothing else of objstore.
"""

from __future__ import annotations

from ..swift.env import SWIFT, EnvVar

__all__ = ["EnvVar", "AWS", "SWIFT", "GCS", "AZURE", "TABLES", "hint", "render_markdown"]


AWS = (
    EnvVar("AWS_ACCESS_KEY_ID", "key", "access key id", "static keys", True, True),
    EnvVar("AWS_SECRET_ACCESS_KEY", "secret", "secret access key", "static keys", True, True),
    EnvVar("AWS_SESSION_TOKEN", "token", "session token of temporary keys", "static keys",
           secret=True),
    EnvVar("AWS_PROFILE", "", "the AWS profile (in ~/.aws/config) used by default", "AWS profile",
           True),
    EnvVar("AWS_ENDPOINT_URL_S3", "endpoint_url", "S3 endpoint (beats AWS_ENDPOINT_URL)"),
    EnvVar("AWS_ENDPOINT_URL", "endpoint_url", "endpoint of every AWS service"),
    EnvVar("AWS_DEFAULT_REGION", "region", "region"),
    EnvVar("AWS_REGION", "region", "region (beats AWS_DEFAULT_REGION)"),
)

GCS = (
    EnvVar("GOOGLE_APPLICATION_CREDENTIALS", "token_file", "a service-account JSON file",
           "service account", True),
    EnvVar("STORAGE_EMULATOR_HOST", "endpoint_url", "custom endpoint, host:port or a URL"),
    EnvVar("GOOGLE_CLOUD_PROJECT", "project", "project"),
)

AZURE = (
    EnvVar("AZURE_STORAGE_CONNECTION_STRING", "connection_string", "connection string",
           "connection string", True, True),
    EnvVar("AZURE_STORAGE_ACCOUNT_NAME", "account_name", "storage account", "account key or SAS",
           True),
    EnvVar("AZURE_STORAGE_ACCOUNT_KEY", "account_key", "account key", "account key or SAS",
           True, True),
    EnvVar("AZURE_STORAGE_SAS_TOKEN", "sas_token", "SAS token (instead of the key)",
           "account key or SAS", True, True, either=True),
    EnvVar("AZURE_STORAGE_ANON", "anonymous", "true: anonymous, for public containers",
           "anonymous"),
)

#: Backend name -> (its ``*-env`` profile, its table).
TABLES: dict[str, tuple[str, tuple[EnvVar, ...]]] = {
    "s3": ("aws-env", AWS),
    "swift": ("swift-env", SWIFT),
    "gcs": ("gcs-env", GCS),
    "azure": ("azure-env", AZURE),
}


def _way(names: list[str], way: str) -> str:
    """``A, B and C (way)``; a lone variable needs no label."""
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1] + f" ({way})"


def hint(table: tuple[EnvVar, ...]) -> str:
    """``A, or B and C (way), or ...``: the required variables of each way, in table order."""
    ways: dict[str, list[str]] = {}
    for v in table:
        if v.required:
            names = ways.setdefault(v.way, [])
            if v.either and names:
                names[-1] += f" or {v.name}"
            else:
                names.append(v.name)
    return ", or ".join(_way(names, way) for way, names in ways.items())


def render_markdown(table: tuple[EnvVar, ...]) -> str:
    """The docs table for ``table`` (between the ``env-table`` markers of a docs page)."""
    rows = ["| Variable | Profile field | Way | What |", "|---|---|---|---|"]
    for v in table:
        what = v.help + (" (secret)" if v.secret else "")
        rows.append(f"| `{v.name}` | {f'`{v.field}`' if v.field else ''} | {v.way} | {what} |")
    return "\n".join(rows) + "\n"


_BEGIN = "<!-- env-table {name}: made from objstore/backends/env.py by "
_END = "<!-- /env-table -->"
#: The docs page that shows each backend's table.
DOCS = {"s3": "s3.md", "swift": "swift.md", "gcs": "gcs.md", "azure": "azure.md"}


def with_tables(text: str) -> str:
    """``text`` with every ``env-table`` block rendered from the tables again."""
    for name, (_profile, table) in TABLES.items():
        begin = _BEGIN.format(name=name)
        start = text.find(begin)
        if start < 0:
            continue
        body = text.index("\n", start) + 1
        end = text.index(_END, body)
        text = text[:body] + render_markdown(table) + text[end:]
    return text


def main(docs_dir: str = "docs") -> None:
    """Rewrite the env tables in the docs: ``python -m objstore.backends.env [DOCS_DIR]``."""
    from pathlib import Path

    for page in DOCS.values():
        path = Path(docs_dir) / page
        text = path.read_text(encoding="utf-8")
        if (new := with_tables(text)) != text:
            path.write_text(new, encoding="utf-8")
            print(f"rewrote {path}")


if __name__ == "__main__":
    import sys

    main(*sys.argv[1:])
