"""The transfer engine and ``objstore cp`` / ``rm`` / ``ls`` on every backend (the ``rig``)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

import objstore
from objstore.cli import app
from objstore.errors import CubeNotFoundError, ObjstoreError
from objstore.transfer import (
    Item,
    VerificationError,
    copy,
    list_tree,
    plan,
    remote_md5,
    remove,
    scan_local,
    send,
)

runner = CliRunner()


def make_tree(root: Path) -> dict[str, bytes]:
    files = {
        "a.txt": b"alpha",
        "empty": b"",
        "sub/b.bin": os.urandom(70_000),
        "sub/deeper/c.json": json.dumps({"x": 1}).encode(),
        "sub/deeper/.hidden": b"h",
    }
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return files


def read_tree(root: Path) -> dict[str, bytes]:
    return {rel: Path(item.path).read_bytes() for rel, item in scan_local(root).items()}


def profile_file(tmp_path: Path, rig) -> Path:
    from test_publish import write_profile_toml

    config = tmp_path / "cfg" / "profiles.toml"
    write_profile_toml(config, "rig", rig.profile)
    return config


# ------------------------------------------------------------------------------ unit
def test_remote_md5_understands_every_backend():
    digest = hashlib.md5(b"hello").digest()
    assert remote_md5({"ETag": f'"{digest.hex()}"'}) == digest.hex()  # s3fs
    assert remote_md5({"ETag": '"0123456789abcdef0123456789abcdef-3"'}) is None  # multipart
    assert remote_md5({"md5Hash": base64.b64encode(digest).decode()}) == digest.hex()  # gcsfs
    assert remote_md5({"etag": "CKih16GjycICEAE="}) is None  # a GCS generation etag
    assert remote_md5({"content_settings": {"content_md5": bytearray(digest)},
                       "etag": '"0x8D9A1B2C3D4E5F6"'}) == digest.hex()  # adlfs
    assert remote_md5({"content_settings": {"content_md5": None},
                       "etag": '"0x8D9A1B2C3D4E5F6"'}) is None  # blocks: no MD5, etag is not one
    assert remote_md5({"hash": digest.hex()}) == digest.hex()  # swift listing
    assert remote_md5({"ETag": digest.hex(), "slo": True}) is None  # swift large object


def test_plan_compares_size_then_md5(tmp_path):
    (tmp_path / "same").write_bytes(b"abc")
    (tmp_path / "changed").write_bytes(b"abc")
    (tmp_path / "grown").write_bytes(b"abcd")
    (tmp_path / "new").write_bytes(b"n")
    src = scan_local(tmp_path)
    dst = {
        "same": Item("same", 3, md5=hashlib.md5(b"abc").hexdigest()),
        "changed": Item("changed", 3, md5=hashlib.md5(b"xyz").hexdigest()),
        "grown": Item("grown", 3, md5=hashlib.md5(b"abc").hexdigest()),
        "gone": Item("gone", 1),
    }
    p = plan(src, dst)
    assert sorted(i.rel for i in p.copy) == ["changed", "grown", "new"]
    assert [i.rel for i in p.skip] == ["same"] and [i.rel for i in p.extra] == ["gone"]


def test_local_to_local_copy_resumes(tmp_path):
    files = make_tree(tmp_path / "src")
    first = copy(tmp_path / "src", tmp_path / "dst")
    assert first.copied == len(files) and read_tree(tmp_path / "dst") == files
    (tmp_path / "dst" / "a.txt").unlink()
    again = copy(tmp_path / "src", tmp_path / "dst")
    assert (again.copied, again.skipped) == (1, len(files) - 1)


# ------------------------------------------------------------------------------ on every backend
def test_send_reports_progress_and_verifies(rig, tmp_path):
    files = make_tree(tmp_path / "src")
    r = objstore.resolve(rig.url("engine"), rig.profile)
    seen = []
    stats = send(scan_local(tmp_path / "src").values(), r,
                 progress=lambda n, b: seen.append((n, b)))
    assert stats.objects == len(files) and stats.bytes == sum(map(len, files.values()))
    assert sum(n for n, _ in seen) == len(files) and sum(b for _, b in seen) == stats.bytes
    tree = list_tree(r)
    assert {k: v.size for k, v in tree.items()} == {k: len(v) for k, v in files.items()}
    assert all(tree[k].md5 == hashlib.md5(v).hexdigest() for k, v in files.items() if v)


def test_cp_tree_up_and_down_and_resume(rig, tmp_path):
    files = make_tree(tmp_path / "src")
    url = rig.url("trees/t1")
    up = copy(tmp_path / "src", url, rig.profile)
    assert (up.copied, up.skipped, up.objects) == (len(files), 0, len(files))

    down = copy(url, tmp_path / "back", rig.profile)
    assert read_tree(tmp_path / "back") == files and down.copied == len(files)

    # an interrupted copy: one object missing, one changed in place (same size)
    r = objstore.resolve(url, rig.profile)
    r.fs.rm_file(f"{r.path}/sub/deeper/c.json")
    (tmp_path / "src" / "a.txt").write_bytes(b"ALPHA")
    again = copy(tmp_path / "src", url, rig.profile)
    assert (again.copied, again.skipped) == (2, len(files) - 2)
    assert r.fs.cat_file(f"{r.path}/a.txt") == b"ALPHA"

    # store to store, within the same profile
    dup = copy(url, rig.url("trees/t2"), rig.profile)
    assert dup.copied == len(files)
    assert {k: v.md5 for k, v in list_tree(objstore.resolve(rig.url("trees/t2"), rig.profile)).items()} \
        == {k: v.md5 for k, v in list_tree(r).items()}


def test_cp_single_file(rig, tmp_path):
    (tmp_path / "one.nc").write_bytes(b"netcdf-ish")
    copy(tmp_path / "one.nc", rig.url("files/renamed.nc"), rig.profile)
    copy(tmp_path / "one.nc", rig.url("files") + "/", rig.profile)
    tree = list_tree(objstore.resolve(rig.url("files"), rig.profile))
    assert sorted(tree) == ["one.nc", "renamed.nc"]
    (tmp_path / "out").mkdir()
    copy(rig.url("files/renamed.nc"), tmp_path / "out", rig.profile)
    assert (tmp_path / "out" / "renamed.nc").read_bytes() == b"netcdf-ish"
    with pytest.raises(CubeNotFoundError, match="nothing at"):
        copy(rig.url("files/nope.nc"), tmp_path / "out", rig.profile)


def test_cp_detects_corruption(rig, tmp_path, monkeypatch):
    import objstore.transfer as transfer

    make_tree(tmp_path / "src")
    real = transfer._put_bytes

    async def corrupt(fs, rpath, data, kwargs):
        if rpath.endswith("a.txt"):
            data = data.upper()
        await real(fs, rpath, data, kwargs)

    monkeypatch.setattr(transfer, "_put_bytes", corrupt)
    with pytest.raises(VerificationError, match="a.txt: MD5"):
        copy(tmp_path / "src", rig.url("bad"), rig.profile)


def test_cli_cp_ls_rm(rig, tmp_path, monkeypatch):
    files = make_tree(tmp_path / "src")
    monkeypatch.setenv("OBJSTORE_CONFIG", str(profile_file(tmp_path, rig)))
    url = rig.url("cli")
    out = runner.invoke(app, ["cp", str(tmp_path / "src"), url, "--profile", "rig", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["copied"] == len(files)
    out = runner.invoke(app, ["cp", str(tmp_path / "src"), url, "--profile", "rig"])
    assert out.exit_code == 0 and f"skipped {len(files)}" in out.stdout

    listing = runner.invoke(app, ["ls", url, "--profile", "rig", "--long"])
    assert listing.exit_code == 0 and "a.txt" in listing.stdout and "5" in listing.stdout

    refused = runner.invoke(app, ["rm", url, "--profile", "rig"])
    assert refused.exit_code == 1 and "--recursive" in refused.output
    declined = runner.invoke(app, ["rm", url, "--profile", "rig", "--recursive"], input="n\n")
    assert declined.exit_code == 1 and "Delete 5 objects" in declined.output
    assert len(list_tree(objstore.resolve(url, rig.profile))) == len(files)
    gone = runner.invoke(app, ["rm", url, "--profile", "rig", "--recursive", "--yes"])
    assert gone.exit_code == 0 and "deleted 5 objects" in gone.stdout
    assert list_tree(objstore.resolve(url, rig.profile)) == {}
    missing = runner.invoke(app, ["rm", url, "--profile", "rig", "-r", "-y"])
    assert missing.exit_code == 1 and "nothing at" in missing.output


def test_remove_single_object(rig):
    r = objstore.resolve(rig.url("x/one"), rig.profile)
    r.fs.pipe(r.path, b"1")
    r.fs.pipe(r.path + "2", b"2")
    deleted = remove(rig.url("x/one"), rig.profile)
    assert [i.size for i in deleted] == [1]
    assert sorted(list_tree(objstore.resolve(rig.url("x"), rig.profile))) == ["one2"]
    with pytest.raises(ObjstoreError, match="--recursive"):
        remove(rig.url("x"), rig.profile)


def test_large_files_stream_through_the_filesystem_put(rig, tmp_path, monkeypatch):
    import objstore.transfer as transfer

    files = make_tree(tmp_path / "src")
    monkeypatch.setattr(transfer, "LARGE", 1000)  # sub/b.bin (70 kB) takes the streaming path
    result = copy(tmp_path / "src", rig.url("large"), rig.profile)
    assert result.copied == len(files)
    r = objstore.resolve(rig.url("large"), rig.profile)
    assert r.fs.cat_file(f"{r.path}/sub/b.bin") == files["sub/b.bin"]


def test_publish_into_a_missing_bucket(rig, small_cube):
    """S3, GCS and Azure refuse alike, naming the bucket and how to create it; Swift creates the
    container, as `swift upload` does, and publishes (docs/errors.md)."""
    from objstore.errors import BucketNotFoundError

    url = f"{rig.scheme}://nosuchbucket{rig.bucket}/cube.zarr"
    if rig.backend == "swift":
        objstore.publish(small_cube, url, rig.profile)
        assert objstore.open_cube(url, rig.profile).sizes["time"] == 8
        return
    with pytest.raises(BucketNotFoundError, match="does not exist.*Create it first") as info:
        objstore.publish(small_cube, url, rig.profile)
    assert info.value.url == url and info.value.status == 404
