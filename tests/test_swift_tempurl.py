"""Sharing a private Swift object by a time-limited URL (TempURL, ``fs.sign``), and
``fs.modified``, against the real Swift (its proxy runs the ``tempurl`` middleware)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from servers._util import http_request

from objstore.errors import CredentialsError
from objstore.swift import SwiftFileSystem

pytest_plugins = ("swift_fixtures",)


def set_temp_url_key(server, value: str, container: str = "") -> None:
    """What ``swift post [CONTAINER] -m "Temp-URL-Key:VALUE"`` does."""
    url, token = server.get_token()
    scope = "Container" if container else "Account"
    target = f"{url}/{container}" if container else url
    reply = http_request("POST", target, headers={"X-Auth-Token": token,
                                                  f"X-{scope}-Meta-Temp-URL-Key": value})
    assert reply.status // 100 == 2, reply.status


def status_of(url: str) -> int:
    return http_request("GET", url).status


def test_signed_url_reads_a_private_object_without_a_token_until_it_expires(swift, swift_fs,
                                                                             container):
    set_temp_url_key(swift, "account-secret")
    swift_fs.pipe(f"{container}/dir/report 1.csv", b"a,b\n1,2\n")
    plain = swift_fs.url_of(f"{container}/dir/report 1.csv")
    assert status_of(plain) == 401  # private: no token, no read

    signed = swift_fs.sign(f"swift://{container}/dir/report 1.csv", expiration=60)
    assert signed.startswith(plain + "?temp_url_sig=") and "account-secret" not in signed
    reply = http_request("GET", signed)
    assert (reply.status, reply.body) == (200, b"a,b\n1,2\n")

    sig = signed.split("temp_url_sig=")[1][:64]
    tampered = signed.replace(sig, ("0" if sig[0] != "0" else "1") + sig[1:])
    assert status_of(tampered) == 401
    other = signed.replace("report%201.csv", "other.csv")
    assert status_of(other) == 401  # a signature is for one object only

    short = swift_fs.sign(f"{container}/dir/report 1.csv", expiration=1)
    assert status_of(short) == 200
    time.sleep(2.1)
    assert status_of(short) == 401  # expired


def test_container_key_and_a_key_given_as_an_option(swift, swift_fs, container, new_fs):
    swift_fs.pipe(f"{container}/k", b"v")
    with pytest.raises(CredentialsError, match='swift post -m "Temp-URL-Key:SECRET"'):
        swift_fs.sign(f"{container}/k")
    set_temp_url_key(swift, "container-secret", container)
    assert http_request("GET", new_fs(swift).sign(f"{container}/k")).body == b"v"

    given = SwiftFileSystem(storage_url=swift.storage_url, anonymous=True,
                            temp_url_key="container-secret", skip_instance_cache=True)
    assert http_request("GET", given.sign(f"{container}/k", expiration=30)).body == b"v"
    assert "container-secret" not in repr(given.storage_options) + repr(given)
    wrong = SwiftFileSystem(storage_url=swift.storage_url, anonymous=True, temp_url_key="nope",
                            skip_instance_cache=True)
    assert status_of(wrong.sign(f"{container}/k")) == 401


def test_a_user_who_cannot_read_the_key_is_told_how_to_set_one(swift, swift_fs, container,
                                                               new_fs):
    set_temp_url_key(swift, "account-secret")
    swift_fs.pipe(f"{container}/k", b"v")
    swift_fs.set_container_read(container, f"test:{swift.user3.split(':')[1]}")
    reader = new_fs(swift, user=swift.user3, key=swift.key3)
    assert reader.cat(f"{container}/k") == b"v"
    with pytest.raises(CredentialsError, match="Temp-URL-Key") as err:
        reader.sign(f"{container}/k")
    assert "account-secret" not in str(err.value)


def test_modified_is_the_objects_last_write_in_utc(swift_fs, container):
    before = datetime.now(UTC) - timedelta(seconds=2)
    swift_fs.pipe(f"{container}/a/b.txt", b"x")
    when = swift_fs.modified(f"{container}/a/b.txt")
    assert when.tzinfo is not None and before <= when <= datetime.now(UTC) + timedelta(seconds=2)
    listed = swift_fs.ls(f"{container}/a", detail=True)[0]["last_modified"]
    assert abs(datetime.fromisoformat(listed).replace(tzinfo=UTC) - when) < timedelta(seconds=1)
    with pytest.raises(IsADirectoryError):
        swift_fs.modified(f"{container}/a")
    with pytest.raises(FileNotFoundError):
        swift_fs.modified(f"{container}/missing")


def test_cli_sign_without_a_key_says_how_to_set_one_in_one_line(swift, swift_fs, container,
                                                                 monkeypatch):
    from typer.testing import CliRunner

    from objstore.cli import app

    swift_fs.pipe(f"{container}/k", b"v")
    for name, value in {"ST_AUTH": swift.auth_url, "ST_USER": swift.user,
                        "ST_KEY": swift.key}.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["sign", f"swift://{container}/k"], env={"COLUMNS": "300"})
    assert result.exit_code == 1
    assert 'swift post -m "Temp-URL-Key:SECRET"' in result.output
    assert result.output.count("error:") == 1 and "Traceback" not in result.output
    set_temp_url_key(swift, "account-secret")
    result = CliRunner().invoke(app, ["sign", f"swift://{container}/k", "--expires", "5m"])
    assert result.exit_code == 0 and http_request("GET", result.output.strip()).body == b"v"
