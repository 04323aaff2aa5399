"""The objstore CLI: profiles listing with provenance, add, ls, open, demo; never a secret."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from cli_runner import run_cli
from test_registry import SECRET, aws_credentials, toml
from typer.testing import CliRunner

import objstore
from objstore.cli import app

runner = CliRunner()



@pytest.fixture
def secrets_everywhere(monkeypatch):
    toml(f'[profiles.mine]\nkey = "AKIAMINE"\nsecret = "{SECRET}"\nmatch = ["s3://mine/*"]\n'
         f'storage_options = {{ client_kwargs = {{ aws_session_token = "{SECRET}" }} }}\n')
    aws_credentials(f"[filed]\naws_access_key_id = AKIAFILE\naws_secret_access_key = {SECRET}\n")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", SECRET + "TOKEN")
    monkeypatch.setenv("OS_STORAGE_URL", "https://swift.example/v1/AUTH_x")
    monkeypatch.setenv("OS_AUTH_TOKEN", SECRET + "OS")


def test_profiles_lists_every_source(secrets_everywhere):
    out = run_cli("profiles")
    for name in ("mine", "filed", "aws-env", "swift-env", "osn", "aws-open-data"):
        assert name in out
    assert "toml" in out and "preset" in out and "env" in out and "aws" in out
    assert "s3://mine/*" in out and "https://ncsa.osn.xsede.org" in out


def test_profiles_json_has_provenance(secrets_everywhere):
    rows = {r["name"]: r for r in json.loads(run_cli("profiles", "--json"))}
    assert rows["mine"]["source"].startswith("toml: ") and rows["mine"]["match"] == ["s3://mine/*"]
    assert rows["filed"]["source"].startswith("aws: ")
    assert rows["aws-env"]["source"] == "env: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN"
    assert rows["osn"]["endpoint"] == "https://ncsa.osn.xsede.org"


def test_no_secret_in_any_cli_output(secrets_everywhere):
    outputs = [run_cli("profiles"), run_cli("profiles", "--json")]
    for name in ("mine", "filed", "aws-env", "swift-env"):
        outputs += [run_cli("profiles", "show", name), run_cli("profiles", "show", name, "--json")]
    for out in outputs:
        assert SECRET not in out
    shown = json.loads(run_cli("profiles", "show", "mine", "--json"))
    assert shown["secret"] == "**********"
    assert shown["storage_options"]["client_kwargs"]["aws_session_token"] == "**********"


def test_unknown_profile_is_one_clear_line():
    result = runner.invoke(app, ["profiles", "show", "nope"])
    assert result.exit_code == 1
    assert "unknown profile 'nope'" in result.output and "Traceback" not in result.output


def test_profiles_add_writes_0600_toml():
    run_cli("profiles", "add", "osn-mine", "--backend", "s3", "--endpoint-url",
        "https://sdsc.osn.xsede.org", "--anonymous", "--match", "s3://bucket/*")
    path = Path(os.environ["OBJSTORE_CONFIG"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    p = objstore.default_registry().get("osn-mine")
    assert p.anonymous and p.match == ["s3://bucket/*"] and p.source.kind == "toml"


def test_ls_and_open_on_the_real_server(s3_rig, small_cube):
    url = s3_rig.url("cli.zarr")
    objstore.write_cube(small_cube, url, profile=s3_rig.profile)
    toml(f'[profiles.moto]\nendpoint_url = "{s3_rig.server.endpoint_url}"\nkey = "testing"\n'
         'secret = "testing"\n')
    listing = run_cli("ls", s3_rig.url(""), "--profile", "moto")
    assert "cli.zarr" in listing
    long = run_cli("ls", url, "-p", "moto", "--long")
    assert ".zmetadata" in long
    summary = run_cli("open", url, "--profile", "moto")
    assert "tas" in summary and "time: 8" in summary


def test_demo_runs_on_memory():
    out = run_cli("demo")
    assert "round trip OK" in out
