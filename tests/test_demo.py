"""``objstore demo PATH`` writes only to an empty place (or over its own earlier demo cube)."""

from __future__ import annotations

import xarray as xr
from typer.testing import CliRunner

import objstore
from objstore.cli import app


def _demo(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["demo", *args], env={"COLUMNS": "250"})


def _refused(result) -> str:  # type: ignore[no-untyped-def]
    out = result.output.strip()
    assert result.exit_code == 1, out
    # one error line (the console may wrap it at the terminal width), no traceback
    assert out.startswith("error:") and out.count("error:") == 1 and "Traceback" not in out, out
    return " ".join(out.split())


def test_demo_refuses_a_folder_holding_a_users_file(tmp_path):
    target = tmp_path / "mine"
    target.mkdir()
    (target / "thesis.txt").write_text("four years of work")
    line = _refused(_demo(str(target)))
    assert "already holds" in line and "thesis.txt" in line and "new path" in line
    assert (target / "thesis.txt").read_text() == "four years of work"
    assert [p.name for p in target.iterdir()] == ["thesis.txt"]


def test_demo_refuses_an_existing_cube(tmp_path, small_cube):
    url = str(tmp_path / "results.zarr")
    objstore.write_cube(small_cube, url)
    line = _refused(_demo(url))
    assert "already holds a zarr cube" in line
    xr.testing.assert_identical(objstore.open_cube(url).load(), small_cube.load())


def test_demo_refuses_a_non_empty_s3_prefix(s3_rig, monkeypatch):
    for k, v in s3_rig.env.items():
        monkeypatch.setenv(k, v)
    fs = objstore.filesystem(s3_rig.url(""), s3_rig.profile)
    fs.pipe_file(f"{s3_rig.bucket}/run1/data.nc", b"CDF\x01 not mine to delete")
    line = _refused(_demo(s3_rig.url("run1")))
    assert "data.nc" in line
    assert fs.cat_file(f"{s3_rig.bucket}/run1/data.nc") == b"CDF\x01 not mine to delete"


def test_demo_writes_an_empty_place_and_may_run_again_over_its_own_cube(tmp_path):
    url = str(tmp_path / "demo.zarr")
    for _ in range(2):
        result = _demo(url)
        assert result.exit_code == 0, result.output
        assert "round trip OK" in result.output
    assert objstore.open_cube(url).attrs["objstore_demo"]
