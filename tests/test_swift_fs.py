"""SwiftFileSystem against a real Swift: bytes, cubes, large objects, the swift CLI as a peer,
public containers, concurrency, error mapping, and the zarrswift-compatible SwiftStore."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import fsspec
import numpy as np
import pytest
import xarray as xr

import objstore
from objstore.errors import CredentialsError, RemoteError
from objstore.profiles import SwiftProfile
from objstore.retry import RetryPolicy
from objstore.swift import SwiftFileSystem, make_private, make_public

pytest_plugins = ("swift_fixtures",)
SWIFT_CLI = shutil.which("swift") or "/usr/bin/swift"


def swift_cli(server, *args: str, cwd=None) -> bytes:
    """Run the python-swiftclient CLI (v1 auth) and return its stdout."""
    out = subprocess.run([SWIFT_CLI, "-A", server.auth_url, "-U", server.user, "-K", server.key,
                          *args], capture_output=True, check=True, cwd=cwd, timeout=60)
    return out.stdout


# ---------------------------------------------------------------------- bytes and listings
def test_bytes_round_trip_ranges_listings_and_delete(swift_fs, container):
    fs = swift_fs
    fs.pipe({f"{container}/a/b/c.txt": b"hello world", f"{container}/a/d.bin": b"\x00\x01",
             f"{container}/top": b"t"})
    assert fs.cat(f"{container}/a/b/c.txt") == b"hello world"
    assert fs.cat_file(f"swift://{container}/a/b/c.txt", start=6) == b"world"
    assert fs.cat_file(f"{container}/a/b/c.txt", start=0, end=5) == b"hello"
    assert fs.cat_file(f"{container}/a/b/c.txt", start=-5) == b"world"
    assert fs.cat_file(f"{container}/a/b/c.txt", start=2, end=-6) == b"llo"
    assert fs.cat_file(f"{container}/a/b/c.txt", start=50) == b""
    assert fs.ls(container, detail=False) == [f"{container}/a", f"{container}/top"]
    assert fs.ls(f"{container}/a", detail=False) == [f"{container}/a/b", f"{container}/a/d.bin"]
    assert container in fs.ls("", detail=False)
    assert fs.info(f"{container}/a")["type"] == "directory"
    info = fs.info(f"{container}/a/b/c.txt")
    assert (info["type"], info["size"], info["content_type"]) == ("file", 11, "text/plain")
    assert fs.find(container) == [f"{container}/a/b/c.txt", f"{container}/a/d.bin",
                                  f"{container}/top"]
    assert fs.find(container, maxdepth=2, withdirs=True) == [
        container, f"{container}/a", f"{container}/a/b", f"{container}/a/d.bin", f"{container}/top"]
    assert fs.isdir(container) and fs.isdir(f"{container}/a") and fs.isfile(f"{container}/top")
    assert fs.glob(f"{container}/**/*.txt") == [f"{container}/a/b/c.txt"]

    fs.rm(f"{container}/a", recursive=True)
    assert fs.find(container) == [f"{container}/top"]
    fs.rm(container, recursive=True)
    assert not fs.exists(container)


def test_missing_things_raise_file_not_found_naming_them(swift_fs, container):
    with pytest.raises(FileNotFoundError, match="container 'nosuchcontainer'"):
        swift_fs.ls("nosuchcontainer")
    with pytest.raises(FileNotFoundError, match=f"{container}/nothing"):
        swift_fs.info(f"{container}/nothing")
    with pytest.raises(FileNotFoundError, match="nothing.txt"):
        swift_fs.cat(f"{container}/nothing.txt")
    with pytest.raises(FileNotFoundError):
        swift_fs.rm(f"{container}/nothing.txt")
    assert not swift_fs.exists("nosuchcontainer/x")


def test_writes_create_the_container_and_exclusive_mode(swift_fs):
    swift_fs.pipe("fresh-container/k", b"1")  # like `swift upload`, a PUT creates the container
    assert swift_fs.cat("fresh-container/k") == b"1"
    with pytest.raises(FileExistsError):
        swift_fs.pipe_file("fresh-container/k", b"2", mode="create")
    with swift_fs.open("fresh-container/f.txt", "wb") as f:
        f.write(b"via open")
    with swift_fs.open("fresh-container/f.txt", "rb") as f:
        assert f.read() == b"via open"


def test_put_and_get_directories(swift_fs, container, tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"a")
    (src / "sub" / "b.bin").write_bytes(os.urandom(3000))
    swift_fs.put(str(src), f"{container}/up", recursive=True)
    assert swift_fs.find(f"{container}/up") == [f"{container}/up/a.txt",
                                                f"{container}/up/sub/b.bin"]
    swift_fs.get(f"{container}/up", str(tmp_path / "down"), recursive=True)
    down = tmp_path / "down" / "sub" / "b.bin"
    assert down.read_bytes() == (src / "sub" / "b.bin").read_bytes()


def test_pickled_filesystem_reauthenticates_and_hides_secrets(swift, new_fs, tmp_path):
    fs = new_fs(swift, tmp_path / "tokens")
    fs.pipe("pick/x", b"1")
    text = repr(fs) + repr(fs.storage_options) + str(fs.storage_options)
    assert swift.key not in text and fs._token.token not in text
    clone = pickle.loads(pickle.dumps(fs))
    assert clone is not fs and clone.cat("pick/x") == b"1"
    assert clone.stats.auth_requests == 0  # the token cache on this machine served it


# ---------------------------------------------------------------------- cubes
def test_cube_round_trip_with_a_swift_profile(swift, swift_profile, small_cube):
    objstore.write_cube(small_cube, "swift://cubes/x.zarr", profile=swift_profile)
    back = objstore.open_cube("swift://cubes/x.zarr", profile=swift_profile)
    xr.testing.assert_identical(back.load(), small_cube.load())


def test_thousand_chunk_write_runs_puts_concurrently(swift, swift_profile, monkeypatch):
    in_flight = {"now": 0, "max": 0, "puts": 0}
    request = SwiftFileSystem._request

    async def counting(self, method, *args, **kwargs):
        if method != "PUT":
            return await request(self, method, *args, **kwargs)
        in_flight["now"] += 1
        in_flight["puts"] += 1
        in_flight["max"] = max(in_flight["max"], in_flight["now"])
        try:
            return await request(self, method, *args, **kwargs)
        finally:
            in_flight["now"] -= 1

    monkeypatch.setattr(SwiftFileSystem, "_request", counting)
    ds = xr.Dataset({"v": ("x", np.arange(1000, dtype="i4"))}).chunk({"x": 1})
    objstore.write_cube(ds, "swift://cubes/many.zarr", profile=swift_profile)
    assert in_flight["puts"] >= 1000
    assert in_flight["max"] > 1
    back = objstore.open_cube("swift://cubes/many.zarr", profile=swift_profile)
    np.testing.assert_array_equal(back["v"].values, np.arange(1000))


# ---------------------------------------------------------------------- large objects, swift CLI
def test_static_large_object_round_trip_and_swift_cli_reads_it(swift, new_fs, tmp_path):
    fs = new_fs(swift, tmp_path / "tokens", segment_size=100)
    data = os.urandom(1050)
    fs.pipe("big/obj.bin", data)
    info = fs.info("big/obj.bin")
    assert info["slo"] and info["size"] == 1050
    segments = fs.find("big_segments")
    assert len(segments) == 11 and all(s.startswith("big_segments/obj.bin/slo/") for s in segments)
    assert fs.cat("big/obj.bin") == data and fs.cat_file("big/obj.bin", 95, 205) == data[95:205]
    assert swift_cli(swift, "download", "big", "obj.bin", "-o", "-") == data

    src = tmp_path / "file.bin"
    src.write_bytes(data[:333])
    fs.put_file(str(src), "big/from-file.bin")
    with fs.open("big/streamed.bin", "wb") as f:
        for i in range(0, 1050, 64):
            f.write(data[i:i + 64])
    assert fs.cat("big/from-file.bin") == data[:333] and fs.cat("big/streamed.bin") == data
    assert swift_cli(swift, "download", "big", "streamed.bin", "-o", "-") == data

    fs.pipe("big/obj.bin", data[:250])  # replacing a large object drops its old segments
    fs.rm(["big/from-file.bin", "big/streamed.bin"])
    assert fs.cat("big/obj.bin") == data[:250]
    assert len(fs.find("big_segments")) == 3
    fs.rm("big/obj.bin")
    assert fs.find("big_segments") == []


def test_swift_cli_upload_is_read_by_objstore_and_swift_list_sees_our_writes(swift, swift_fs,
                                                                             tmp_path):
    up = tmp_path / "updir"
    (up / "sub").mkdir(parents=True)
    (up / "a.txt").write_text("from the swift CLI")
    (up / "sub" / "large.bin").write_bytes(os.urandom(500))
    swift_cli(swift, "upload", "-S", "200", "peer", "updir", cwd=tmp_path)
    assert swift_fs.find("peer") == ["peer/updir/a.txt", "peer/updir/sub/large.bin"]
    assert swift_fs.cat("peer/updir/a.txt") == b"from the swift CLI"
    assert swift_fs.cat("peer/updir/sub/large.bin") == (up / "sub" / "large.bin").read_bytes()
    assert swift_fs.info("peer/updir/sub/large.bin")["slo"]

    swift_fs.pipe({"peer/ours/1": b"1", "peer/ours/2": b"2"})
    listed = swift_cli(swift, "list", "peer").decode().split()
    assert {"peer/ours/1", "peer/ours/2"} <= {f"peer/{n}" for n in listed}
    swift_fs.rm("peer/updir", recursive=True)  # the CLI's segments go with their manifest
    assert swift_fs.find("peer_segments") == []


# ---------------------------------------------------------------------- public containers
def test_public_container_is_readable_anonymously_then_private_again(swift, swift_profile,
                                                                       small_cube):
    objstore.write_cube(small_cube, "swift://pub/x.zarr", profile=swift_profile)
    fs = objstore.resolve("swift://pub/x.zarr", swift_profile).fs
    https = make_public(fs, "pub/x.zarr")
    assert https == f"{swift.storage_url}/pub/x.zarr"

    anon = objstore.open_cube(https)  # no profile, no credentials: a public read
    xr.testing.assert_identical(anon.load(), small_cube.load())
    plain = xr.open_zarr(fsspec.get_mapper(https), consolidated=True)  # plain fsspec HTTP
    xr.testing.assert_identical(plain.load(), small_cube.load())

    make_private(fs, "pub/x.zarr")
    with pytest.raises(CredentialsError, match="private") as err:
        objstore.open_cube(https)
    assert "pub" in str(err.value)


def test_anonymous_read_of_a_private_container_is_a_clear_error(swift, swift_fs):
    swift_fs.pipe("private/x", b"secret")
    anon = SwiftFileSystem(storage_url=swift.storage_url, anonymous=True, skip_instance_cache=True)
    with pytest.raises(CredentialsError, match=r"container 'private' is private \(not public\)"):
        anon.cat("private/x")


def test_large_objects_in_public_containers_stay_readable(swift, swift_fs):
    swift_fs.mkdir("pubslo")
    swift_fs.set_container_read("pubslo", ".r:*,.rlistings")
    fs = SwiftFileSystem(auth_url=swift.auth_url, user=swift.user, key=swift.key,
                         segment_size=50, token_cache=False, skip_instance_cache=True)
    fs.pipe("pubslo/slo.bin", b"x" * 120)  # segments container inherits the read ACL
    anon = SwiftFileSystem(storage_url=swift.storage_url, anonymous=True, skip_instance_cache=True)
    assert anon.cat("pubslo/slo.bin") == b"x" * 120


# ---------------------------------------------------------------------- errors from the server
class _Flaky(BaseHTTPRequestHandler):
    failures = 0  # answers 503 this many times, then 200

    def do_GET(self):  # noqa: N802
        type(self).seen.append(self.headers.get("X-Auth-Token"))
        if type(self).failures > 0:
            type(self).failures -= 1
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def flaky():
    handler = type("Flaky", (_Flaky,), {"seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{server.server_address[1]}/v1/AUTH_x"
    server.shutdown()
    server.server_close()


def test_5xx_is_retried_then_a_remote_error_naming_url_and_status(flaky):
    handler, url = flaky
    fs = SwiftFileSystem(storage_url=url, token="tok-SECRET", skip_instance_cache=True)
    fs.retry_policy = RetryPolicy(retries=2, backoff_first=0.01)
    handler.failures = 2
    assert fs.cat("c/k") == b"ok"
    handler.failures = 10
    with pytest.raises(RemoteError, match=r"/v1/AUTH_x/c/k: Swift answered HTTP 503") as err:
        fs.cat("c/k")
    assert "tok-SECRET" not in str(err.value)
    assert fs.stats.retries == 4


def test_unreachable_server_is_a_remote_error(swift):
    fs = SwiftFileSystem(storage_url="http://127.0.0.1:9/v1/AUTH_x", token="t",
                         skip_instance_cache=True)
    fs.retry_policy = RetryPolicy(retries=2, backoff_first=0.01)
    with pytest.raises(RemoteError, match="127.0.0.1:9"):
        fs.cat("c/k")


# ---------------------------------------------------------------------- zarrswift compatibility
def test_swiftstore_zarrswift_compatible_round_trip(swift, small_cube, monkeypatch):
    from objstore.swift.store import AuthMissingParameter, SwiftStore

    store = SwiftStore(container="zs", prefix="demo/cube.zarr", authurl=swift.auth_url,
                       user=swift.user, key=swift.key)
    small_cube.to_zarr(store, consolidated=True, zarr_format=2)
    xr.testing.assert_identical(xr.open_zarr(store).load(), small_cube.load())
    keys = store.keys()
    assert ".zmetadata" in keys and "tas/.zarray" in keys and len(store) == len(keys)
    assert ".zgroup" in store and "nope" not in store
    assert b"zarr_format" in store[".zgroup"]
    store["extra"] = b"1"
    del store["extra"]
    with pytest.raises(KeyError):
        store["extra"]
    assert "tas" in store.listdir()

    clone = pickle.loads(pickle.dumps(store))
    xr.testing.assert_identical(xr.open_zarr(clone).load(), small_cube.load())

    url, token = swift.get_token()
    monkeypatch.setenv("OS_STORAGE_URL", url)
    monkeypatch.setenv("OS_AUTH_TOKEN", token)
    from_env = SwiftStore("zs", "demo/cube.zarr")  # zarrswift's environment fallback
    assert sorted(from_env.keys()) == sorted(keys)
    monkeypatch.delenv("OS_AUTH_TOKEN")
    with pytest.raises(AuthMissingParameter, match="preauthtoken"):
        SwiftStore("zs")
    store.rmdir()
    assert store.keys() == []


def test_swiftstore_clear_and_getsize_work_synchronously_as_in_zarrswift(swift, swift_fs,
                                                                         small_cube):
    """zarrswift's sync getsize/clear: they return numbers and delete, also in a notebook cell
    (inside a running loop), while zarr 3's own async calls of them keep working."""
    import asyncio

    import zarr

    from objstore.swift import SwiftStore

    store = SwiftStore("zs2", "demo/cube.zarr", authurl=swift.auth_url, user=swift.user,
                       key=swift.key)
    small_cube.to_zarr(store, consolidated=True, zarr_format=2)
    swift_fs.pipe("zs2/outside.txt", b"not the store's")
    sizes = {k: len(store[k]) for k in store.keys()}
    assert store.getsize(".zgroup") == sizes[".zgroup"]
    assert store.getsize("tas") == sum(n for k, n in sizes.items() if k.startswith("tas/"))
    assert store.getsize() == sum(sizes.values())
    assert store.getsize("nothing-here") == 0
    assert dict(store.items())[".zgroup"] == store[".zgroup"]

    async def notebook_cell():
        return store.getsize(".zgroup")

    assert asyncio.run(notebook_cell()) == sizes[".zgroup"]
    tas = zarr.open_array(store, path="tas", mode="r")  # zarr awaits getsize_prefix itself
    assert tas.nbytes_stored() == store.getsize("tas")

    assert store.clear() is None
    assert store.keys() == [] and len(store) == 0
    assert swift_fs.cat("zs2/outside.txt") == b"not the store's"  # outside the prefix: kept


def test_swiftstore_at_a_container_root_never_deletes_the_container(swift, swift_fs,
                                                                    small_cube):
    """zarr's mode="w" and clear() empty the store; the container and its public ACL stay."""
    from objstore.swift import SwiftStore

    container = "zsroot"
    swift_fs.mkdir(container)
    swift_fs.set_container_read(container, ".r:*,.rlistings")
    store = SwiftStore(container, authurl=swift.auth_url, user=swift.user, key=swift.key)
    small_cube.to_zarr(store, consolidated=True, zarr_format=2)
    small_cube.isel(time=slice(0, 2)).to_zarr(store, mode="w", consolidated=True, zarr_format=2)
    anonymous = SwiftFileSystem(storage_url=swift.storage_url, anonymous=True,
                                skip_instance_cache=True)
    assert xr.open_zarr(fsspec.get_mapper(f"{swift.storage_url}/{container}")).sizes["time"] == 2
    store.clear()
    assert store.keys() == []
    assert anonymous.ls(container) == []  # still there, still public


def test_profile_storage_options_never_print_secrets(swift):
    profile = SwiftProfile(auth_url=swift.auth_url, user=swift.user, key="k-SECRET",
                           token="t-SECRET", storage_url=swift.storage_url)
    r = objstore.resolve("swift://c/x.zarr", profile)
    assert r.storage_options["key"] == "k-SECRET" and r.protocol == "swift"
    assert "SECRET" not in repr(r) + repr(r.fs) + repr(r.fs.storage_options)
