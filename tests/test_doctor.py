"""``objstore doctor``: a healthy setup passes; a wrong key, a wrong endpoint, a missing bucket and a
cube with no consolidated metadata each fail with the fix; the probe leaves nothing behind."""

from __future__ import annotations

import base64
import json

import pytest
from pydantic import SecretStr
from rigs import Rig
from servers._util import free_port
from typer.testing import CliRunner

import objstore
from objstore.cli import app
from objstore.doctor import diagnose


def _statuses(report) -> dict[str, str]:
    return {c.name: c.status for c in report.checks}


def _failed(report, name: str):
    check = next(c for c in report.checks if c.name == name)
    assert check.status == "fail", report.checks
    return check


def test_healthy_bucket_passes_and_leaves_nothing(rig: Rig) -> None:
    report = diagnose(rig.url(""), rig.profile)
    assert report.ok, report.checks
    got = _statuses(report)
    assert got["endpoint"] == "ok" and got["access"] == "ok" and got["read/write probe"] == "ok"
    assert got["clock"] in ("ok", "skip") and got["anonymous read"] in ("info", "skip")
    assert objstore.filesystem(rig.url(""), rig.profile).ls(rig.bucket, detail=False) == []


def test_missing_bucket_says_create_it(rig: Rig) -> None:
    url = f"{rig.scheme}://doctor-missing-{rig.bucket}/x.zarr"
    check = _failed(diagnose(url, rig.profile), "access")
    assert "does not exist" in check.detail and "create" in check.fix


def test_wrong_endpoint_names_it(rig: Rig) -> None:
    port = free_port()  # nothing listens there
    dead = f"http://127.0.0.1:{port}"
    if rig.backend == "swift":
        bad = rig.profile.model_copy(update={"auth_url": f"{dead}/auth/v1.0"})
    elif rig.backend == "azure":
        bad = rig.profile.model_copy(update={"endpoint_url": f"{dead}/{rig.server.account_name}"})
    else:
        bad = rig.profile.model_copy(update={"endpoint_url": dead})
    report = diagnose(rig.url(""), bad)
    check = _failed(report, "endpoint")
    assert "profiles show" in check.fix and not report.ok


def test_wrong_key_is_access_denied(rig: Rig) -> None:
    if rig.backend in ("gcs", "s3"):
        pytest.skip("the GCS emulator and moto accept any credentials: nothing to tell apart")
    if rig.backend == "swift":
        bad = rig.profile.model_copy(update={"key": SecretStr("not-the-key")})
    else:
        bad = rig.profile.model_copy(update={"account_key": SecretStr(base64.b64encode(b"wrong" * 8).decode())})
    report = diagnose(rig.url(""), bad)
    failed = [c for c in report.checks if c.status == "fail"]
    assert failed and "credentials" in (failed[0].fix + failed[0].detail).lower(), report.checks
    assert "not-the" not in json.dumps(report.to_json())


def test_cube_without_consolidated_metadata(rig: Rig, small_cube) -> None:
    url = rig.url("raw.zarr")
    objstore.write_cube(small_cube, url, profile=rig.profile)
    assert _statuses(diagnose(url, rig.profile))["consolidated metadata"] == "ok"
    fs = objstore.filesystem(url, rig.profile)
    fs.rm_file(f"{rig.bucket}/raw.zarr/.zmetadata")
    check = _failed(diagnose(url, rig.profile, write=False), "consolidated metadata")
    assert "consolidate_metadata" in check.fix


def test_cli_table_json_and_exit_codes(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in rig.env.items():
        monkeypatch.setenv(name, value)
    objstore.registry._reset_cache()
    runner = CliRunner()
    ok = runner.invoke(app, ["doctor", rig.url(""), "--json"], env={"COLUMNS": "250"})
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["ok"] is True
    bad = runner.invoke(app, ["doctor", f"{rig.scheme}://doctor-missing-{rig.bucket}"],
                        env={"COLUMNS": "250"})
    assert bad.exit_code == 1 and "FAIL" in bad.output and "Traceback" not in bad.output


def test_interrupted_write_is_named(rig: Rig, small_cube) -> None:
    from objstore.write_marker import MARKER, new_marker

    url = rig.url("half.zarr")
    objstore.write_cube(small_cube, url, profile=rig.profile)
    fs = objstore.filesystem(url, rig.profile)
    fs.rm_file(f"{rig.bucket}/half.zarr/.zmetadata")
    fs.pipe_file(f"{rig.bucket}/half.zarr/{MARKER}", new_marker("w-"))
    check = _failed(diagnose(url, rig.profile, write=False), "complete")
    assert "started" in check.detail and "mode='w'" in check.fix


#: what the test suite's servers honour: moto keeps no Content-MD5 check, the Swift all-in-one
#: checks If-None-Match without a lock, the GCS emulator ignores ifGenerationMatch; moto answers
#: every CORS preflight, the others want a rule
HONOURED = {"s3": ("ok", "warn", "ok"), "swift": ("warn", "ok", "warn"),
            "gcs": ("warn", "ok", "warn"), "azure": ("ok", "ok", "warn")}


def test_what_the_server_honours_is_checked_with_the_fix(rig: Rig) -> None:
    report = diagnose(rig.url(""), rig.profile)
    got = {c.name: c for c in report.checks}
    conditional, checksums, cors = HONOURED[rig.backend]
    assert (got["conditional writes"].status, got["checksums"].status,
            got["CORS"].status) == HONOURED[rig.backend], report.checks
    if conditional == "warn":
        assert "one writer at a time" in got["conditional writes"].fix
    if checksums == "warn":
        assert "Content-MD5" in got["checksums"].fix
    if cors == "warn":
        assert "https://example.org" in got["CORS"].detail and got["CORS"].fix
    assert report.ok  # warnings, not failures
    assert objstore.filesystem(rig.url(""), rig.profile).ls(rig.bucket, detail=False) == []


def test_a_swift_container_allowing_the_origin_passes_the_cors_check(request, monkeypatch):
    from conftest import _fresh_rig
    from fsspec.asyn import sync

    rig = _fresh_rig(request, "swift")
    fs = objstore.filesystem(rig.url(""), rig.profile)
    sync(fs.loop, fs._request, "POST", rig.bucket,
         headers={"X-Container-Meta-Access-Control-Allow-Origin": "https://maps.example.org"})
    for name, value in rig.env.items():
        monkeypatch.setenv(name, value)
    objstore.registry._reset_cache()
    runner = CliRunner()
    checks = {}
    for origin in ("https://maps.example.org", "https://elsewhere.example.org"):
        done = runner.invoke(app, ["doctor", rig.url(""), "--no-write", "--json",
                                   "--origin", origin], env={"COLUMNS": "250"})
        assert done.exit_code == 0, done.output
        checks[origin] = next(c for c in json.loads(done.output)["checks"] if c["name"] == "CORS")
    assert checks["https://maps.example.org"]["status"] == "ok", checks
    assert checks["https://elsewhere.example.org"]["status"] == "warn", checks
    assert "Access-Control-Allow-Origin" in checks["https://elsewhere.example.org"]["fix"]
