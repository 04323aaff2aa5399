"""AWS profiles resolved by botocore, against moto's S3 and STS: roles, credential_process,
session tokens in the files, refresh, and what is pickled for dask workers.

Which identity wrote a cube is what the server saw: moto's request recorder keeps every request's
``Authorization`` header, and moto's STS ``GetCallerIdentity`` names the owner of that access key
(an assumed role's session, an IAM user), as ``aws sts get-caller-identity`` would.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import stat
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import pytest
import xarray as xr
from test_registry import SECRET, aws_config, aws_credentials

import objstore

ROLE = "arn:aws:iam::123456789012:role/writer"
ROLE_SESSION = "arn:aws:sts::123456789012:assumed-role/writer/objstore-test"
_CREDENTIAL = re.compile(r"Credential=([A-Z0-9]+)/\d+/[^/]+/([a-z0-9-]+)/")


@contextmanager
def recorded(server) -> Iterator[list[dict]]:  # type: ignore[no-untyped-def]
    """Every request moto receives inside the block (filled in when the block ends)."""
    def call(action: str) -> bytes:
        req = urllib.request.Request(f"{server.endpoint_url}/moto-api/recorder/{action}",
                                     method="POST" if action != "download-recording" else "GET")
        return urllib.request.urlopen(req, timeout=10).read()

    entries: list[dict] = []
    call("reset-recording")
    call("start-recording")
    try:
        yield entries
    finally:
        call("stop-recording")
        entries += [json.loads(line) for line in call("download-recording").decode().splitlines()]


def signers(entries: list[dict], service: str) -> list[str]:
    """Access key ids that signed the requests to ``service`` (s3, sts), in order."""
    keys = []
    for e in entries:
        m = _CREDENTIAL.search(e["headers"].get("Authorization", ""))
        if m and m.group(2) == service:
            keys.append(m.group(1))
    return keys


def identity(server, access_key_id: str) -> str:  # type: ignore[no-untyped-def]
    """The ARN moto's STS gives the owner of ``access_key_id`` (moto does not check secrets)."""
    sts = boto3.client("sts", endpoint_url=server.endpoint_url, region_name="us-east-1",
                       aws_access_key_id=access_key_id, aws_secret_access_key="unused")
    return sts.get_caller_identity()["Arn"]


def services(endpoint: str) -> str:
    """A ``[services moto]`` section sending S3 and STS to moto (botocore's configured endpoints)."""
    return f"[services moto]\ns3 =\n  endpoint_url = {endpoint}\nsts =\n  endpoint_url = {endpoint}\n\n"


def role_profile(name: str, source: str, extra: str = "") -> str:
    return (f"[profile {name}]\nrole_arn = {ROLE}\nsource_profile = {source}\n"
            f"role_session_name = objstore-test\nregion = us-east-1\nservices = moto\n{extra}\n")


def assert_writes_and_reads(url: str, profile: str, cube: xr.Dataset) -> None:
    objstore.write_cube(cube, url, profile=profile)
    xr.testing.assert_identical(objstore.open_cube(url, profile=profile).load(), cube.load())


ENGINES = pytest.mark.parametrize("engine", ["fsspec", "obstore"])


@ENGINES
def test_role_profile_writes_as_the_role(s3_rig, small_cube, monkeypatch, engine):
    monkeypatch.setenv("OBJSTORE_ENGINE", engine)
    endpoint = s3_rig.server.endpoint_url
    aws_config(services(endpoint) + "[profile base]\nregion = us-east-1\nservices = moto\n\n"
               + role_profile("writer", "base"))
    aws_credentials("[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = x\n")
    with recorded(s3_rig.server) as entries:
        assert_writes_and_reads(s3_rig.url("role.zarr"), "writer", small_cube)
    assert set(signers(entries, "sts")) == {"AKIABASE"}  # AssumeRole, with the source profile
    assert {identity(s3_rig.server, k) for k in signers(entries, "s3")} == {ROLE_SESSION}


def test_role_beats_static_keys_in_the_same_profile(s3_rig, small_cube):
    """As the AWS CLI does: role_arn wins, the profile's own keys only sign the AssumeRole."""
    aws_config(services(s3_rig.server.endpoint_url) + role_profile("both", "both"))
    aws_credentials("[both]\naws_access_key_id = AKIABOTH\naws_secret_access_key = x\n")
    with recorded(s3_rig.server) as entries:
        assert_writes_and_reads(s3_rig.url("both.zarr"), "both", small_cube)
    assert set(signers(entries, "sts")) == {"AKIABOTH"}
    s3_keys = set(signers(entries, "s3"))
    assert "AKIABOTH" not in s3_keys
    assert {identity(s3_rig.server, k) for k in s3_keys} == {ROLE_SESSION}
    assert objstore.resolve(s3_rig.url("both.zarr"), "both").profile.key is None  # nothing shown


@pytest.mark.parametrize("name", ["aws_session_token", "aws_security_token"])
def test_session_token_in_the_credentials_file(s3_rig, small_cube, name):
    sts = boto3.client("sts", endpoint_url=s3_rig.server.endpoint_url, region_name="us-east-1",
                       aws_access_key_id="AKIAADMIN", aws_secret_access_key="x")
    creds = sts.assume_role(RoleArn=ROLE, RoleSessionName="objstore-test")["Credentials"]
    aws_config(services(s3_rig.server.endpoint_url) + "[profile temp]\nregion = us-east-1\n"
               "services = moto\n")
    aws_credentials(f"[temp]\naws_access_key_id = {creds['AccessKeyId']}\n"
                    f"aws_secret_access_key = {creds['SecretAccessKey']}\n"
                    f"{name} = {creds['SessionToken']}\n")
    with recorded(s3_rig.server) as entries:
        assert_writes_and_reads(s3_rig.url("token.zarr"), "temp", small_cube)
    s3 = [e for e in entries if "/s3/" in e["headers"].get("Authorization", "")]
    assert s3 and {e["headers"].get("X-Amz-Security-Token") for e in s3} == {creds["SessionToken"]}
    assert {identity(s3_rig.server, k) for k in signers(entries, "s3")} == {ROLE_SESSION}


def process_script(folder: Path, minutes: int) -> Path:
    """A credential_process that counts its calls and returns keys expiring in ``minutes``."""
    script = folder / "creds.py"
    script.write_text(
        "import datetime, json, pathlib\n"
        f"count = pathlib.Path({str(folder / 'calls')!r})\n"
        "n = int(count.read_text()) + 1 if count.exists() else 1\n"
        "count.write_text(str(n))\n"
        "expires = datetime.datetime.now(datetime.timezone.utc) + "
        f"datetime.timedelta(minutes={minutes})\n"
        "print(json.dumps({'Version': 1, 'AccessKeyId': f'ASIAPROCESS{n:04d}',\n"
        f"    'SecretAccessKey': {SECRET!r}, 'SessionToken': f'token-{{n}}',\n"
        "    'Expiration': expires.strftime('%Y-%m-%dT%H:%M:%SZ')}))\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_credential_process_profile(s3_rig, small_cube, tmp_path):
    script = process_script(tmp_path, minutes=60)
    aws_config(services(s3_rig.server.endpoint_url) + "[profile proc]\nregion = us-east-1\n"
               f"services = moto\ncredential_process = {sys.executable} {script}\n")
    with recorded(s3_rig.server) as entries:
        assert_writes_and_reads(s3_rig.url("proc.zarr"), "proc", small_cube)
    used, calls = signers(entries, "s3"), int((tmp_path / "calls").read_text())
    # once per filesystem (the write's store, the write marker's, the read's), kept till expiry
    assert calls <= 3 < len(used)
    assert set(used) <= {f"ASIAPROCESS{n:04d}" for n in range(1, calls + 1)}


def test_expiring_credentials_are_refreshed_during_a_write(s3_rig, small_cube, tmp_path):
    """Keys 11 minutes from expiry are inside botocore's refresh window: it asks again."""
    script = process_script(tmp_path, minutes=11)
    aws_config(services(s3_rig.server.endpoint_url) + "[profile short]\nregion = us-east-1\n"
               f"services = moto\ncredential_process = {sys.executable} {script}\n")
    with recorded(s3_rig.server) as entries:
        assert_writes_and_reads(s3_rig.url("short.zarr"), "short", small_cube)
    used = signers(entries, "s3")
    calls = int((tmp_path / "calls").read_text())
    assert calls > 2 and len(set(used)) > 2  # more than once per filesystem: refreshed


def test_role_sessions_are_renewed_before_they_expire(s3_rig, small_cube):
    """A 15-minute role session is inside botocore's expiry window: AssumeRole runs again."""
    aws_config(services(s3_rig.server.endpoint_url) + "[profile base]\nregion = us-east-1\n"
               "services = moto\n\n" + role_profile("brief", "base", "duration_seconds = 900"))
    aws_credentials("[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = x\n")
    with recorded(s3_rig.server) as entries:
        assert_writes_and_reads(s3_rig.url("brief.zarr"), "brief", small_cube)
    assert len(signers(entries, "sts")) > 2  # more than once per filesystem
    s3_keys = set(signers(entries, "s3"))
    assert len(s3_keys) > 2 and {identity(s3_rig.server, k) for k in s3_keys} == {ROLE_SESSION}


@ENGINES
def test_pickled_cube_carries_the_profile_name_not_the_role_session(s3_rig, small_cube,
                                                                    monkeypatch, engine):
    """What dask ships to workers: the AWS profile name; the worker's botocore assumes the role."""
    monkeypatch.setenv("OBJSTORE_ENGINE", engine)
    aws_config(services(s3_rig.server.endpoint_url) + "[profile base]\nregion = us-east-1\n"
               "services = moto\n\n" + role_profile("writer", "base"))
    aws_credentials(f"[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = {SECRET}\n")
    url = s3_rig.url("pickled.zarr")
    objstore.write_cube(small_cube, url, profile="writer")
    with recorded(s3_rig.server) as entries:
        ds = objstore.open_cube(url, profile="writer")
        ds.load()
    session = [e["headers"] for e in entries if "/s3/" in e["headers"].get("Authorization", "")]
    secrets = {SECRET, "AKIABASE", session[0]["X-Amz-Security-Token"], *signers(entries, "s3")}
    lazy = objstore.open_cube(url, profile="writer")
    blob = pickle.dumps(lazy)
    assert b"writer" in blob and not [s for s in secrets if s.encode() in blob]
    worker = subprocess.run(  # a fresh process, as a dask worker on this machine
        [sys.executable, "-c", "import pickle, sys; ds = pickle.load(sys.stdin.buffer); "
         "print(float(ds['tas'].sum()))"],
        input=blob, capture_output=True, timeout=120, env=dict(os.environ))
    assert worker.returncode == 0, worker.stderr.decode()[-2000:]
    assert float(worker.stdout) == pytest.approx(float(small_cube["tas"].sum()), rel=1e-5)


def test_failing_credential_process_is_one_clear_error(s3_rig, small_cube):
    aws_config(services(s3_rig.server.endpoint_url) + "[profile broken]\nregion = us-east-1\n"
               "services = moto\ncredential_process = /bin/sh -c 'echo vault is sealed >&2; exit 3'\n")
    with pytest.raises(objstore.CredentialsError) as info:
        objstore.write_cube(small_cube, s3_rig.url("broken.zarr"), profile="broken")
    msg = str(info.value)
    assert "AWS profile 'broken'" in msg and "vault is sealed" in msg and "credential_process" in msg


def test_sso_profile_without_a_login_says_how_to_log_in(s3_rig):
    from typer.testing import CliRunner

    from objstore.cli import app

    aws_config(services(s3_rig.server.endpoint_url) + "[profile corp]\nsso_session = corp\n"
               "sso_account_id = 123456789012\nsso_role_name = Reader\nregion = us-east-1\n"
               "services = moto\n\n[sso-session corp]\nsso_start_url = https://corp.example/start\n"
               "sso_region = us-east-1\n")
    assert objstore.resolve(s3_rig.url("x.zarr"), "corp").storage_options["profile"] == "corp"
    result = CliRunner().invoke(app, ["ls", s3_rig.url(""), "--profile", "corp"],
                                env={"COLUMNS": "400"})
    assert result.exit_code == 1 and "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "`aws sso login --profile corp`" in lines[0], result.output


def test_dask_workers_assume_the_role_themselves(s3_rig, small_cube):
    """Workers get the profile name and their own botocore (same AWS files) assumes the role,
    again and again for a 15-minute session: the job outlives any one role session."""
    distributed = pytest.importorskip("distributed")
    import dask
    import numpy as np

    aws_config(services(s3_rig.server.endpoint_url) + "[profile base]\nregion = us-east-1\n"
               "services = moto\n\n" + role_profile("brief", "base", "duration_seconds = 900"))
    aws_credentials("[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = x\n")
    cube = small_cube.chunk({"time": 1})
    cube["pid"] = cube["tas"].copy(data=cube["tas"].data.map_blocks(
        lambda b: np.full(b.shape, os.getpid(), "f4")))
    url = s3_rig.url("workers.zarr")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster, set_as_default=False) as client, \
            recorded(s3_rig.server) as entries, dask.config.set(scheduler=client.get):
        objstore.write_cube(cube, url, profile="brief")
    back = objstore.open_cube(url, profile="brief").load()
    assert (back["pid"].values != os.getpid()).all()  # chunks written by the worker process
    xr.testing.assert_identical(back[["tas", "pr", "mask"]], small_cube.load())
    chunk_puts = [e for e in entries if e["method"] == "PUT" and "/tas/" in e["url"]
                  and not e["url"].endswith((".zarray", ".zattrs"))]
    keys = set(signers(chunk_puts, "s3"))
    assert len(chunk_puts) == 8 and {identity(s3_rig.server, k) for k in keys} == {ROLE_SESSION}
    assert set(signers(entries, "sts")) == {"AKIABASE"} and len(signers(entries, "sts")) > 2
