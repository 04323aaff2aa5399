"""objstore serve: one server on a free port serving cubes from moto, Swift, Azurite, the GCS
emulator and a local NetCDF, read with real clients (httpx, zarr 3 and 2, fsspec mappers, the
kerchunk engine, intake, pystac + xpystac) and compared with open_cube; the bad-input table; a
backend that is down; the token; the logs hold no secret."""

from __future__ import annotations

import json
import uuid
import warnings
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from rigs import make_rig
from serve_harness import Running

import objstore
from objstore.profiles import S3Profile, Source
from objstore.serve import DatasetSpec, ServeConfig, app

S3_KEY, S3_SECRET = "AKIASERVETESTKEY", "serve-test-secret-9f2c41"  # moto accepts any
TOKEN = "serve-token-7d1e0b5a"
BACKEND_FIXTURES = {"s3": "moto", "swift": "swift_server", "gcs": "gcs_server",
                    "azure": "azurite"}


def _cube() -> xr.Dataset:
    rng = np.random.default_rng(7)
    return xr.Dataset(
        {"tas": (("time", "lat", "lon"), rng.standard_normal((8, 4, 5)).astype("float32"),
                 {"units": "K"}),
         "pr": (("time", "lat", "lon"), rng.gamma(1.0, 1.0, (8, 4, 5)), {"units": "mm"}),
         "mask": (("lat", "lon"), rng.integers(0, 2, (4, 5)).astype("int8"))},
        coords={"time": pd.date_range("2026-01-01", periods=8, freq="D"),
                "lat": [10.0, 20.0, 30.0, 40.0], "lon": [0.0, 1.0, 2.0, 3.0, 4.0]},
        attrs={"title": "served cube"},
    ).chunk({"time": 2})


class Served:
    def __init__(self, running: Running, specs: dict[str, DatasetSpec], secrets: list[str]):
        self.running, self.url, self.specs, self.secrets = running, running.url, specs, secrets

    def expected(self, ident: str) -> xr.Dataset:
        spec = self.specs[ident]
        if spec.url.endswith(".nc"):
            ds = xr.open_dataset(spec.url).load()
        else:
            ds = objstore.open_cube(spec.url, spec.profile).load()
        if spec.title:  # the config's title is what the server says
            ds.attrs["title"] = spec.title
        return ds


@pytest.fixture(scope="module")
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("serve")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp / "cache"))
        mp.setenv("OBJSTORE_CONFIG", str(tmp / "profiles.toml"))
        specs: dict[str, DatasetSpec] = {}
        secrets = [S3_SECRET, S3_KEY, TOKEN]
        ds = _cube()
        for backend, fixture in BACKEND_FIXTURES.items():
            rig = make_rig(backend, request.getfixturevalue(fixture), f"t{uuid.uuid4().hex[:12]}")
            profile = rig.profile
            if backend == "s3":
                profile = S3Profile(name="moto-serve", key=S3_KEY, secret=S3_SECRET,
                                    endpoint_url=rig.server.endpoint_url, source=Source(kind="test"))
            objstore.write_cube(ds, rig.url("cube.zarr"), profile)
            specs[backend] = DatasetSpec(id=backend, url=rig.url("cube.zarr"), profile=profile)
            if backend == "gcs":  # a line of the service account's private key
                key = json.loads(Path(profile.token_file).read_text())["private_key"]
                secrets.append(key.splitlines()[1])
            for field in ("secret", "key", "account_key"):
                value = getattr(profile, field, None)
                if value is not None and hasattr(value, "get_secret_value"):
                    secrets.append(value.get_secret_value())
        v3 = specs["s3"].url.replace("cube.zarr", "cube3.zarr")
        objstore.write_cube(ds, v3, specs["s3"].profile, zarr_format=3)
        specs["s3v3"] = DatasetSpec(id="s3v3", url=v3, profile=specs["s3"].profile)
        nc = tmp / "local.nc"
        ds.load().to_netcdf(nc)
        specs["netcdf"] = DatasetSpec(id="netcdf", url=str(nc), title="a local NetCDF")
        big = xr.Dataset({"big": (("x", "y"), np.zeros((1024, 1024)))}).chunk({"x": 512})
        big.to_zarr(tmp / "big.zarr", compute=False, zarr_format=2, consolidated=True)
        specs["big"] = DatasetSpec(id="big", url=str(tmp / "big.zarr"))
        down = S3Profile(name="down", key=S3_KEY, secret=S3_SECRET,
                         endpoint_url="http://127.0.0.1:9", source=Source(kind="test"))
        specs["down"] = DatasetSpec(id="down", url="s3://gone/cube.zarr", profile=down)
        config = ServeConfig(datasets=list(specs.values()), max_chunk_mb=1.0,
                             cors_origins=["https://example.org"])
        running = Running(app(config))
        yield Served(running, specs, secrets)
        running.stop()


CUBES = ["s3", "swift", "gcs", "azure", "s3v3", "netcdf"]
PASSED_THROUGH = ["s3", "swift", "gcs", "azure"]  # format-2 cubes: stored bytes served as is


def _same_values(got: xr.Dataset, want: xr.Dataset) -> None:
    xr.testing.assert_equal(got.load(), want)
    assert got.attrs.get("title") == want.attrs.get("title")


def test_standard_xpublish_routes(served: Served) -> None:
    ids = httpx.get(f"{served.url}/datasets").json()
    assert set(ids) == set(served.specs)
    keys = httpx.get(f"{served.url}/datasets/gcs/keys").json()
    assert {"tas", "pr", "mask", "time"} <= set(keys)
    info = httpx.get(f"{served.url}/datasets/azure/info").json()
    assert info["dimensions"] == {"time": 8, "lat": 4, "lon": 5}
    assert httpx.get(f"{served.url}/datasets/swift/dict").json()["attrs"]["title"] == "served cube"
    assert "served cube" in httpx.get(f"{served.url}/datasets/s3/").text
    assert "xarray" in httpx.get(f"{served.url}/versions").json()
    assert httpx.get(f"{served.url}/docs").status_code == 200
    assert "/datasets/{dataset_id}/zarr2/.zmetadata" in httpx.get(
        f"{served.url}/openapi.json").json()["paths"]


@pytest.mark.parametrize("ident", CUBES)
def test_zarr_format3_endpoint_equals_open_cube(served: Served, ident: str) -> None:
    got = xr.open_dataset(f"{served.url}/datasets/{ident}/zarr", engine="zarr", chunks="auto")
    _same_values(got, served.expected(ident))


@pytest.mark.parametrize("ident", CUBES)
def test_zarr_format2_endpoint_for_zarr2_clients_and_fsspec_mappers(served: Served,
                                                                     ident: str) -> None:
    import fsspec
    import zarr

    url = f"{served.url}/datasets/{ident}/zarr2"
    zmeta = httpx.get(f"{url}/.zmetadata").json()
    assert zmeta["zarr_consolidated_format"] == 1 and "tas/.zarray" in zmeta["metadata"]
    got = xr.open_dataset(url, engine="zarr", zarr_format=2, consolidated=True)
    _same_values(got, served.expected(ident))
    mapper = fsspec.get_mapper(url)
    group = zarr.open_consolidated(mapper, zarr_format=2)
    np.testing.assert_array_equal(group["tas"][:], served.expected(ident)["tas"].values)
    _same_values(xr.open_zarr(mapper, zarr_format=2), served.expected(ident))


@pytest.mark.parametrize("ident", CUBES)
def test_kerchunk_endpoint_with_the_seed_snippet(served: Served, ident: str) -> None:
    url = served.url
    got = xr.open_dataset(f"{url}/datasets/{ident}/kerchunk", engine="kerchunk", chunks="auto")
    _same_values(got, served.expected(ident))
    refs = httpx.get(f"{url}/datasets/{ident}/kerchunk").json()["refs"]
    targets = [v[0] for v in refs.values() if isinstance(v, list)]
    assert targets and all(t.startswith(f"{url}/datasets/{ident}/") for t in targets)
    text = json.dumps(refs)
    assert "s3://" not in text and not any(s in text for s in served.secrets)


@pytest.mark.parametrize("ident", PASSED_THROUGH)
def test_pass_through_serves_the_stored_bytes(served: Served, ident: str) -> None:
    spec = served.specs[ident]
    r = objstore.resolve(spec.url, spec.profile)
    stored = r.fs.cat_file(f"{r.path}/tas/1.0.0")
    got = httpx.get(f"{served.url}/datasets/{ident}/kerchunk/tas/1.0.0")
    assert got.status_code == 200 and got.content == stored


def test_intake_catalog_method_zarr_and_kerchunk(served: Served) -> None:
    import intake

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # intake warns about shell() on every default
        cat = intake.open_catalog(f"{served.url}/intake.yaml")
        assert set(cat) == set(served.specs) - {"down"}
        for ident in ("s3", "netcdf"):
            want = served.expected(ident)
            _same_values(cat[ident]().to_dask(), want)
            _same_values(cat[ident](method="kerchunk").to_dask(), want)


def test_stac_collection_one_item_per_dataset(served: Served) -> None:
    import pystac

    coll = pystac.Collection.from_file(f"{served.url}/stac-collection-all.json")
    items = {i.id: i for i in coll.get_items()}
    assert set(items) == set(served.specs) - {"down"}
    item = items["swift"]
    assert item.bbox == [0.0, 10.0, 4.0, 40.0]
    assert item.properties["cube:variables"]["tas"]["dimensions"] == ["time", "lat", "lon"]
    want = served.expected("swift")
    _same_values(xr.open_dataset(item.assets["data"], chunks={}), want)  # xpystac
    _same_values(xr.open_dataset(item.assets["kerchunk"]), want)


BAD = [
    ("/datasets/nope/keys", 404),
    ("/datasets/nope/zarr/zarr.json", 404),
    ("/datasets/__import__('os').system('id')/keys", 404),
    ("/datasets/s3/zarr/__import__('os')/zarr.json", 404),
    ("/datasets/s3/zarr2/__import__('os')/.zarray", 404),
    ("/datasets/..%2f..%2fetc/keys", 400),
    ("/datasets/s3/zarr/..%2f..%2f..%2fetc%2fpasswd", 400),
    ("/datasets/s3/kerchunk/..%2f..%2f.zmetadata", 400),
    ("/datasets/s3/kerchunk/tas/..%2f..%2fpr%2f0.0.0", 400),
    ("/static/..%2f..%2f..%2fetc%2fpasswd", 400),
    ("/datasets/s3/zarr2/tas/%00", 400),
    ("/datasets/s3/zarr/tas/c/999/0/0", 404),
    ("/datasets/s3/zarr/tas/c/-1/0/0", 400),
    ("/datasets/s3/zarr/tas/c/a/b/c", 400),
    ("/datasets/s3/zarr/tas/c/0/0", 404),
    ("/datasets/s3/zarr/tas/c/00000000000000000001/0/0", 400),
    ("/datasets/s3/zarr2/tas/0.0", 404),
    ("/datasets/s3/zarr2/tas/1e3.0.0", 400),
    ("/datasets/s3/zarr2/tas/0.0.0.0", 404),
    ("/datasets/s3/kerchunk/tas/99.0.0", 404),
    ("/datasets/s3/kerchunk/nosuch/0.0.0", 404),
    ("/datasets/s3/groups/x/keys", 404),
    ("/datasets/big/zarr/big/c/0/0", 413),
    ("/datasets/big/zarr2/big/0.0", 413),
    ("/datasets/s3/keys?" + "x" * 20_000, 413),
]


@pytest.mark.parametrize(("path", "status"), BAD, ids=[p[:60] for p, _ in BAD])
def test_bad_input_is_a_4xx_json_error(served: Served, path: str, status: int) -> None:
    r = httpx.get(served.url + path)
    assert r.status_code == status, r.text
    assert r.json()["detail"]
    if status == 413:
        assert "limit" in json.dumps(r.json())


def test_no_route_writes(served: Served) -> None:
    for method in ("PUT", "POST", "DELETE", "PATCH"):
        r = httpx.request(method, f"{served.url}/datasets/s3/zarr/tas/c/0/0/0", content=b"x")
        assert r.status_code == 405, (method, r.status_code)
    assert httpx.get(f"{served.url}/datasets/s3/zarr/tas/c/0/0/0").status_code == 200


def test_a_backend_that_is_down_gives_503_for_that_dataset_only(served: Served) -> None:
    r = httpx.get(f"{served.url}/datasets/down/zarr/zarr.json", timeout=120)
    assert r.status_code == 503
    assert "unavailable" in r.json()["detail"] and "s3://gone/cube.zarr" in r.json()["detail"]
    assert not any(s in r.text for s in served.secrets)
    assert httpx.get(f"{served.url}/datasets/s3/zarr/zarr.json").status_code == 200
    assert "down" in httpx.get(f"{served.url}/datasets").json()


def test_cors_is_configurable(served: Served) -> None:
    r = httpx.options(f"{served.url}/datasets/s3/zarr/zarr.json",
                      headers={"Origin": "https://example.org",
                               "Access-Control-Request-Method": "GET"})
    assert r.headers["access-control-allow-origin"] == "https://example.org"
    r = httpx.get(f"{served.url}/datasets", headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in r.headers


def test_access_log_and_no_secret_in_logs(served: Served) -> None:
    httpx.get(f"{served.url}/datasets/s3/zarr2/.zmetadata")
    httpx.get(f"{served.url}/datasets/down/keys", timeout=120)
    text = served.running.log_text()
    line = next(ln for ln in text.splitlines() if "GET /datasets/s3/zarr2/.zmetadata" in ln)
    assert '" 200 ' in line and line.endswith("ms")
    assert "dataset down unavailable" in text
    for secret in served.secrets:
        assert secret not in text


@pytest.fixture
def token_server(tmp_path: Path):
    nc = tmp_path / "open.nc"
    _cube().load().to_netcdf(nc)
    (tmp_path / "token").write_text(TOKEN + "\n")
    config = ServeConfig(datasets=[DatasetSpec(id="private", url=str(nc)),
                                   DatasetSpec(id="open", url=str(nc), public=True)],
                         token_file=tmp_path / "token", public=["/docs", "/openapi.json"])
    running = Running(app(config), json_logs=True)
    yield running
    running.stop()


def test_with_a_token_unauthenticated_requests_get_401(token_server: Running) -> None:
    url = token_server.url
    good = {"Authorization": f"Bearer {TOKEN}"}
    for path in ("/datasets", "/datasets/private/zarr/zarr.json", "/intake.yaml",
                 "/stac-collection-all.json", "/datasets/private/kerchunk"):
        assert httpx.get(url + path).status_code == 401, path
        assert httpx.get(url + path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(url + path, headers=good).status_code == 200, path
    assert httpx.get(f"{url}/datasets/open/zarr/zarr.json").status_code == 200  # public
    assert httpx.get(f"{url}/docs").status_code == 200
    got = xr.open_dataset(f"{url}/datasets/private/zarr", engine="zarr",
                          storage_options={"headers": good})
    xr.testing.assert_equal(got.load(), _cube().load())
    options = {"target_options": {"headers": good}, "remote_options": {"headers": good}}
    got = xr.open_dataset(f"{url}/datasets/private/kerchunk", engine="kerchunk",
                          storage_options=options)
    xr.testing.assert_equal(got.load(), _cube().load())
    records = [json.loads(ln) for ln in token_server.log_text().splitlines()]
    access = [r for r in records if r.get("logger") == "objstore.serve.access"]
    assert {"method", "path", "status", "bytes", "ms"} <= set(access[0])
    assert {r["status"] for r in access} >= {200, 401}
    assert TOKEN not in token_server.log_text()


def test_admin_reload_adds_and_removes_datasets(tmp_path: Path) -> None:
    nc = tmp_path / "a.nc"
    _cube().load().to_netcdf(nc)
    (tmp_path / "token").write_text(TOKEN)
    cfg = tmp_path / "serve.toml"
    cfg.write_text(f'[serve]\ntoken_file = "token"\n[datasets]\nfirst = "{nc}"\n')
    running = Running(app(str(cfg)))
    try:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert httpx.get(f"{running.url}/datasets", headers=auth).json() == ["first"]
        cfg.write_text(f'[serve]\ntoken_file = "token"\n[datasets.second]\nurl = "{nc}"\n'
                       'title = "the second"\n')
        assert httpx.post(f"{running.url}/admin/reload").status_code == 401
        changes = httpx.post(f"{running.url}/admin/reload", headers=auth).json()
        assert changes == {"added": ["second"], "removed": ["first"], "changed": []}
        assert httpx.get(f"{running.url}/datasets", headers=auth).json() == ["second"]
        assert httpx.get(f"{running.url}/datasets/first/keys", headers=auth).status_code == 404
        assert httpx.get(f"{running.url}/datasets/second/keys", headers=auth).status_code == 200
        cfg.write_text("[datasets\n")
        bad = httpx.post(f"{running.url}/admin/reload", headers=auth)
        assert bad.status_code == 400 and "not valid TOML" in bad.json()["detail"]
        assert httpx.get(f"{running.url}/datasets", headers=auth).json() == ["second"]
    finally:
        running.stop()


def test_dask_local_computes_chunks(tmp_path: Path) -> None:
    from objstore.serve.compute import start_dask

    nc = tmp_path / "a.nc"
    _cube().load().to_netcdf(nc)
    client = start_dask("local")
    running = Running(app(ServeConfig(datasets=[DatasetSpec(id="a", url=str(nc))])))
    try:
        got = xr.open_dataset(f"{running.url}/datasets/a/zarr", engine="zarr")
        xr.testing.assert_equal(got.load(), _cube().load())
        assert client.scheduler_info()["workers"]
    finally:
        running.stop()
        client.close()
        client.cluster.close()


def test_extra_plugins_get_the_checked_datasets(tmp_path: Path) -> None:
    from fastapi import APIRouter, Depends
    from xpublish import Dependencies, Plugin, hookimpl

    class MeanPlugin(Plugin):
        name: str = "mean"

        @hookimpl
        def dataset_router(self, deps: Dependencies) -> APIRouter:
            router = APIRouter(prefix="/mean")
            dataset_dep = Depends(deps.dataset)

            @router.get("/{var}")
            def mean(var: str, dataset: xr.Dataset = dataset_dep) -> float:
                return float(dataset[var].mean())

            return router

    nc = tmp_path / "a.nc"
    _cube().load().to_netcdf(nc)
    config = ServeConfig(datasets=[DatasetSpec(id="a", url=str(nc))])
    running = Running(app(config, plugins=[MeanPlugin()]))
    try:
        got = httpx.get(f"{running.url}/datasets/a/mean/tas").json()
        assert got == pytest.approx(float(_cube()["tas"].mean()))
        assert httpx.get(f"{running.url}/datasets/b/mean/tas").status_code == 404
    finally:
        running.stop()


def test_a_backend_failing_after_opening_answers_502_for_its_chunks(
        moto, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from latency_proxy import LatencyProxy

    moto.client().create_bucket(Bucket="flaky")
    nc = tmp_path / "a.nc"
    _cube().load().to_netcdf(nc)
    with LatencyProxy("127.0.0.1", moto.port, delay_s=0.0) as px:
        profile = S3Profile(name="flaky", key=S3_KEY, secret=S3_SECRET, endpoint_url=px.url,
                            source=Source(kind="test"))
        objstore.write_cube(_cube(), "s3://flaky/cube.zarr", profile)
        config = ServeConfig(datasets=[DatasetSpec(id="flaky", url="s3://flaky/cube.zarr",
                                                   profile=profile),
                                       DatasetSpec(id="local", url=str(nc))])
        running = Running(app(config))
        assert httpx.get(f"{running.url}/datasets/flaky/keys").status_code == 200
    try:  # the proxy is gone: the store cannot be reached any more
        r = httpx.get(f"{running.url}/datasets/flaky/zarr/tas/c/1/0/0", timeout=120)
        assert r.status_code == 502, (r.text, running.log_text()[-1500:-200])
        assert "storage backend failed" in r.json()["detail"]
        assert S3_SECRET not in r.text and "Traceback" not in running.log_text()
        assert httpx.get(f"{running.url}/datasets/local/zarr/tas/c/0/0/0").status_code == 200
    finally:
        running.stop()


def test_a_config_file_with_named_profiles(moto, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The provider's way: profiles by name from objstore's TOML file, datasets by id."""
    import os

    from objstore.registry import _reset_cache

    bucket = f"t{uuid.uuid4().hex[:12]}"
    moto.client().create_bucket(Bucket=bucket)
    Path(os.environ["OBJSTORE_CONFIG"]).parent.mkdir(parents=True, exist_ok=True)
    Path(os.environ["OBJSTORE_CONFIG"]).write_text(
        f'[profiles.ceph]\nbackend = "s3"\nkey = "{S3_KEY}"\nsecret = "{S3_SECRET}"\n'
        f'endpoint_url = "{moto.endpoint_url}"\n')
    _reset_cache()
    objstore.write_cube(_cube(), f"s3://{bucket}/air.zarr", "ceph")
    cfg = tmp_path / "serve.yaml"
    cfg.write_text(f"serve:\n  title: named\ndatasets:\n  air:\n    url: s3://{bucket}/air.zarr\n"
                   "    profile: ceph\n    title: Air\n")
    running = Running(app(str(cfg)))
    try:
        got = xr.open_dataset(f"{running.url}/datasets/air/kerchunk", engine="kerchunk")
        xr.testing.assert_equal(got.load(), _cube().load())
        stac = httpx.get(f"{running.url}/stac/air.json").json()
        assert stac["properties"]["title"] == "Air"
        everything = running.log_text() + json.dumps(stac) + httpx.get(
            f"{running.url}/intake.yaml").text
        assert S3_SECRET not in everything and S3_KEY not in everything
    finally:
        running.stop()


def test_head_answers_like_get_without_the_body(served: Served) -> None:
    url = f"{served.url}/datasets/gcs/zarr2/tas/0.0.0"
    head, get = httpx.head(url), httpx.get(url)
    assert head.status_code == get.status_code == 200
    assert head.content == b"" and int(head.headers["content-length"]) == len(get.content)
    assert httpx.head(f"{served.url}/datasets/nope/keys").status_code == 404


def test_landing_page_shows_the_configured_titles(served: Served) -> None:
    page = httpx.get(f"{served.url}/")
    assert page.status_code == 200 and "a local NetCDF" in page.text
    assert httpx.get(f"{served.url}/datasets/netcdf/dict").json()["attrs"]["title"] == "a local NetCDF"
