"""Plots, group-by diagnostics and pages: the library, the CLI, the xpublish routes on a real
server (uvicorn), and the landing page in headless Chromium."""

from __future__ import annotations

import io
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from cli_runner import run_cli
from fastapi import HTTPException
from PIL import Image
from typer.testing import CliRunner
from xpublish import Plugin, hookimpl

import objstore
from objstore import views
from objstore.cli import app
from objstore.errors import ViewError, ViewTooLargeError
from objstore.views.groupby import groupby, prepare_groupby
from objstore.views.plot import prepare, render, visible
from objstore.views.selection import parse_selection, select

VIRIDIS_TOP = (253, 231, 37)  # viridis at 1.0
VIRIDIS_BOTTOM = (68, 1, 84)  # viridis at 0.0


@pytest.fixture
def field() -> xr.Dataset:
    """A known field: its maximum fills the north-east corner, its minimum the south-west."""
    lat = np.linspace(-60.0, 60.0, 25)
    lon = np.linspace(-180.0, 175.0, 72)
    time = pd.date_range("2026-01-01", periods=90, freq="D")
    ramp = np.clip((lat[:, None] + 60) / 120 + (lon[None, :] + 180) / 355, 0.6, 1.4)  # SW low
    seasonal = np.sin(np.arange(90) / 90 * np.pi)[:, None, None]
    return xr.Dataset(
        {"air": (("time", "lat", "lon"), 280 + 10 * ramp[None] + seasonal,
                 {"units": "K", "long_name": "air temperature"})},
        coords={"time": time, "lat": ("lat", lat, {"units": "degrees_north"}),
                "lon": ("lon", lon, {"units": "degrees_east"})},
        attrs={"title": "known field"},
    ).chunk({"time": 30})


def decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def near(img: np.ndarray, colour: tuple[int, int, int], tol: int = 12) -> np.ndarray:
    return (np.abs(img - np.array(colour)).max(axis=2) <= tol)


def assert_extrema_where_the_data_has_them(png: bytes, width: int, height: int) -> None:
    img = decode(png)
    assert img.shape == (height, width, 3)
    assert img.std() > 20, "the image is blank"
    plot_area = img[:, : int(width * 0.75)]  # the colorbar, right of the map, holds every colour
    ys, xs = np.nonzero(near(plot_area, VIRIDIS_TOP))
    assert len(xs) > 10
    assert xs.mean() > plot_area.shape[1] * 0.5 and ys.mean() < height * 0.5  # north-east
    ys, xs = np.nonzero(near(plot_area, VIRIDIS_BOTTOM))
    assert len(xs) > 10
    assert xs.mean() < plot_area.shape[1] * 0.5 and ys.mean() > height * 0.5  # south-west


# --- the library ---------------------------------------------------------------------------

def test_map_has_the_requested_size_and_its_extrema_where_the_data_has_them(field):
    png = render(field, "air", "map", "viridis", "time=2026-01-15", width=640, height=400, dpi=80)
    assert_extrema_where_the_data_has_them(png, 640, 400)


@pytest.mark.parametrize("kind,sel", [("contourf", "time=[0]"), ("line", "lat=0/lon=0"),
                                      ("hist", "time=2026-01:2026-02")])
def test_every_kind_draws_something(field, kind, sel):
    img = decode(render(field, "air", kind, "plasma", sel, width=300, height=200, dpi=50))
    assert img.shape == (200, 300, 3) and img.std() > 20


def test_svg_output_shows_attributes_as_text_only(field):
    field["air"].attrs["long_name"] = "<script>alert(1)</script> $\\frac{1}{0}$"
    svg = render(field, "air", "map", "viridis", "time=[0]", fmt="svg", title="<b>x</b>")
    assert svg.startswith(b"<?xml") and b"<svg" in svg
    assert b"<script" not in svg and b"&lt;script&gt;" in svg and b"<b>" not in svg
    assert b"$\\frac{1}{0}$ [K]" in svg  # shown as typed, not parsed as math


def test_a_large_map_is_thinned_to_what_the_picture_can_show():
    lat, lon = np.linspace(-90, 90, 1800), np.linspace(-180, 180, 3600)
    ramp = np.clip((lat[:, None] + 90) / 180 + (lon[None, :] + 180) / 360, 0.6, 1.4)
    big = xr.Dataset({"t": (("lat", "lon"), ramp.astype("float32"))},
                     coords={"lat": lat, "lon": lon}).chunk({"lat": 600, "lon": 1200})
    shown = visible(prepare(big, "t", "map"), 400, 250)
    assert shown.sizes["lat"] <= 500 and shown.sizes["lon"] <= 800
    assert_extrema_where_the_data_has_them(render(big, "t", width=400, height=250, dpi=50),
                                           400, 250)


@pytest.mark.parametrize("text,sizes", [
    ("time=2026-01-15", {"lat": 25, "lon": 72}),
    ("time=2026-01-15T11:00", {"lat": 25, "lon": 72}),
    ("time=[3],lat=-10:10", {"lat": 5, "lon": 72}),
    ("time=2026-02:2026-03/lat=[0:2]/lon=[-1]", {"time": 59, "lat": 2}),
    ("lat=59.9", {"time": 90, "lon": 72}),
])
def test_selection_by_label_date_and_position(field, text, sizes):
    assert dict(select(field["air"], parse_selection(text)).sizes) == sizes


@pytest.mark.parametrize("calendar", ["noleap", "360_day"])
def test_model_calendars_select_plot_and_group(calendar):
    time = xr.date_range("2000-01-01", periods=90, freq="D", calendar=calendar, use_cftime=True)
    ds = xr.Dataset({"tas": (("time", "lat"), np.random.default_rng(1).standard_normal((90, 5)))},
                    coords={"time": time, "lat": np.arange(5.0)})
    assert select(ds["tas"], parse_selection("time=2000-01-15")).sizes == {"lat": 5}
    assert select(ds["tas"], parse_selection("time=2000-02:2000-03")).sizes["time"] == (
        59 if calendar == "noleap" else 60)
    img = decode(render(ds, "tas", "line", "viridis", "lat=0", width=300, height=200, dpi=50))
    assert img.std() > 20
    local = ds["tas"].groupby("time.month").mean()
    xr.testing.assert_allclose(groupby(ds, "tas", "time.month", "mean").drop_attrs(), local)


def test_descending_coordinates_take_ranges_in_either_order(field):
    flipped = field.isel(lat=slice(None, None, -1))
    assert select(flipped["air"], parse_selection("lat=-10:10")).sizes["lat"] == 5


@pytest.mark.parametrize("text,message", [
    ("level=3", "no dimension 'level'.*time, lat, lon"),
    ("time=1999-01-01", "outside time"),
    ("time=soon", "holds dates"),
    ("lat=north", "as a number"),
    ("lat=nan", "finite"),
    ("lat=100:200", "selects nothing"),
    ("time=[90]", "outside time"),
    ("time=[1]/time=[2]", "more than once"),
    ("__import__('os')", "cannot read selection"),
    ("time.__class__=1", "no dimension"),
    ("../../etc/passwd", "cannot read selection"),
    ("lat=", "no value"),
    ("lat=[x]", "cannot read position"),
])
def test_bad_selections_say_what_is_wrong(field, text, message):
    with pytest.raises(ViewError, match=message):
        select(field["air"], parse_selection(text))


def test_a_map_of_a_3d_variable_asks_for_the_missing_selection(field):
    with pytest.raises(ViewError, match="select time too, e.g. time=2026-01-01") as exc:
        prepare(field, "air", "map", "viridis", None)
    assert exc.value.status == 400
    with pytest.raises(ViewError, match="select lat, lon too"):
        prepare(field, "air", "line", "viridis", None)


@pytest.mark.parametrize("args,message", [
    (("nope", "map", "viridis"), "unknown variable 'nope'.*air"),
    (("air", "pie", "viridis"), "unknown plot kind 'pie'.*map, pcolormesh, contourf, line, hist"),
    (("air", "map", "viridsi"), "unknown colormap 'viridsi': try viridis"),
    (("air", "map", "__import__('os')"), "unknown colormap"),
])
def test_unknown_names_are_refused_with_the_choices(field, args, message):
    with pytest.raises(ViewError, match=message):
        prepare(field, *args, "time=[0]")


@pytest.mark.parametrize("size", [dict(width=10**6), dict(height=1), dict(dpi=100000)])
def test_image_size_is_bounded(field, size):
    with pytest.raises(ViewError, match="out of bounds"):
        render(field, "air", "map", "viridis", "time=[0]", **size)


@pytest.mark.parametrize("coord", ["time.month", "time.season", "time.year", "lat"])
@pytest.mark.parametrize("action", ["mean", "median", "count", "std", "max"])
def test_groupby_equals_xarray_locally(field, coord, action):
    ours = groupby(field, "air", coord, action)
    grouped = field["air"].groupby(coord)
    local = {"mean": grouped.mean, "median": grouped.median, "count": grouped.count,
             "std": grouped.std, "max": grouped.max}[action]().compute()
    xr.testing.assert_allclose(ours.drop_attrs(), local.drop_attrs())


def test_groupby_with_a_selection(field):
    ours = groupby(field, "air", "time.month", "mean", "lat=0/lon=0:10")
    local = field["air"].sel(lat=0, method="nearest").sel(lon=slice(0, 10))
    xr.testing.assert_allclose(ours.drop_attrs(), local.groupby("time.month").mean().drop_attrs())


@pytest.mark.parametrize("coord,action,message", [
    ("time.__class__", "mean", "unknown date part"),
    ("__import__('os')", "mean", "no coordinate"),
    ("time.month", "__import__('os').system('id')", "unknown action"),
    ("lat.month", "mean", "does not hold dates"),
    ("time.month", "apply", "unknown action"),
])
def test_groupby_takes_names_from_whitelists_only(field, coord, action, message):
    with pytest.raises(ViewError, match=message):
        prepare_groupby(field, "air", coord, action)


def test_groupby_result_size_is_bounded(field):
    with pytest.raises(ViewTooLargeError, match="over the limit") as exc:
        prepare_groupby(field, "air", "time", "mean", max_result_bytes=2**20)
    assert exc.value.status == 413


# --- the CLI -------------------------------------------------------------------------------

def test_cli_plot_gives_the_same_picture_as_the_library(s3_rig, field, tmp_path, monkeypatch):
    url = s3_rig.url("cubes/field.zarr")
    objstore.write_cube(field, url, profile=s3_rig.profile)
    for k, v in s3_rig.env.items():
        monkeypatch.setenv(k, v)
    out = tmp_path / "air.png"
    printed = run_cli("plot", url, "air", "--sel", "time=2026-01-15", "-o", str(out),
                      "--width", "640", "--height", "400", "--dpi", "80")
    assert f"wrote {out}" in printed
    assert_extrema_where_the_data_has_them(out.read_bytes(), 640, 400)
    local = render(objstore.open_cube(url), "air", "map", "viridis", "time=2026-01-15",
                   width=640, height=400, dpi=80)
    assert np.array_equal(decode(out.read_bytes()), decode(local))


@pytest.mark.parametrize("args,message", [
    (["air", "--sel", "time=[0]", "--cmap", "nope"], "unknown colormap 'nope'"),
    (["air"], "select time too"),
    (["tas", "--sel", "time=[0]"], "unknown variable 'tas'"),
    (["air", "--sel", "time=[0]", "-o", "air.jpg"], "must end in .png or .svg"),
    (["air", "--sel", "time=[0]", "-o", "exists.png"], "already exists.*--force"),
])
def test_cli_plot_errors_are_one_line(s3_rig, field, tmp_path, monkeypatch, args, message):
    url = s3_rig.url("field.zarr")
    objstore.write_cube(field, url, profile=s3_rig.profile)
    for k, v in s3_rig.env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exists.png").write_bytes(b"keep me")
    result = CliRunner().invoke(app, ["plot", url, *args], env={"COLUMNS": "250"})
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and re.search(message, lines[0]) and "Traceback" not in result.output
    assert (tmp_path / "exists.png").read_bytes() == b"keep me"


# --- the routes, on a real server ----------------------------------------------------------

@contextmanager
def serving(datasets: dict[str, xr.Dataset], plugins: list | None = None) -> Iterator[str]:
    """``xpublish.Rest(datasets)`` with the view plugins, run by uvicorn on a free port."""
    import uvicorn
    import xpublish

    chosen = plugins if plugins is not None else views.plugins(title="views test")
    app = xpublish.Rest(datasets, plugins={p.name: p for p in chosen}).app
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def served(field) -> Iterator[httpx.Client]:
    with serving({"air": field}) as base, httpx.Client(base_url=base, timeout=60) as client:
        yield client


def test_plot_route_png_at_the_requested_size_with_extrema_and_caching(served):
    path = "/datasets/air/plot/air/map/viridis/time=2026-01-15"
    r = served.get(path, params={"width": 640, "height": 400, "dpi": 80})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert_extrema_where_the_data_has_them(r.content, 640, 400)
    assert "max-age" in r.headers["cache-control"]
    again = served.get(path, params={"width": 640, "height": 400, "dpi": 80},
                       headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    other = served.get(path, params={"width": 641, "height": 400, "dpi": 80},
                       headers={"If-None-Match": r.headers["etag"]})
    assert other.status_code == 200 and other.headers["etag"] != r.headers["etag"]


def test_plot_route_svg_and_other_kinds(served):
    r = served.get("/datasets/air/plot/air/contourf/magma/time=[0]", params={"format": "svg"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert r.headers["content-security-policy"].startswith("default-src 'none'")
    assert b"air temperature [K]" in r.content
    r = served.get("/datasets/air/plot/air/line/viridis/lat=0,lon=0")
    assert r.status_code == 200 and decode(r.content).std() > 20


def test_groupby_route_json_equals_xarray_locally(served, field):
    r = served.get("/datasets/air/groupby/air/time.month/mean")
    assert r.status_code == 200 and r.headers["etag"]
    body = r.json()
    local = field["air"].groupby("time.month").mean().compute()
    assert body["dims"] == ["month", "lat", "lon"] and body["coords"]["month"] == [1, 2, 3]
    np.testing.assert_allclose(np.array(body["data"]), local.values)
    assert body["attrs"]["units"] == "K" and body["action"] == "mean"


def test_groupby_route_with_selection_as_netcdf_zarr_and_png(served, field, tmp_path):
    import zarr

    local = field["air"].sel(lat=0, lon=0, method="nearest").groupby("time.season").max()
    base = "/datasets/air/groupby/air/time.season/max/lat=0/lon=0"
    nc = served.get(base, params={"format": "netcdf"})
    assert nc.status_code == 200 and "air-time.season-max.nc" in nc.headers["content-disposition"]
    (tmp_path / "r.nc").write_bytes(nc.content)
    with xr.open_dataset(tmp_path / "r.nc") as back:
        np.testing.assert_allclose(back["air"].values, local.values)
    zipped = served.get(base, params={"format": "zarr"})
    (tmp_path / "r.zip").write_bytes(zipped.content)
    back = xr.open_zarr(zarr.storage.ZipStore(tmp_path / "r.zip", mode="r"), consolidated=False)
    np.testing.assert_allclose(back["air"].values, local.values)
    png = served.get(base, params={"format": "png"})
    assert png.status_code == 200 and decode(png.content).std() > 20


def test_groupby_route_answers_413_over_the_size_limit(field):
    from objstore.views.routes import GroupByPlugin

    with serving({"air": field}, [GroupByPlugin(max_result_bytes=2**16)]) as base:
        r = httpx.get(f"{base}/datasets/air/groupby/air/time/mean", timeout=60)
        assert r.status_code == 413 and "over the limit" in r.json()["detail"]
        assert httpx.get(f"{base}/datasets/air/groupby/air/time/mean/lat=0",
                         timeout=60).status_code == 200


def test_a_long_computation_does_not_hold_up_other_requests(field):
    def slow(block: np.ndarray) -> np.ndarray:
        time.sleep(2.0)
        return block

    data = field["air"].data.map_blocks(slow, dtype=field["air"].dtype)
    slow_ds = field.assign(air=field["air"].copy(data=data))
    with serving({"air": slow_ds}) as base, ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        groupby = pool.submit(httpx.get, f"{base}/datasets/air/groupby/air/time.month/mean",
                              timeout=120)
        time.sleep(0.3)
        assert httpx.get(f"{base}/datasets", timeout=60).json() == ["air"]
        answered = time.monotonic() - started
        assert groupby.result().status_code == 200
        finished = time.monotonic() - started
    assert answered < finished - 1.0, (answered, finished)


def test_groupby_and_plots_run_on_the_servers_dask_cluster(field):
    from distributed import Client, LocalCluster, get_task_stream

    cluster = LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                           dashboard_address=None)
    with Client(cluster, set_as_default=True) as client, serving({"air": field}) as base:
        with get_task_stream(client) as tasks:
            body = httpx.get(f"{base}/datasets/air/groupby/air/time.season/mean/lat=0",
                             timeout=60).json()
            png = httpx.get(f"{base}/datasets/air/plot/air/map/viridis/time=[5]", timeout=60)
        local = field["air"].sel(lat=0).groupby("time.season").mean().compute(scheduler="sync")
        np.testing.assert_allclose(np.array(body["data"]), local.values)
        assert png.status_code == 200
        assert len(tasks.data) > 0  # the cluster computed them
    cluster.close()


def test_a_store_failing_during_a_read_answers_502_for_that_request_only(field):
    def broken(block: np.ndarray) -> np.ndarray:
        raise ConnectionResetError("peer reset, key=SECRET123")

    data = field["air"].data.map_blocks(broken, dtype=field["air"].dtype)
    with serving({"down": field.assign(air=field["air"].copy(data=data)), "up": field}) as base:
        r = httpx.get(f"{base}/datasets/down/plot/air/map/viridis/time=[0]", timeout=60)
        assert r.status_code == 502 and "ConnectionResetError" in r.json()["detail"]
        assert "SECRET123" not in r.text
        ok = httpx.get(f"{base}/datasets/up/plot/air/map/viridis/time=[0]", timeout=60)
        assert ok.status_code == 200


BAD_REQUESTS = [
    "/datasets/air/plot/__import__('os')/map/viridis/time=[0]",
    "/datasets/air/plot/air/__import__('os')/viridis/time=[0]",
    "/datasets/air/plot/air/map/__import__('os')/time=[0]",
    "/datasets/air/plot/air/map/viridis/__import__('os').system('id')",
    "/datasets/air/plot/air/map/viridis/time.__class__=1",
    "/datasets/air/plot/air/map/viridis/time=__import__('os')",
    "/datasets/air/plot/air/map/viridis/..%2f..%2fetc%2fpasswd",
    "/datasets/air/plot/air/map/viridis/time=[0]/..%2f..",
    "/datasets/..%2f..%2fetc/plot/air/map/viridis/time=[0]",
    "/datasets/nope/plot/air/map/viridis/time=[0]",
    "/datasets/air/plot/air/map/viridis/time=[0]?dpi=100000",
    "/datasets/air/plot/air/map/viridis/time=[0]?width=1000000&height=1000000",
    "/datasets/air/plot/air/map/viridis/time=[0]?width=1e9",
    "/datasets/air/plot/air/map/viridis/time=[0]?format=exe",
    "/datasets/air/plot/air/pie/viridis/time=[0]",
    "/datasets/air/plot/air/map/not_a_cmap/time=[0]",
    "/datasets/air/plot/air/map/viridis/level=3",
    "/datasets/air/plot/air/map/viridis",
    "/datasets/air/groupby/air/time.__class__/mean",
    "/datasets/air/groupby/air/__import__('os')/mean",
    "/datasets/air/groupby/air/time.month/__import__('os').system('id')",
    "/datasets/air/groupby/air/time.month/eval",
    "/datasets/__class__/groupby/air/time.month/mean",
    "/datasets/air/groupby/__class__/time.month/mean",
    "/datasets/air/groupby/air/time.month/mean?format=pickle",
    "/datasets/air/groupby/air/time.month/mean/time=nope",
    "/datasets/air/groupby/air/time.month/mean/..%2f..%2f",
    "/datasets/air/groupby/air/time.month/mean?format=png",  # 3-D result: asks for a selection
]


@pytest.mark.parametrize("path", BAD_REQUESTS)
def test_injection_and_bad_requests_get_4xx_with_a_clear_message(served, path):
    r = served.get(path)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    detail = r.json()["detail"]
    assert detail and "Traceback" not in r.text


def test_the_plot_route_on_cubes_from_every_backend(rig, field):
    url = rig.url("views/field.zarr")
    objstore.write_cube(field.isel(time=slice(0, 30)), url, profile=rig.profile)
    cube = objstore.open_cube(url, profile=rig.profile)
    with serving({"cube": cube}) as base, httpx.Client(base_url=base, timeout=60) as client:
        r = client.get("/datasets/cube/plot/air/map/viridis/time=2026-01-15",
                       params={"width": 500, "height": 320, "dpi": 64})
        assert r.status_code == 200, r.text
        assert_extrema_where_the_data_has_them(r.content, 500, 320)
        body = client.get("/datasets/cube/groupby/air/time.month/mean/lat=0").json()
        local = field["air"].isel(time=slice(0, 30)).sel(lat=0).groupby("time.month").mean()
        np.testing.assert_allclose(np.array(body["data"]), local.values)


# --- the pages, in headless Chromium ------------------------------------------------------
# The pages hold no script, and their Content-Security-Policy (default-src 'none') forbids any:
# what Chromium shows is what a browser with JavaScript off shows.

DOCS_IMG = Path(__file__).resolve().parents[1] / "docs" / "img"
#: read at import: the isolated_env fixture clears OBJSTORE_* variables before each test
SAVE_SCREENSHOTS = bool(os.environ.get("OBJSTORE_DOCS_SCREENSHOTS"))
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--window-size=1200,900", "--virtual-time-budget=20000"]


def browse(url: str, tmp_path: Path, name: str) -> tuple[str, np.ndarray]:
    """The DOM and a screenshot of ``url`` in Debian's headless Chromium.
    With OBJSTORE_DOCS_SCREENSHOTS=1 the screenshot is kept as docs/img/<name>.png."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("Chromium is not installed: run scripts/install-servers.sh")
    dom = subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'dom'}",
                          "--dump-dom", url], capture_output=True, text=True, timeout=180)
    shot = tmp_path / f"{name}.png"
    run = subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'shot'}",
                          f"--screenshot={shot}", url], capture_output=True, text=True, timeout=180)
    assert shot.exists(), run.stderr[-2000:]
    if SAVE_SCREENSHOTS:
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, DOCS_IMG / f"{name}.png")
    return dom.stdout, decode(shot.read_bytes())


class BrokenProvider(Plugin):
    """A provider whose dataset is down, as objstore serve reports one."""

    name: str = "broken-provider"

    @hookimpl
    def get_datasets(self) -> list[str]:
        return ["broken"]

    @hookimpl
    def get_dataset(self, dataset_id: str) -> xr.Dataset | None:
        if dataset_id == "broken":
            raise HTTPException(503, detail="dataset 'broken' is unavailable: backend down")
        return None


@pytest.fixture
def gallery(field) -> Iterator[str]:
    field = field.assign_attrs(title="Air temperature, a known field",
                               description="<script>alert('attrs are untrusted')</script>")
    flat = field.isel(time=0).assign_attrs(title="One day", description="A 2-D map")
    with serving({"air": field, "flat": flat},
                 [*views.plugins(title="objstore views"), BrokenProvider()]) as base:
        yield base


def test_landing_page_in_chromium_lists_datasets_with_thumbnails(gallery, tmp_path):
    dom, shot = browse(gallery + "/", tmp_path, "views-landing")
    for dataset_id in ("air", "flat", "broken"):
        assert f'data-dataset="{dataset_id}"' in dom
    assert "Air temperature, a known field" in dom and "One day" in dom
    assert 'src="datasets/air/plot/air/map/viridis/time=%5B0%5D?width=360' in dom
    assert 'src="datasets/flat/plot/air/map/viridis?width=360' in dom
    assert "time: 90 · lat: 25 · lon: 72" in dom and "1.2 MiB" in dom
    assert f'xr.open_dataset("{gallery}/datasets/air/zarr", engine="zarr", chunks="auto")' in dom
    assert f'xr.open_dataset("{gallery}/datasets/air/kerchunk", engine="kerchunk"' in dom
    assert f'intake.open_catalog("{gallery}/intake.yaml")["air"].to_dask()' in dom
    assert f'pystac.Collection.from_file("{gallery}/stac-collection-all.json")' in dom
    assert "backend down" in dom  # the dataset that is down is listed, the page still loads
    assert "<script" not in dom and "&lt;script&gt;alert" in dom
    assert shot.shape == (900, 1200, 3) and shot.std() > 20
    assert near(shot, VIRIDIS_TOP).sum() > 200  # the thumbnails loaded and show the field


def test_dataset_page_in_chromium_has_variables_a_form_and_the_plot(gallery, tmp_path):
    dom, shot = browse(gallery + "/datasets/air/page", tmp_path, "views-dataset-page")
    assert '<form method="get" action="page">' in dom
    assert '<option value="air" selected="">air</option>' in dom
    assert 'name="sel"' in dom and 'value="time=[0]"' in dom
    assert '<img src="plot/air/map/viridis/time=%5B0%5D"' in dom
    assert "air temperature" in dom and "degrees_north" not in dom  # variables table, not coords
    assert near(shot, VIRIDIS_TOP).sum() > 1000  # the plot loaded
    assert '<a href="groupby/air/time.month/mean">' in dom


def test_the_plot_form_is_a_plain_get_and_explains_mistakes(gallery):
    with httpx.Client(base_url=gallery, timeout=60) as client:
        page = client.get("/datasets/air/page", params={"var": "air", "kind": "line",
                                                        "cmap": "plasma", "sel": "lat=0/lon=0"})
        assert page.status_code == 200
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
        src = re.search(r'<img src="([^"]+)"', page.text)[1]
        assert src == "plot/air/line/plasma/lat=0/lon=0"
        png = client.get(f"/datasets/air/{src}")
        assert png.status_code == 200 and decode(png.content).std() > 20
        if SAVE_SCREENSHOTS:
            (DOCS_IMG / "views-line.png").write_bytes(png.content)
        bad = client.get("/datasets/air/page", params={"var": "air", "sel": "<b>__import__('os')"})
        assert bad.status_code == 200 and 'class="error"' in bad.text
        assert "<b>__import__" not in bad.text and "&lt;b&gt;__import__" in bad.text
