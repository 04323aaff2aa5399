"""Each backend's environment-variable table (objstore/backends/env.py) is the one list: the
``*-env`` loaders fill exactly the fields it names, the docs show it as it is, and the
no-credentials errors name its variables."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

import objstore
from objstore import backends
from objstore.backends import env as tables
from objstore.errors import CredentialsError
from objstore.registry import ProfileRegistry
from objstore.sources import aws, azure, gcs, openstack

DOCS = Path(__file__).resolve().parents[1] / "docs"
LOADERS = {"s3": aws.load_env, "swift": openstack.load, "gcs": gcs.load, "azure": azure.load}
#: What a variable needs beside it to make a profile at all (its way's key variable).
ANCHORS = {"v1": {"ST_AUTH": "https://swift.example/auth/v1.0"},
           "Keystone v3": {"OS_AUTH_URL": "https://keystone.example/v3"},
           "static keys": {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE"}, "": {}}
VALUES = {"AZURE_STORAGE_CONNECTION_STRING":
          "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;"
          "EndpointSuffix=core.windows.net",
          "AZURE_STORAGE_ANON": "true", "OS_IDENTITY_API_VERSION": "3"}


def _value(var: tables.EnvVar) -> str:
    if var.name in VALUES:
        return VALUES[var.name]
    if var.field.endswith("url"):
        return f"https://{var.name.lower().replace('_', '-')}.example/v1"
    return f"value-of-{var.name.lower()}"


def _cases() -> list[tuple[str, tables.EnvVar]]:
    return [(name, v) for name, (_p, table) in tables.TABLES.items() for v in table if v.field]


@pytest.mark.parametrize(("backend", "var"), _cases(), ids=lambda c: getattr(c, "name", c))
def test_each_variable_fills_the_field_its_table_names(backend, var):
    anchor = {} if backend == "s3" and not var.way else ANCHORS.get(var.way, {})
    if backend == "s3" and var.name != "AWS_ACCESS_KEY_ID":
        anchor = ANCHORS["static keys"]
    env = {**anchor, var.name: _value(var)}
    (profile,) = LOADERS[backend](env)
    assert profile.name == tables.TABLES[backend][0]
    got = getattr(profile, var.field)
    if isinstance(got, SecretStr):
        assert var.secret, f"{var.name} fills a secret field: mark it secret in the table"
        got = got.get_secret_value()
    assert got in (_value(var), True) or str(got) == _value(var), f"{var.name} -> {var.field}"
    if var.name != "OS_IDENTITY_API_VERSION":  # a detail of the Keystone way, not a source
        assert var.name in profile.source.location  # `objstore profiles` says where it came from


def test_every_backend_owns_its_table():
    for name, (_profile, table) in tables.TABLES.items():
        assert backends.get(name).env is table
    assert backends.get("http").env == ()


@pytest.mark.parametrize("name", sorted(tables.DOCS))
def test_the_docs_show_each_table_as_it_is(name):
    text = (DOCS / tables.DOCS[name]).read_text(encoding="utf-8")
    assert f"<!-- env-table {name}:" in text
    assert tables.with_tables(text) == text, (
        f"docs/{tables.DOCS[name]} is out of date: run python -m objstore.backends.env")
    for var in tables.TABLES[name][1]:
        assert f"`{var.name}`" in text


@pytest.mark.parametrize(("url", "backend"), [("swift://c/k", "swift"), ("az://c/k", "azure")])
def test_no_credentials_names_the_variables_of_every_way(url, backend):
    with pytest.raises(CredentialsError) as info:
        objstore.resolve(url, registry=ProfileRegistry(env={}, sources=[]))
    for var in tables.TABLES[backend][1]:
        if var.required:
            assert var.name in str(info.value)


@pytest.mark.parametrize("name", sorted(tables.TABLES))
def test_each_profile_field_says_which_variables_fill_it(name):
    backend = backends.get(name)
    missing = [f"{v.field}: {v.name}" for v in backend.env if v.field
               and v.name not in (backend.profile_class.model_fields[v.field].description or "")]
    assert not missing, f"{backend.profile_class.__name__} field descriptions lack {missing}"


def test_objstore_profiles_env_lists_the_table_and_what_is_set_never_a_value(monkeypatch):
    import json

    from cli_runner import run_cli

    monkeypatch.setenv("ST_KEY", "hunter2-never-shown")
    monkeypatch.delenv("ST_USER", raising=False)
    out = run_cli("profiles", "env", "swift")
    assert "hunter2" not in out
    for var in tables.SWIFT:
        assert var.name in out
    rows = {r["variable"]: r for r in json.loads(run_cli("profiles", "env", "--json"))}
    assert rows["ST_KEY"]["set"] is True and rows["ST_USER"]["set"] is False
    assert rows["ST_KEY"]["profile"] == "swift-env" and rows["ST_KEY"]["field"] == "key"
    assert {r["backend"] for r in rows.values()} == set(tables.TABLES)
