"""``publish`` on every backend (the parametrized ``rig``): NetCDF and zarr sources, refusal,
overwrite, resume after a killed upload, corruption detected, and the anonymous https read."""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from pydantic import SecretStr
from typer.testing import CliRunner

import objstore
import objstore.publish_stream as streamed
import objstore.transfer as transfer
from objstore.cli import app
from objstore.errors import CubeExistsError
from objstore.publish import MARKER, SourceError
from objstore.transfer import VerificationError, list_tree

REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------ helpers
def cf_netcdf(path: Path, ntime: int = 6) -> Path:
    """A small CF NetCDF file: a time axis with units/calendar, a packed variable, attributes."""
    rng = np.random.default_rng(1)
    ds = xr.Dataset(
        {
            "tas": (("time", "lat", "lon"), (270 + 20 * rng.random((ntime, 5, 6))).astype("f4"),
                    {"units": "K", "standard_name": "air_temperature", "cell_methods": "time: mean"}),
            "pr": (("time", "lat", "lon"), rng.gamma(1.0, 1.0, (ntime, 5, 6)),
                   {"units": "kg m-2 s-1", "standard_name": "precipitation_flux"}),
        },
        coords={
            "time": ("time", pd.date_range("2000-01-01", periods=ntime, freq="D"),
                     {"standard_name": "time"}),
            "lat": ("lat", np.linspace(-50, 50, 5), {"units": "degrees_north"}),
            "lon": ("lon", np.linspace(0, 300, 6), {"units": "degrees_east"}),
        },
        attrs={"Conventions": "CF-1.8", "title": "publish test", "institution": "objstore"},
    )
    ds["pr"].encoding = {"dtype": "int16", "scale_factor": 0.001, "add_offset": 0.0,
                         "_FillValue": -32767}
    ds["time"].encoding = {"units": "days since 1990-01-01", "calendar": "proleptic_gregorian"}
    ds.to_netcdf(path)
    return path


def local_zarr(ds: xr.Dataset, path: Path, *, consolidated: bool = True, fmt: int = 2) -> Path:
    ds.to_zarr(path, mode="w-", consolidated=consolidated, zarr_format=fmt)
    return path


def remote(rig: Any, key: str) -> dict[str, transfer.Item]:
    return list_tree(objstore.resolve(rig.url(key), rig.profile))


def big_cube(n: int = 400) -> xr.Dataset:
    rng = np.random.default_rng(7)
    return xr.Dataset(
        {"v": (("time", "x"), rng.random((n, 64)).astype("f4"), {"units": "1"})},
        coords={"time": np.arange(n)},
    ).chunk({"time": 1})


def write_profile_toml(path: Path, name: str, profile: Any) -> None:
    """The rig's authenticated profile as a [profiles.NAME] table (secrets unwrapped)."""
    import tomlkit

    table: dict[str, Any] = {"backend": profile.backend}
    for field in type(profile).model_fields:
        if field in ("name", "source", "backend"):
            continue
        value = getattr(profile, field)
        if value is None or value == type(profile).model_fields[field].default or value in ([], {}):
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, Path):
            value = str(value)
        table[field] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tomlkit.dumps({"profiles": {name: table}}).encode())


def cli_env(rig: Any, config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()}
    env.update(rig.env)
    env["OBJSTORE_CONFIG"] = str(config)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return env


# ------------------------------------------------------------------------------ sources
def test_publish_netcdf_keeps_cf_attributes_and_encodings(rig, tmp_path):
    nc = cf_netcdf(tmp_path / "tas.nc")
    url = rig.url("pub/tas.zarr")
    result = objstore.publish(nc, url, rig.profile, chunks="time=1")

    source = xr.open_dataset(nc)
    back = objstore.open_cube(url, rig.profile)
    xr.testing.assert_identical(back.load(), source.load())
    assert back.attrs["Conventions"] == "CF-1.8"
    assert back["tas"].attrs["standard_name"] == "air_temperature"
    assert back["time"].encoding["units"] == "days since 1990-01-01"
    assert back["time"].encoding["calendar"] == "proleptic_gregorian"
    assert back["pr"].encoding["dtype"] == np.dtype("int16")
    assert back["pr"].encoding["scale_factor"] == 0.001
    assert back["tas"].encoding["chunks"] == (1, 5, 6)  # --chunks time=1

    tree = remote(rig, "pub/tas.zarr")
    assert ".zmetadata" in tree and MARKER not in tree
    assert result.objects == len(tree) and result.bytes == sum(i.size for i in tree.values())
    assert result.skipped == 0 and result.uploaded == result.objects
    assert result.checksums == result.objects  # every backend here reports MD5s
    assert result.public_url is None


def test_publish_zarr_directory_consolidates_without_touching_the_source(rig, tmp_path, small_cube):
    src = local_zarr(small_cube, tmp_path / "src.zarr", consolidated=False)
    before = sorted(p.name for p in src.iterdir())
    url = rig.url("pub/dir.zarr")
    result = objstore.publish(src, url, rig.profile)

    assert any("consolidated metadata created" in n for n in result.notes)
    assert sorted(p.name for p in src.iterdir()) == before  # no .zmetadata written into SRC
    assert ".zmetadata" in remote(rig, "pub/dir.zarr")
    xr.testing.assert_identical(objstore.open_cube(url, rig.profile, consolidated=True).load(),
                                small_cube.compute())


def test_publish_dataset_in_python_zarr_format_3(rig, small_cube):
    url = rig.url("pub/v3.zarr")
    result = objstore.publish(small_cube, url, rig.profile, zarr_format=3)
    assert result.zarr_format == 3
    tree = remote(rig, "pub/v3.zarr")
    assert "zarr.json" in tree and ".zmetadata" not in tree
    xr.testing.assert_identical(objstore.open_cube(url, rig.profile).load(), small_cube.compute())


def test_stale_consolidated_metadata_is_rebuilt(rig, tmp_path, small_cube):
    src = local_zarr(small_cube, tmp_path / "stale.zarr")
    meta = json.loads((src / ".zmetadata").read_text())
    del meta["metadata"]["pr/.zarray"]  # a variable the consolidated metadata forgot
    (src / ".zmetadata").write_text(json.dumps(meta))
    result = objstore.publish(src, rig.url("pub/stale.zarr"), rig.profile)
    assert any("rebuilt" in n for n in result.notes)
    assert "pr" in objstore.open_cube(rig.url("pub/stale.zarr"), rig.profile, consolidated=True)


def test_not_a_cube_is_refused_before_any_upload(rig, tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "a.txt").write_text("x")
    with pytest.raises(SourceError, match="not a zarr store"):
        objstore.publish(folder, rig.url("pub/plain.zarr"), rig.profile)
    assert remote(rig, "pub/plain.zarr") == {}


# ------------------------------------------------------------------------------ no accidents
def test_refuses_an_existing_name_and_says_what_is_there(rig, small_cube):
    url = rig.url("pub/keep.zarr")
    objstore.publish(small_cube, url, rig.profile)
    before = remote(rig, "pub/keep.zarr")
    with pytest.raises(CubeExistsError, match=r"already holds a zarr cube: \d+ objects.*--overwrite"):
        objstore.publish(small_cube * 2, url, rig.profile)
    after = remote(rig, "pub/keep.zarr")
    assert {k: v.md5 for k, v in after.items()} == {k: v.md5 for k, v in before.items()}
    xr.testing.assert_identical(objstore.open_cube(url, rig.profile).load(), small_cube.compute())

    # objects that are not a cube (and not an interrupted publish) are refused too
    r = objstore.resolve(rig.url("pub/other/notes.txt"), rig.profile)
    r.fs.pipe(r.path, b"mine")
    with pytest.raises(CubeExistsError, match="not a zarr cube"):
        objstore.publish(small_cube, rig.url("pub/other"), rig.profile)


def test_the_same_zarr_folder_again_is_harmless(rig, tmp_path, small_cube):
    src = local_zarr(small_cube, tmp_path / "same.zarr")
    url = rig.url("pub/same.zarr")
    first = objstore.publish(src, url, rig.profile)
    again = objstore.publish(src, url, rig.profile)  # nothing to convert: compared, not refused
    assert again.uploaded == 0 and again.skipped == again.objects == first.objects
    assert any("already there and identical" in n for n in again.notes)


def test_overwrite_removes_old_metadata_first_and_puts_consolidated_last(rig, small_cube,
                                                                         monkeypatch):
    url = rig.url("pub/swap.zarr")
    objstore.publish(small_cube, url, rig.profile)
    new = small_cube[["tas"]].isel(time=slice(0, 4)) + 1  # fewer variables, other shape

    pub = importlib.import_module("objstore.publish")  # the module (objstore.publish is the function)
    ops: list[tuple[str, str]] = []
    real_send, real_delete = pub.send, pub.delete

    def send(items, *a, **k):
        items = list(items)
        ops.extend(("put", i.rel) for i in items)
        return real_send(items, *a, **k)

    def delete(r, paths):
        paths = list(paths)
        ops.extend(("delete", p.rsplit("/", 1)[-1]) for p in paths)
        return real_delete(r, paths)

    monkeypatch.setattr(pub, "send", send)
    monkeypatch.setattr(pub, "delete", delete)
    result = objstore.publish(new, url, rig.profile, overwrite=True)

    assert ops[0] == ("put", MARKER)
    assert ops[1] == ("delete", ".zmetadata")  # readers lose the old cube before anything changes
    puts = [rel for op, rel in ops if op == "put" and rel != MARKER]
    assert puts[-1] == ".zmetadata" and puts[-2:-1] in ([".zattrs"], [".zgroup"])
    assert ops[-1] == ("delete", MARKER)
    assert result.deleted > 0
    tree = remote(rig, "pub/swap.zarr")
    assert not any(k.startswith(("pr/", "mask/")) for k in tree)  # stale variables are gone
    xr.testing.assert_identical(objstore.open_cube(url, rig.profile).load(), new.compute())


@pytest.mark.parametrize("source", ["dataset", "folder"])  # streamed, and uploaded from files
def test_corrupted_upload_is_detected_and_leaves_the_cube_unpublished(rig, small_cube, monkeypatch,
                                                                      tmp_path, source):
    url = rig.url("pub/bad.zarr")
    src = small_cube if source == "dataset" else local_zarr(small_cube, tmp_path / "bad.zarr")
    real, real_put = transfer._put_bytes, streamed._put

    def spoil(data: bytes) -> bytes:
        return bytes([data[0] ^ 0xFF]) + data[1:]  # same size, different bytes

    async def corrupt(fs, rpath, data, kwargs):
        await real(fs, rpath, spoil(data) if rpath.endswith("tas/1.0.0") else data, kwargs)

    async def corrupt_streamed(store, key, value):
        if key == "tas/1.0.0":
            value = type(value).from_bytes(spoil(value.to_bytes()))
        await real_put(store, key, value)

    monkeypatch.setattr(transfer, "_put_bytes", corrupt)
    monkeypatch.setattr(streamed, "_put", corrupt_streamed)
    with pytest.raises(VerificationError, match=r"left unpublished.*tas/1\.0\.0: MD5 "):
        objstore.publish(src, url, rig.profile)
    tree = remote(rig, "pub/bad.zarr")
    assert ".zmetadata" not in tree and ".zgroup" not in tree
    with pytest.raises((FileNotFoundError, KeyError, ValueError)):
        xr.open_zarr(objstore.store(url, rig.profile, read_only=True), consolidated=True)

    monkeypatch.setattr(transfer, "_put_bytes", real)  # the re-run repairs exactly that object
    monkeypatch.setattr(streamed, "_put", real_put)
    fixed = objstore.publish(src, url, rig.profile)
    assert fixed.uploaded == 1 + 3  # tas/1.0.0, then .zgroup, .zattrs, .zmetadata
    xr.testing.assert_identical(objstore.open_cube(url, rig.profile).load(), small_cube.compute())


def test_resume_after_the_upload_is_killed(rig, tmp_path):
    ds = big_cube(400)
    src = local_zarr(ds, tmp_path / "big.zarr")
    total = sum(1 for p in src.rglob("*") if p.is_file())
    config = tmp_path / "cfg" / "profiles.toml"
    write_profile_toml(config, "rig", rig.profile)
    env = cli_env(rig, config)
    url = rig.url("pub/big.zarr")
    slow = (  # the real CLI, with each PUT held back 20 ms so the kill lands mid-upload
        "import asyncio, sys\n"
        "import objstore.transfer as t\n"
        "real = t._put_bytes\n"
        "async def slow(*a):\n"
        "    await asyncio.sleep(0.02)\n"
        "    await real(*a)\n"
        "t._put_bytes = slow\n"
        "from objstore.cli import main\n"
        "sys.argv = ['objstore', *sys.argv[1:]]\n"
        "main()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", slow, "publish", str(src), url, "--profile",
                             "rig", "-j", "4", "--json"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if len(remote(rig, "pub/big.zarr")) >= 60:
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(10)
    time.sleep(0.3)
    landed = remote(rig, "pub/big.zarr")
    assert MARKER in landed and ".zmetadata" not in landed  # interrupted, and never half-published
    landed.pop(MARKER)
    assert 60 <= len(landed) < total

    out = subprocess.run([sys.executable, "-m", "objstore.cli", "publish", str(src), url,
                          "--profile", "rig", "--json"], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert set(result) == {"url", "public_url", "objects", "bytes", "skipped"}
    assert result["objects"] == total and result["public_url"] is None
    assert len(landed) - 4 <= result["skipped"] <= len(landed)  # in-flight PUTs may have landed
    final = remote(rig, "pub/big.zarr")
    assert MARKER not in final and len(final) == total
    xr.testing.assert_identical(objstore.open_cube(url, rig.profile).load(), ds.compute())


# ------------------------------------------------------------------------------ public
def test_public_cube_reads_anonymously_over_https(rig, tmp_path):
    nc = cf_netcdf(tmp_path / "pub.nc")
    url = rig.url("pub/open.zarr")
    result = objstore.publish(nc, url, rig.profile, public=True, chunks="time=2")

    assert result.public_url and result.public_url.startswith(("http://", "https://"))
    assert result.public_url.rstrip("/").endswith("pub/open.zarr")
    # a reader: no credentials, plain fsspec + xarray over https
    plain = xr.open_zarr(fsspec.get_mapper(result.public_url), consolidated=True)
    xr.testing.assert_identical(plain.load(), xr.open_dataset(nc).load())
    with urllib.request.urlopen(result.public_url + "/.zmetadata", timeout=10) as resp:
        assert resp.status == 200  # a bare anonymous GET
    # the two lines the reader pastes, run as they are
    lines = result.snippet.splitlines()
    assert len(lines) == 2 and "fsspec" in lines[0] and "objstore.open_cube" in lines[1]
    for line in lines:
        scope: dict[str, Any] = {}
        exec(line, scope)
        xr.testing.assert_identical(scope["ds"].load(), xr.open_dataset(nc).load())
    assert any("anonymous read" in n for n in result.notes)


# ------------------------------------------------------------------------------ the CLI
def test_cli_publish_json_and_refusal(rig, tmp_path, monkeypatch):
    nc = cf_netcdf(tmp_path / "cli.nc")
    config = tmp_path / "cfg" / "profiles.toml"
    write_profile_toml(config, "rig", rig.profile)
    monkeypatch.setenv("OBJSTORE_CONFIG", str(config))
    url = rig.url("pub/cli.zarr")
    runner = CliRunner()
    ok = runner.invoke(app, ["publish", str(nc), url, "--profile", "rig", "--json",
                             "--chunks", "time=1"])
    assert ok.exit_code == 0, ok.output
    data = json.loads(ok.stdout)
    assert data == {"url": url, "public_url": None, "objects": data["objects"],
                    "bytes": data["bytes"], "skipped": 0}
    assert data["objects"] == len(remote(rig, "pub/cli.zarr"))

    refused = runner.invoke(app, ["publish", str(nc), url, "--profile", "rig", "--chunks",
                                  "time=2"])
    assert refused.exit_code == 1
    assert "already holds a zarr cube" in refused.output and "Traceback" not in refused.output

    replaced = runner.invoke(app, ["publish", str(nc), url, "--profile", "rig", "--chunks",
                                   "time=2", "--overwrite", "--public"])
    assert replaced.exit_code == 0, replaced.output
    assert "published" in replaced.stdout and "public URL" in replaced.stdout
    assert "xr.open_zarr(fsspec.get_mapper(" in replaced.stdout
    assert "objstore.open_cube(" in replaced.stdout
