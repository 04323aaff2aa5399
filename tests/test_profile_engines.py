"""``objstore profiles show`` says which engine a profile gets for reads and writes, and why."""

from __future__ import annotations

import json

import pytest
from cli_runner import run_cli
from test_registry import SECRET, toml

pytest.importorskip("obstore")


@pytest.fixture
def profiles(monkeypatch):
    monkeypatch.delenv("OBJSTORE_ENGINE", raising=False)
    toml(f'[profiles.keys]\nkey = "AKIAKEYS"\nsecret = "{SECRET}"\n'
         '[profiles.auto]\nkey = "AKIAAUTO"\nsecret = "x"\nengine = "auto"\n'
         '[profiles.chain]\naws_profile = "someone"\nengine = "auto"\n'
         '[profiles.pinned]\nkey = "AKIAPIN"\nsecret = "x"\nengine = "fsspec"\n'
         f'[profiles.blob]\nbackend = "azure"\naccount_name = "acct"\naccount_key = "{SECRET}"\n'
         '[profiles.gcs]\nbackend = "gcs"\nanonymous = true\n')


def _engines(name: str) -> dict:
    return json.loads(run_cli("profiles", "show", name, "--json"))["engines"]


def test_each_profile_says_its_engines_and_why(profiles):
    keys = _engines("keys")
    assert (keys["read"]["library"], keys["write"]["library"]) == ("obstore", "obstore")
    assert keys["read"]["why"] == ("the default for s3:// reads is 'auto', and obstore can do "
                                   "exactly what the profile says")
    auto = _engines("auto")["read"]
    assert auto["engine"] == "obstore" and "profile sets engine = 'auto'" in auto["why"]
    chain = _engines("chain")["read"]
    assert chain["engine"] == "fsspec" and "obstore cannot be used" in chain["why"]
    pinned = _engines("pinned")["read"]
    assert pinned["engine"] == "fsspec" and "profile sets engine = 'fsspec'" in pinned["why"]
    blob = _engines("blob")
    assert blob["read"]["engine"] == blob["write"]["engine"] == "obstore"
    assert _engines("gcs")["read"]["library"] == "gcsfs"


def test_the_text_has_one_line_per_direction_and_no_secret(profiles, monkeypatch):
    out = run_cli("profiles", "show", "auto")
    assert "reads with: obstore, because the profile sets engine = 'auto', and obstore can" in out
    assert "writes with: obstore, because" in out
    out = run_cli("profiles", "show", "pinned")
    assert "writes with: fsspec (s3fs), because the profile sets engine = 'fsspec'" in out
    out = run_cli("profiles", "show", "chain")
    assert "writes with: fsspec (s3fs), because the profile sets engine = 'auto', and obstore " \
           "cannot be used" in out
    monkeypatch.setenv("OBJSTORE_ENGINE", "fsspec")
    out = run_cli("profiles", "show", "blob")
    assert "reads with: fsspec (adlfs), because OBJSTORE_ENGINE is 'fsspec'" in out
    assert SECRET not in out


def test_a_missing_library_is_named(profiles, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "obstore" else real(name, *a))
    read = _engines("auto")["read"]
    assert read["engine"] == "fsspec" and "pip install obstore" in read["why"]


def test_a_missing_backend_library_is_named_and_show_still_works(profiles, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "gcsfs" else real(name, *a))
    out = run_cli("profiles", "show", "gcs")
    assert "reads with: unknown, because the gcs backend needs 'gcsfs'" in out
    assert "pip install 'objstore[gcs]'" in out
