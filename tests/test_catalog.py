"""Catalogs on every backend: engine="objstore", intake (v1 and v2) and STAC, public and private."""

from __future__ import annotations

import pytest
import xarray as xr

import objstore
import objstore.catalog
import objstore.catalog.check
from objstore.errors import CubeNotFoundError


def named_profile(tmp_path, monkeypatch, rig, name="team") -> str:
    """The reader's profiles.toml holds the rig's profile under ``name``."""
    from test_publish import write_profile_toml

    config = tmp_path / "reader" / "profiles.toml"
    write_profile_toml(config, name, rig.profile)
    monkeypatch.setenv("OBJSTORE_CONFIG", str(config))
    return name


# ------------------------------------------------------------------------ engine="objstore"
def test_engine_objstore_opens_what_open_cube_opens(rig, small_cube, tmp_path, monkeypatch):
    url = rig.url("eng/cube.zarr")
    objstore.write_cube(small_cube, url, profile=rig.profile)
    name = named_profile(tmp_path, monkeypatch, rig)
    ds = xr.open_dataset(url, engine="objstore", profile=name, chunks={})
    assert ds.tas.chunks is not None  # dask-backed, as intake's to_dask expects
    xr.testing.assert_identical(ds.load(), objstore.open_cube(url, name).load())
    xr.testing.assert_identical(ds.load(), small_cube.load())


def test_engine_objstore_sends_the_requests_open_cube_sends(counted, small_cube):
    url = counted.rig.url("eng/counted.zarr")
    objstore.write_cube(small_cube, url, profile=counted.rig.profile)
    px = counted.proxy
    sent = []
    for open_ in (lambda: objstore.open_cube(url, counted.profile),
                  lambda: xr.open_dataset(url, engine="objstore", profile=counted.profile,
                                          chunks={})):
        px.reset_counts()
        ds = open_()
        opened = sorted(px.requests)
        ds.load()
        sent.append((opened, sorted(px.requests)))
    assert sent[0][0] and sent[0] == sent[1]


def test_engine_objstore_raises_what_open_cube_raises(rig, tmp_path, monkeypatch):
    name = named_profile(tmp_path, monkeypatch, rig)
    with pytest.raises(CubeNotFoundError) as err:
        xr.open_dataset(rig.url("nothing/here.zarr"), engine="objstore", profile=name)
    assert "nothing/here.zarr" in str(err.value)


# ------------------------------------------------------------------------ helpers
def secrets_of(rig) -> list[str]:
    """Every secret the rig's profile and environment hold (keys, passwords, SAS, tokens)."""
    from pydantic import SecretStr

    found = []
    for field in type(rig.profile).model_fields:
        value = getattr(rig.profile, field)
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
    for name, value in rig.env.items():
        if any(w in name for w in ("SECRET", "KEY", "CONNECTION_STRING", "TOKEN", "PASSWORD")):
            found.append(value)
            found += [p.split("=", 1)[1] for p in value.split(";") if p.startswith("AccountKey=")]
    token_file = getattr(rig.profile, "token_file", None)
    if token_file:
        import json
        from pathlib import Path

        found.append(json.loads(Path(token_file).read_text())["private_key"].splitlines()[1])
    return [s for s in found if s]


def assert_no_secrets(rig, *texts: str) -> None:
    secrets = secrets_of(rig)
    assert secrets, "the rig should have secrets to look for"
    for text in texts:
        for secret in secrets:
            assert secret not in text, "a secret of the test profile is in a written catalog"


def reader_without_profiles(tmp_path, monkeypatch) -> None:
    """A reader with no objstore profiles and no credentials in the environment."""
    from objstore.registry import _reset_cache

    monkeypatch.setenv("OBJSTORE_CONFIG", str(tmp_path / "nobody" / "profiles.toml"))
    _reset_cache()


# ------------------------------------------------------------------------ intake
def test_private_cube_entry_names_the_profile_and_opens_with_it(rig, small_cube, tmp_path,
                                                                 monkeypatch):
    import intake

    url = rig.url("priv/cube.zarr")
    objstore.write_cube(small_cube, url, profile=rig.profile)
    name = named_profile(tmp_path, monkeypatch, rig)
    out = tmp_path / "catalog.yaml"
    # the GCS emulator enforces no access control: every cube reads anonymously there
    text = objstore.catalog.intake([url], profile=name, output=out,
                                   private=rig.backend == "gcs")
    assert out.read_text() == text
    args = intake.open_catalog(str(out))  # intake 2 reading the v1 YAML
    entry = __import__("yaml").safe_load(text)["sources"]["cube"]
    assert entry["args"] == {"urlpath": url, "engine": "objstore", "profile": name,
                             "consolidated": True}
    assert entry["metadata"]["dims"] == {"time": 8, "lat": 4, "lon": 5}
    assert entry["metadata"]["time_range"] == ["2026-01-01T00:00:00Z", "2026-01-08T00:00:00Z"]
    assert entry["description"] == "test cube"
    ds = args["cube"].to_dask()
    assert ds.tas.chunks is not None
    xr.testing.assert_identical(ds.load(), objstore.open_cube(url, name).load())
    assert_no_secrets(rig, text)

    reader_without_profiles(tmp_path, monkeypatch)
    with pytest.raises(objstore.ProfileNotFoundError, match="unknown profile 'team'"):
        intake.open_catalog(str(out))["cube"].to_dask()


def test_public_cube_entry_is_plain_fsspec(rig, small_cube, tmp_path, monkeypatch):
    import intake
    import yaml

    url = rig.url("pub/cube.zarr")
    objstore.write_cube(small_cube, url, profile=rig.profile)
    objstore.make_public(url, rig.profile)
    out = tmp_path / "catalog.yaml"
    text = objstore.catalog.intake([url], profile=rig.profile, output=out,
                                   names={"air": url})
    entry = yaml.safe_load(text)["sources"]["air"]
    assert "engine" not in entry["args"] and "profile" not in entry["args"]
    assert entry["metadata"]["access"] == "public"
    if rig.backend == "s3":  # the 2i2c guide's form
        assert entry["args"]["urlpath"] == f"s3://{rig.bucket}/pub/cube.zarr"
        assert entry["args"]["storage_options"] == {
            "anon": True, "client_kwargs": {"endpoint_url": rig.server.endpoint_url}}
    else:
        assert entry["args"]["urlpath"].startswith("http")
    assert_no_secrets(rig, text)
    reader_without_profiles(tmp_path, monkeypatch)
    ds = intake.open_catalog(str(out))["air"].to_dask()
    xr.testing.assert_identical(ds.load(), small_cube.load())


# ------------------------------------------------------------------------ CLI, v2, STAC
def cli(*args: str) -> str:
    from cli_runner import run_cli

    return run_cli(*args)


def test_cli_intake_v2_round_trip(rig, small_cube, tmp_path, monkeypatch):
    import intake

    url = rig.url("v2/cube.zarr")
    objstore.write_cube(small_cube, url, profile=rig.profile)
    name = named_profile(tmp_path, monkeypatch, rig)
    out = tmp_path / "v2.yaml"
    said = cli("catalog", "intake", "--name", f"air={url}", "-o", str(out), "--profile", name,
               "--format", "v2", "--private", "--description", "team cubes")
    assert f"air: {url} (private: engine=objstore, profile 'team')" in said
    assert_no_secrets(rig, out.read_text(), said)
    cat = intake.from_yaml_file(str(out))
    ds = cat["air"].read()
    assert ds.tas.chunks is not None
    xr.testing.assert_identical(ds.load(), small_cube.load())


@pytest.mark.filterwarnings("ignore:get_all_items is deprecated")
def test_cli_stac_collection_opens_with_xpystac(rig, small_cube, tmp_path, monkeypatch):
    import pystac

    url = rig.url("stac/cube.zarr")
    objstore.write_cube(small_cube, url, profile=rig.profile)
    name = named_profile(tmp_path, monkeypatch, rig)
    out = tmp_path / "stac"
    said = cli("catalog", "stac", url, "-o", str(out), "--collection-id", "team-cubes",
               "--profile", name, "--private")
    assert "wrote" in said and "collection.json" in said
    coll = pystac.Collection.from_file(str(out / "collection.json"))
    assert coll.id == "team-cubes"
    items = list(coll.get_all_items())
    assert [i.id for i in items] == ["cube"]
    item = items[0]
    assert item.bbox == [0.0, 10.0, 4.0, 40.0]
    assert item.properties["start_datetime"] == "2026-01-01T00:00:00Z"
    dims = item.properties["cube:dimensions"]
    assert dims["time"]["type"] == "temporal" and dims["lon"]["axis"] == "x"
    variables = item.properties["cube:variables"]
    assert variables["tas"]["unit"] == "K" and len(variables["tas"]["extent"]) == 2
    asset = item.assets["data"]
    assert asset.media_type == "application/vnd+zarr"
    assert asset.extra_fields["xarray:open_kwargs"] == {"engine": "objstore", "chunks": {},
                                                        "profile": name}
    ds = xr.open_dataset(asset, engine="stac")
    xr.testing.assert_identical(ds.load(), small_cube.load())
    written = "".join(p.read_text() for p in out.rglob("*.json"))
    assert_no_secrets(rig, written, said)


# ------------------------------------------------------------------------ publish --catalog
@pytest.mark.filterwarnings("ignore:get_all_items is deprecated")
def test_publish_public_catalog_reads_anonymously_over_https(rig, small_cube, tmp_path,
                                                              monkeypatch):
    import fsspec
    import intake
    import pystac
    from cli_runner import run_cli

    name = named_profile(tmp_path, monkeypatch, rig)
    catalog = rig.url("catalogs/team.yaml")
    src = tmp_path / "air.zarr"
    small_cube.to_zarr(src, consolidated=True, zarr_format=2)
    said = run_cli("publish", str(src), rig.url("pub/air.zarr"), "--profile", name, "--public",
                   "--catalog", catalog)
    assert "catalog: added 'air' (public)" in said and "catalog URL:" in said
    objstore.publish(small_cube.isel(time=slice(0, 4)), rig.url("pub/sea.zarr"), name,
                     public=True, catalog=catalog)
    again = objstore.publish(src, rig.url("pub/air.zarr"), name, public=True, overwrite=True,
                             catalog=catalog)
    assert again.catalog.replaced and again.catalog.name == "air"
    other = objstore.publish(src, rig.url("pub/more/air.zarr"), name, public=True,
                             catalog=catalog)
    assert other.catalog.name == "air_2" and not other.catalog.replaced  # another cube's name
    https = again.catalog.public_url
    assert https.startswith("http") and https.endswith("/catalogs/team.yaml")

    reader_without_profiles(tmp_path, monkeypatch)
    cat = intake.open_catalog(https)  # anyone, with plain intake
    assert sorted(cat) == ["air", "air_2", "sea"]
    xr.testing.assert_identical(cat["air"].to_dask().load(), small_cube.load())
    assert cat["sea"].to_dask().sizes["time"] == 4
    for target in (https, again.catalog.stac_public_url):
        checked = objstore.catalog.check.check(target)
        assert [(c.name, c.ok, c.access) for c in sorted(checked, key=lambda c: c.name)] == [
            ("air", True, "public"), ("air_2", True, "public"), ("sea", True, "public")]

    coll = pystac.Collection.from_file(again.catalog.stac_public_url)
    items = {i.id: i for i in coll.get_all_items()}
    assert sorted(items) == ["air", "air_2", "sea"]
    ds = xr.open_dataset(items["air"].assets["data"], engine="stac")
    xr.testing.assert_identical(ds.load(), small_cube.load())

    http = fsspec.filesystem("http", skip_instance_cache=True)
    stac_base = again.catalog.stac_public_url.rsplit("/", 1)[0]
    written = [http.cat_file(https).decode(), http.cat_file(again.catalog.stac_public_url).decode()]
    written += [http.cat_file(f"{stac_base}/{i}/{i}.json").decode() for i in items]
    assert_no_secrets(rig, *written, said)


def test_publish_private_catalog_entry_keeps_the_profile_name(rig, small_cube, tmp_path,
                                                              monkeypatch):
    import intake

    name = named_profile(tmp_path, monkeypatch, rig)
    catalog = tmp_path / "local" / "team.yaml"
    result = objstore.publish(small_cube, rig.url("priv/air.zarr"), name, catalog=catalog)
    private = rig.backend != "gcs"  # the GCS emulator enforces no access control
    assert result.catalog.public is not private
    entry = intake.open_catalog(str(catalog))["air"]
    xr.testing.assert_identical(entry.to_dask().load(), small_cube.load())
    assert (tmp_path / "local" / "team-stac" / "collection.json").exists()
    assert_no_secrets(rig, catalog.read_text())


# ------------------------------------------------------------------------ catalog check
def test_check_says_which_entries_open_and_why_not(rig, small_cube, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from objstore.cli import app

    url = rig.url("chk/cube.zarr")
    objstore.write_cube(small_cube, url, profile=rig.profile)
    name = named_profile(tmp_path, monkeypatch, rig)
    v1, v2, stac_dir = tmp_path / "v1.yaml", tmp_path / "v2.yaml", tmp_path / "stac"
    objstore.catalog.intake([url], profile=name, private=True, output=v1)
    objstore.catalog.intake([url], profile=name, private=True, output=v2, format="v2")
    objstore.catalog.stac([url], stac_dir, profile=name, private=True)
    runner = CliRunner()
    for target in (v1, v2, stac_dir / "collection.json"):
        ok = runner.invoke(app, ["catalog", "check", str(target)], env={"COLUMNS": "300"})
        assert ok.exit_code == 0, ok.output
        assert "ok   cube (private (profile 'team')): " in ok.stdout
        assert "time=8" in ok.stdout and "variables: mask, pr, tas" in ok.stdout
        assert "1 of 1 entries open" in ok.stdout

    reader_without_profiles(tmp_path, monkeypatch)  # a reader without the profile
    for target in (v1, v2, stac_dir / "collection.json"):
        bad = runner.invoke(app, ["catalog", "check", str(target)], env={"COLUMNS": "300"})
        assert bad.exit_code == 1
        assert "FAIL cube (private (profile 'team')): unknown profile 'team'" in bad.stdout
        assert "Traceback" not in bad.output

    missing = runner.invoke(app, ["catalog", "check", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 1 and "no catalog at" in missing.output


def test_cli_usage_errors_are_one_line():
    from typer.testing import CliRunner

    from objstore.cli import app

    runner = CliRunner()
    nothing = runner.invoke(app, ["catalog", "intake"])
    assert nothing.exit_code == 1 and "no cube to catalog" in nothing.output
    assert "Traceback" not in nothing.output
    bad_name = runner.invoke(app, ["catalog", "intake", "--name", "oops"])
    assert bad_name.exit_code == 2 and "NAME=URL" in bad_name.output
    bad_format = runner.invoke(app, ["catalog", "intake", "s3://b/c.zarr", "--format", "v3"])
    assert bad_format.exit_code == 2 and "v1 or v2" in bad_format.output


def test_a_signed_url_never_reaches_the_catalog(rig, small_cube):
    from objstore.catalog.access import reader_access

    url = rig.url("signed/cube.zarr")
    objstore.write_cube(small_cube, url, profile=rig.profile)
    https = objstore.make_public(url, rig.profile)
    access = reader_access(https + "?sv=2024&sig=SECRETSIGNATURE")
    assert access.public and access.urlpath == https and "SECRET" not in access.url
