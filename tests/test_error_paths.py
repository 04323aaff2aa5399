"""Failures a user meets, each as one clear line or one typed error: missing buckets on every
backend, a copy that blames the side that failed, profiles add, Ctrl-C, and a bug's last line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cli_runner import run_cli
from test_registry import toml
from typer.testing import CliRunner

import objstore
from objstore.cli import app
from objstore.errors import BucketNotFoundError, ConfigError, CredentialsError
from objstore.profiles import AzureProfile, Source, SwiftProfile
from objstore.sources import toml_file
from objstore.transfer import copy


@pytest.mark.parametrize("engine", ["fsspec", "obstore"])
def test_write_cube_to_a_missing_bucket_names_it(rig, small_cube, capfd, engine, monkeypatch):
    if engine == "obstore" and rig.backend not in ("s3", "azure"):
        pytest.skip("obstore is an engine for S3 and Azure only")
    monkeypatch.setenv("OBJSTORE_ENGINE", engine)
    url = f"{rig.scheme}://no{rig.bucket}/cube.zarr"
    if rig.backend == "swift":  # creates the container, as `swift upload` does
        objstore.write_cube(small_cube, url, rig.profile)
        assert objstore.open_cube(url, rig.profile).sizes["time"] == 8
        return
    with pytest.raises(BucketNotFoundError, match=f"'no{rig.bucket}' does not exist.*Create it") as e:
        objstore.write_cube(small_cube, url, rig.profile)
    assert (e.value.url, e.value.profile, e.value.status) == (url, rig.profile.name, 404)
    from objstore.buckets import bucket_missing

    assert bucket_missing(objstore.resolve(url, rig.profile))  # nothing was created
    err = capfd.readouterr().err
    assert "Exception ignored" not in err and "Traceback" not in err


# ---------------------------------------------------------------- cp blames the side that failed
def _read_only_azure(rig, permissions: str) -> AzureProfile:
    from servers.azurite import make_sas

    return AzureProfile(name="limited", account_name=rig.server.account_name,
                        sas_token=make_sas(rig.server, rig.bucket, permissions=permissions),
                        endpoint_url=rig.server.blob_endpoint, source=Source(kind="test"))


def test_cp_blames_a_read_only_destination(azure_rig, tmp_path):
    (tmp_path / "a.txt").write_text("a")
    copy(tmp_path / "a.txt", azure_rig.url("src/a.txt"), azure_rig.profile)
    dest = azure_rig.url("dst/a.txt")
    with pytest.raises(CredentialsError) as e:
        copy(azure_rig.url("src/a.txt"), dest, _read_only_azure(azure_rig, "rl"),
                               src_profile=azure_rig.profile)
    assert str(e.value).startswith(f"access denied to the destination {dest} (profile 'limited'")
    assert azure_rig.url("src") not in str(e.value)
    assert (e.value.url, e.value.profile, e.value.status) == (dest, "limited", 403)


def test_cp_blames_an_unreadable_source(azure_rig, tmp_path):
    (tmp_path / "a.txt").write_text("a")
    src = azure_rig.url("src/a.txt")
    copy(tmp_path / "a.txt", src, azure_rig.profile)
    with pytest.raises(CredentialsError) as e:  # may list, may not read
        copy(src, tmp_path / "copy.txt", src_profile=_read_only_azure(azure_rig, "l"))
    assert str(e.value).startswith(f"access denied to the source {src} (profile 'limited'")
    assert not (tmp_path / "copy.txt").exists()


def test_cp_blames_a_destination_that_refuses_anonymous_writes(request, tmp_path):
    from conftest import _fresh_rig

    rig = _fresh_rig(request, "swift")
    (tmp_path / "a.txt").write_text("a")
    copy(tmp_path / "a.txt", rig.url("src/a.txt"), rig.profile)
    objstore.make_public(rig.url("src/a.txt"), rig.profile)  # listable and readable by anyone
    storage_url, _ = rig.server.get_token()
    anonymous = SwiftProfile(name="anon", anonymous=True, storage_url=storage_url,
                             source=Source(kind="test"))
    with pytest.raises(CredentialsError) as e:
        copy(rig.url("src/a.txt"), rig.url("dst/a.txt"), anonymous,
                               src_profile=rig.profile)
    assert str(e.value).startswith(f"the destination {rig.url('dst/a.txt')}: anonymous access")


# ---------------------------------------------------------------------------------- profiles
def test_profiles_add_keeps_comments_and_order():
    path = Path(os.environ["OBJSTORE_CONFIG"])
    toml('# my stores\n[profiles.first]  # the old one\nbackend = "s3"\n\n# keep me too\n')
    run_cli("profiles", "add", "second", "--endpoint-url", "https://sdsc.osn.xsede.org",
            "--anonymous", "--match", "s3://bucket/*")
    text = path.read_text()
    assert text.startswith('# my stores\n[profiles.first]  # the old one\nbackend = "s3"\n')
    assert "# keep me too" in text and text.index("first") < text.index("second")
    p = objstore.default_registry().get("second")
    assert p.anonymous and p.endpoint_url == "https://sdsc.osn.xsede.org"


def test_profiles_add_replace_keeps_the_comments_around_it():
    path = Path(os.environ["OBJSTORE_CONFIG"])
    toml('[profiles.first]  # mine\nbackend = "s3"\nregion = "x"\n\n# the team\'s\n'
         '[profiles.team]\nbackend = "s3"\n')
    run_cli("profiles", "add", "first", "--anonymous", "--replace")
    text = path.read_text()
    assert "[profiles.first]  # mine" in text and "# the team's\n" in text
    assert text.index("# the team's") < text.index("[profiles.team]")
    first = objstore.default_registry().get("first")
    assert first.anonymous and first.region is None


def test_profiles_add_hides_a_preset_only_with_force():
    result = CliRunner().invoke(app, ["profiles", "add", "osn", "--anonymous"])
    assert result.exit_code == 1 and "--force" in result.output
    assert objstore.default_registry().get("osn").source.kind == "preset"
    run_cli("profiles", "add", "osn", "--anonymous", "--force")
    assert objstore.default_registry().get("osn").source.kind == "toml"


def test_profiles_add_refuses_a_match_for_another_backend():
    with pytest.raises(ConfigError, match="is for gs:// URLs"):
        toml_file.add_profile(Path(os.environ["OBJSTORE_CONFIG"]), "mine",
                                                {"backend": "s3", "match": ["gs://b/*"]})
    assert not Path(os.environ["OBJSTORE_CONFIG"]).exists()


def test_profiles_show_sources_as_text(monkeypatch):
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="o")  # a short path: the table row stays on one line
    config = Path(folder) / "c"
    config.write_text("[default]\nregion = eu-west-1\n[profile team]\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    try:
        listing = run_cli("profiles")
        shown = run_cli("profiles", "show", "team")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert f"aws: {config} [default]" in listing and f"aws: {config} [profile team]" in listing
    assert f"source: aws: {config} [profile team]\n" in shown and "'kind'" not in shown


def test_a_missing_objstore_config_is_said(monkeypatch, tmp_path):
    monkeypatch.setenv("OBJSTORE_CONFIG", str(tmp_path / "nope.toml"))
    result = CliRunner().invoke(app, ["profiles", "show", "mine"])
    assert result.exit_code == 1
    assert f"{tmp_path / 'nope.toml'} (OBJSTORE_CONFIG names it; no such file)" in result.output


# ------------------------------------------------------------------------- Ctrl-C and bugs
class _Silent:
    """A TCP server that accepts connections and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connected = threading.Event()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            self.connected.set()

    def close(self) -> None:
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.mark.parametrize(("args", "hint"), [
    (["ls", "s3://bucket/"], ""),
    (["publish", "{cube}", "s3://bucket/cube.zarr"], "run the same objstore publish command again"),
])
def test_ctrl_c_is_one_line_and_exit_130(args, hint, tmp_path):
    import numpy as np
    import xarray as xr

    xr.Dataset({"t": ("x", np.arange(4.0))}).to_zarr(tmp_path / "cube.zarr", zarr_format=2)
    server = _Silent()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s",
           "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.port}", "AWS_DEFAULT_REGION": "us-east-1"}
    argv = [sys.executable, "-m", "objstore.cli", *(a.format(cube=tmp_path / "cube.zarr") for a in args)]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.connected.wait(60), "the command never reached the server"
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        server.close()
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 130, err
    assert len(lines) == 1 and lines[0].startswith("error: interrupted"), err
    assert hint in lines[0]


def test_a_bug_is_one_line_asking_for_a_report(monkeypatch):
    import objstore.cli.files as files

    def boom(*args, **kwargs):
        raise RuntimeError("something objstore did not expect")

    monkeypatch.setattr(files, "resolve", boom)
    result = CliRunner().invoke(app, ["ls", "s3://bucket/"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "unexpected RuntimeError: something objstore did not expect" in result.output
    assert "please report it" in result.output and "OBJSTORE_DEBUG=1" in result.output
    monkeypatch.setenv("OBJSTORE_DEBUG", "1")
    with pytest.raises(RuntimeError):
        CliRunner().invoke(app, ["ls", "s3://bucket/"], catch_exceptions=False)


def test_objstore_alone_prints_the_help_once():
    result = subprocess.run([sys.executable, "-m", "objstore.cli"], capture_output=True, text=True,
                            timeout=60)
    assert (result.stdout + result.stderr).count("Usage:") == 1


def test_library_logs_do_not_reach_the_terminal():
    """gcsfs logs its retries with a traceback; the command's one line is all a user sees."""
    script = (
        "import logging, sys, objstore.cli.files as files\n"
        "def listing(*args, **kwargs):\n"
        "    try:\n"
        "        raise ConnectionRefusedError(111, 'refused')\n"
        "    except OSError:\n"
        "        logging.getLogger('gcsfs').exception('_request out of retries')\n"
        "        raise\n"
        "files.resolve = listing\n"
        "sys.argv = ['objstore', 'ls', 'gs://bucket/']\n"
        "from objstore.cli import main\n"
        "main()\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert lines[0].startswith("error: unexpected ConnectionRefusedError")
