"""``objstore sign URL --expires 1h`` and ``objstore.signing.signed_url``: one private object, read
by anyone with the printed URL and no credentials, on every backend that can sign."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from cli_runner import run_cli
from typer.testing import CliRunner

import objstore
from objstore.cli import app


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


@pytest.fixture
def private_object(rig, monkeypatch):
    for k, v in rig.env.items():
        monkeypatch.setenv(k, v)
    if rig.backend == "swift":  # what `swift post -m "Temp-URL-Key:..."` does
        from servers._util import http_request

        url, token = rig.server.get_token()
        http_request("POST", url, headers={"X-Auth-Token": token,
                                           "X-Account-Meta-Temp-URL-Key": "tk-SECRET"})
    fs = objstore.filesystem(rig.url("data/report.csv"), rig.profile)
    fs.pipe(f"{rig.bucket}/data/report.csv", b"a,b\n1,2\n")
    return rig


def test_cli_sign_prints_a_url_anyone_can_read_until_it_expires(private_object):
    rig = private_object
    out = run_cli("sign", rig.url("data/report.csv"), "--expires", "10m").strip()
    assert out.startswith("http") and "SECRET" not in out
    assert fetch(out) == (200, b"a,b\n1,2\n")  # (the GCS emulator enforces no access control)
    if rig.backend != "gcs":
        assert fetch(out.split("?")[0])[0] in (401, 403)  # the object itself stays private


def test_sign_refuses_a_missing_object_and_a_folder_in_one_line(private_object):
    rig = private_object
    for target, words in [(rig.url("data/nope.csv"), "nothing at"),
                          (rig.url("data"), "is a folder")]:
        result = CliRunner().invoke(app, ["sign", target], env={"COLUMNS": "250"})
        assert result.exit_code == 1, result.output
        assert words in result.output and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1


def test_a_bad_duration_is_a_usage_error():
    result = CliRunner().invoke(app, ["sign", "s3://b/k", "--expires", "soon"])
    assert result.exit_code == 2 and "not a duration" in result.output
    assert "Traceback" not in result.output
