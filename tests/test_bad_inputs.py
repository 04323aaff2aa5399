"""Every bad input in docs/errors.md's table, typed as a user would, against the real servers.

The table is the one source: each row is a shell command line, the one line objstore must print
on stderr (fragments separated by ``…`` must appear in that order) and the exit code. Rows with
``{store}`` run on every backend, rows with ``{bstore}`` on those where a write needs an existing
bucket (S3, GCS, Azure); ``{bucket}`` exists there, ``{missing}`` does not, ``{word}`` is bucket or
container. Each runs in a fresh process, in a folder holding the files the table names.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "errors.md"
_ROW = re.compile(r"^\|\s*`(?P<input>[^`]+)`\s*\|\s*`(?P<message>[^`]+)`\s*\|\s*(?P<exit>\d+)\s*\|$")
_SCHEME = {"s3": "s3", "gcs": "gs", "azure": "az", "swift": "swift"}


def table() -> list[tuple[str, str, int]]:
    """(input, message, exit code) of every row of the bad-inputs table."""
    rows = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if m := _ROW.match(line.strip()):
            rows.append((m["input"], m["message"], int(m["exit"])))
    return rows


ROWS = table()
LOCAL = [r for r in ROWS if "{store}" not in r[0] and "{bstore}" not in r[0]]
STORE = [r for r in ROWS if "{store}" in r[0]]
BSTORE = [r for r in ROWS if "{bstore}" in r[0]]


def test_the_table_has_thirty_bad_inputs():
    assert len(ROWS) >= 30


def _workdir(tmp_path: Path) -> Path:
    """The files the table's commands name."""
    import numpy as np
    import xarray as xr

    work = tmp_path / "work"
    work.mkdir()
    (work / "note.txt").write_text("hello\n")
    (work / "folder").mkdir()
    (work / "folder" / "a.txt").write_text("a\n")
    xr.Dataset({"t": ("x", np.arange(4.0))}).to_zarr(work / "cube.zarr", consolidated=True,
                                                      zarr_format=2)
    (work / "bad-endpoint.toml").write_text('[profiles.mine]\nendpoint_url = "not a url"\n')
    (work / "broken.toml").write_text("[profiles.mine\nbackend = 's3'\n")
    (work / "wrong-match.toml").write_text('[profiles.mine]\nbackend = "s3"\nmatch = ["gs://x/*"]\n')
    (work / "sa-fields.json").write_text(json.dumps({"type": "service_account", "project_id": "p"}))
    (work / "sa-text.json").write_text("not json\n")
    (work / "sa-key.json").write_text(json.dumps({
        "type": "service_account", "client_email": "a@p.iam.gserviceaccount.com",
        "private_key": "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n",
        "token_uri": "https://oauth2.googleapis.com/token"}))
    return work


def _run(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **env, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def _check(result: subprocess.CompletedProcess[str], message: str, code: int) -> None:
    shown = f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    assert "Traceback" not in result.stderr + result.stdout, shown
    assert "Exception ignored" not in result.stderr, shown
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, shown
    assert result.returncode == code, shown
    position = 0
    for fragment in (f.strip() for f in message.split("…")):
        found = lines[0].find(fragment, position)
        assert found >= 0, f"{fragment!r} not in order in {lines[0]!r}"
        position = found + len(fragment)


@pytest.mark.parametrize(("command", "message", "code"), LOCAL, ids=[r[0] for r in LOCAL])
def test_bad_input(command, message, code, tmp_path):
    _check(_run(command, _workdir(tmp_path), {}), message, code)


def _check_on(rig, command: str, message: str, code: int, tmp_path: Path) -> None:
    names = {"store": _SCHEME[rig.backend], "bstore": _SCHEME[rig.backend], "bucket": rig.bucket,
             "missing": f"no{rig.bucket}",
             "word": "container" if rig.backend in ("azure", "swift") else "bucket"}
    fill = lambda text: re.sub(r"\{(\w+)\}", lambda m: names[m[1]], text)  # noqa: E731
    _check(_run(fill(command), _workdir(tmp_path), rig.env), fill(message), code)


@pytest.mark.parametrize(("command", "message", "code"), STORE, ids=[r[0] for r in STORE])
def test_bad_input_on_every_store(command, message, code, rig, tmp_path):
    _check_on(rig, command, message, code, tmp_path)


@pytest.mark.parametrize("backend", [b for b in _SCHEME if b != "swift"])
@pytest.mark.parametrize(("command", "message", "code"), BSTORE, ids=[r[0] for r in BSTORE])
def test_bad_input_where_buckets_must_exist(command, message, code, backend, request, tmp_path):
    from conftest import _fresh_rig

    _check_on(_fresh_rig(request, backend), command, message, code, tmp_path)


def test_the_docs_show_the_error_tree():
    import objstore.errors

    tree = [line.strip() for line in (objstore.errors.__doc__ or "").splitlines()
            if line.startswith("    ")]
    doc = DOC.read_text(encoding="utf-8")
    assert tree and all(line in doc for line in tree)
