"""objstore serve from the command line: config files (TOML, YAML), URLs, --check, usage errors,
a running server that reloads its config on SIGHUP; encodings a format-3 endpoint cannot re-serve."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from serve_harness import Running
from typer.testing import CliRunner

from objstore.cli import app as cli
from objstore.errors import ConfigError
from objstore.serve import DatasetSpec, ServeConfig, app, config_from_urls, load_config


def _cube() -> xr.Dataset:
    rng = np.random.default_rng(3)
    return xr.Dataset(
        {"tas": (("time", "x"), rng.standard_normal((6, 10)).astype("float32"))},
        coords={"time": pd.date_range("2026-01-01", periods=6), "x": np.arange(10.0)},
    ).chunk({"time": 3})


@pytest.fixture
def nc(tmp_path: Path) -> Path:
    path = tmp_path / "air temp.nc"
    _cube().load().to_netcdf(path)
    return path


def test_toml_and_yaml_configs(tmp_path: Path, nc: Path) -> None:
    toml = tmp_path / "serve.toml"
    toml.write_text(f'[serve]\ntitle = "cubes"\nmax_chunk_mb = 8\n[datasets]\nplain = "{nc}"\n'
                    f'[datasets.rich]\nurl = "{nc}"\nprofile = "p"\ntitle = "Rich"\n'
                    'public = true\nopen = { decode_times = false }\n')
    cfg = load_config(toml)
    assert [d.id for d in cfg.datasets] == ["plain", "rich"]
    rich = cfg.datasets[1]
    assert (rich.profile, rich.title, rich.public, rich.open) == ("p", "Rich", True,
                                                                  {"decode_times": False})
    assert cfg.title == "cubes" and cfg.max_chunk_mb == 8 and cfg.source == str(toml)
    yaml = tmp_path / "serve.yaml"
    yaml.write_text(f"datasets:\n  plain: {nc}\n  rich:\n    url: {nc}\n    public: true\n")
    assert [d.public for d in load_config(yaml).datasets] == [False, True]


@pytest.mark.parametrize(("text", "words"), [
    ('[datasets]\n"../etc" = "/x.zarr"\n', "dataset id"),
    ("[datasets]\nx = 3\n", "needs a url"),
    ('[serve]\ntoken = "abc"\n', "token_file"),
    ('[serve]\nmax_chunk_mb = -1\n', "max_chunk_mb"),
    ("[datasets\n", "not valid TOML"),
    ('[other]\n', "unknown section"),
])
def test_bad_configs_say_what_to_fix(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "serve.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=words) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_ids_come_from_url_names() -> None:
    cfg = config_from_urls(["s3://b/run/air.zarr/", "gs://c/air.zarr", "/data/sea ice.nc"])
    assert [d.id for d in cfg.datasets] == ["air", "air-2", "sea-ice"]


def test_check_exits_0_when_every_dataset_opens_else_1(nc: Path) -> None:
    ok = CliRunner().invoke(cli, ["serve", "--check", str(nc)])
    assert ok.exit_code == 0 and "ok air-temp" in ok.output
    bad = CliRunner().invoke(cli, ["serve", "--check", str(nc), str(nc.parent / "missing.zarr")])
    assert bad.exit_code == 1
    assert "unavailable missing" in bad.output and "Traceback" not in bad.output


def test_usage_errors_exit_2() -> None:
    assert CliRunner().invoke(cli, ["serve"]).exit_code == 2
    result = CliRunner().invoke(cli, ["serve", "a.toml", "b.yaml"])
    assert result.exit_code == 2 and "one config file" in result.output


def test_bad_dask_address_is_one_line(nc: Path) -> None:
    result = CliRunner().invoke(cli, ["serve", str(nc), "--dask", "nonsense"])
    assert result.exit_code == 1 and "--dask takes 'local'" in result.output
    assert "Traceback" not in result.output


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_served_from_the_command_line_and_reloaded_on_sighup(tmp_path: Path, nc: Path) -> None:
    cfg = tmp_path / "serve.yaml"
    cfg.write_text(f"datasets:\n  first: {nc}\n")
    port = _free_port()
    exe = Path(sys.executable).parent / "objstore"
    proc = subprocess.Popen([str(exe), "serve", str(cfg), "--port", str(port), "--json-logs"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=os.environ)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: httpx.get(f"{url}/datasets").json() == ["first"])
        got = xr.open_dataset(f"{url}/datasets/first/zarr", engine="zarr")
        xr.testing.assert_equal(got.load(), _cube().load())
        cfg.write_text(f"datasets:\n  second: {nc}\n")
        proc.send_signal(signal.SIGHUP)
        _wait(lambda: httpx.get(f"{url}/datasets").json() == ["second"])
    finally:
        proc.terminate()
        out = proc.communicate(timeout=20)[0].decode()
    assert '"path": "/datasets/first/zarr/zarr.json"' in out and "Traceback" not in out


def _wait(cond, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        try:
            if cond():
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_encodings_the_format3_endpoint_cannot_reserve_are_translated(tmp_path: Path) -> None:
    import numcodecs

    path = tmp_path / "filtered.zarr"
    _cube().to_zarr(path, zarr_format=2, consolidated=True, encoding={"tas": {
        "compressors": [numcodecs.Zlib(level=3)], "filters": [numcodecs.Shuffle(elementsize=4)]}})
    running = Running(app(ServeConfig(datasets=[DatasetSpec(id="f", url=str(path))])))
    try:
        want = _cube().load()
        for route, kw in (("zarr", {}), ("zarr2", {"zarr_format": 2})):
            got = xr.open_dataset(f"{running.url}/datasets/f/{route}", engine="zarr", **kw)
            xr.testing.assert_equal(got.load(), want)
        got = xr.open_dataset(f"{running.url}/datasets/f/kerchunk", engine="kerchunk")
        xr.testing.assert_equal(got.load(), want)
        stored = (path / "tas" / "1.0").read_bytes()
        assert httpx.get(f"{running.url}/datasets/f/kerchunk/tas/1.0").content == stored
    finally:
        running.stop()


def test_an_unavailable_dataset_is_tried_again_in_the_background(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from objstore.serve import datasets

    monkeypatch.setattr(datasets, "RETRY_AFTER_S", 0.0)
    path = tmp_path / "late.zarr"
    running = Running(app(ServeConfig(datasets=[DatasetSpec(id="late", url=str(path))])))
    try:
        first = httpx.get(f"{running.url}/datasets/late/keys")
        assert first.status_code == 503 and "late.zarr" in first.json()["detail"]
        _cube().to_zarr(path, zarr_format=2, consolidated=True)
        _wait(lambda: httpx.get(f"{running.url}/datasets/late/keys").status_code == 200, 30)
    finally:
        running.stop()
