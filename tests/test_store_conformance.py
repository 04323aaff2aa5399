"""zarr's own store conformance suite (``zarr.testing.store.StoreTests``) on CubeStore, as
``objstore.resolve(url).zarr_store()`` builds it, over every backend and engine: the four real
servers (S3 with fsspec and obstore, Swift, GCS, Azure with fsspec and obstore), a local folder and
memory. ``TestPlainStore`` runs the same suite on the bare zarr store CubeStore wraps: what fails
there is marked ``xfail`` with its reason (PLAIN_FAILURES; a failure shared by both would go into
SERVER_FAILURES), listed in docs/architecture.md ("zarr's store conformance suite").

The suite's tests are coroutines; they run on zarr's own event loop (``zarr.core.sync.sync``),
where objstore runs every store call, so no asyncio plugin for pytest is needed.
"""

from __future__ import annotations

import functools
import inspect
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from rigs import make_rig
from zarr.abc.store import Store
from zarr.core.buffer import Buffer, cpu, default_buffer_prototype
from zarr.core.sync import sync
from zarr.storage import FsspecStore, LocalStore, ObjectStore
from zarr.testing.store import StoreTests

import objstore
from objstore.cubestore import CubeStore

#: (backend, engine): every server of the rig fixture, obstore where objstore offers it
TARGETS = [("s3", "fsspec"), ("s3", "obstore"), ("swift", "fsspec"), ("gcs", "fsspec"),
           ("azure", "fsspec"), ("azure", "obstore"), ("local", "fsspec"),
           ("memory", "fsspec")]
_SERVER = {"s3": "moto", "swift": "swift_server", "gcs": "gcs_server", "azure": "azurite"}

_SUFFIX = "\\x01\\x02\\x03\\x04-byte_range3"  # test_get's SuffixByteRequest(1) cases
_PICKLE = ("fsspec filesystems made with skip_instance_cache are not equal to their unpickled "
           "copies; CubeStore compares class and options")
_GCS_SUFFIX = ("the GCS emulator ignores suffix ranges (Range: bytes=-N) and answers with the "
               "whole object; CubeStore keeps its tail")
_AZURE_SUFFIX = ("adlfs asks for a suffix range, which Azure Blob does not offer; the SDK fails "
                 "on the answer (no Content-Range); CubeStore asks for the size and a range")
#: (backend, engine) -> {test name, or name[parameters]: why it fails on the plain zarr store
#: there}: CubeStore passes them all (docs/architecture.md ("zarr's store conformance suite") lists them)
PLAIN_FAILURES: dict[tuple[str, str], dict[str, str]] = {
    ("s3", "fsspec"): {"test_serializable_store": _PICKLE},
    ("swift", "fsspec"): {"test_serializable_store": _PICKLE},
    ("gcs", "fsspec"): {"test_serializable_store": _PICKLE, f"test_get[{_SUFFIX}]": _GCS_SUFFIX},
    ("azure", "fsspec"): {"test_serializable_store": _PICKLE, f"test_get[{_SUFFIX}]": _AZURE_SUFFIX,
                          "test_get_partial_values[key_ranges3]": _AZURE_SUFFIX},
    ("memory", "fsspec"): {"test_serializable_store": _PICKLE},
}
#: the same, for failures CubeStore shares with the plain store (none today)
SERVER_FAILURES: dict[tuple[str, str], dict[str, str]] = {}


@dataclass
class Target:
    backend: str
    engine: str
    resolved: Any  # objstore.api.Resolved
    secrets: list[str]

    def inner_args(self) -> tuple[type[Store], dict[str, Any]]:
        """The class and constructor arguments of the zarr store CubeStore wraps here."""
        inner = self.resolved.zarr_store().inner
        if isinstance(inner, FsspecStore):
            return FsspecStore, {"fs": inner.fs, "path": inner.path}
        if isinstance(inner, ObjectStore):
            return ObjectStore, {"store": inner.store}
        assert isinstance(inner, LocalStore)
        return LocalStore, {"root": inner.root}


def _secrets(profile: Any) -> list[str]:
    from pydantic import SecretStr

    return [v.get_secret_value() for _, v in profile if isinstance(v, SecretStr)
            and len(v.get_secret_value()) > 4]


@pytest.fixture(params=TARGETS, ids=lambda t: f"{t[0]}-{t[1]}")
def target(request: pytest.FixtureRequest, tmp_path: Any) -> Target:
    backend, engine = request.param
    key = f"conformance-{uuid.uuid4().hex[:8]}.zarr"
    if backend == "local":
        (tmp_path / key).mkdir()  # (a read-only LocalStore opens only an existing folder)
        return Target(backend, engine, objstore.resolve(str(tmp_path / key)), [])
    if backend == "memory":
        return Target(backend, engine, objstore.resolve(f"memory://conformance/{key}"), [])
    rig = _rig_for(request, backend)
    profile = rig.profile.model_copy(update={"engine": engine})
    r = objstore.resolve(rig.url(key), profile=profile)
    return Target(backend, engine, r, _secrets(profile))


_RIGS: dict[str, Any] = {}


def _rig_for(request: pytest.FixtureRequest, backend: str) -> Any:
    """One bucket per server for this module (each test works under its own prefix)."""
    if backend not in _RIGS:
        server = request.getfixturevalue(_SERVER[backend])
        _RIGS[backend] = make_rig(backend, server, f"c{uuid.uuid4().hex[:12]}")
    return _RIGS[backend]


def _on_zarr_loop(test: Any) -> Any:
    """A coroutine test as a plain test that runs it on zarr's event loop."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> Any:
        return sync(test(*args, **kwargs))

    return run


class _Suite(StoreTests[Any, cpu.Buffer]):
    """StoreTests with fixtures built from a :class:`Target` (subclasses say which store)."""

    buffer_cls = cpu.Buffer

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, value in inspect.getmembers(StoreTests):
            if name.startswith("test_") and inspect.iscoroutinefunction(value):
                setattr(cls, name, _on_zarr_loop(value))

    async def set(self, store: Any, key: str, value: Buffer) -> None:
        await _inner(store).set(key, value)  # not through the store under test

    async def get(self, store: Any, key: str) -> Buffer:
        buf = await _inner(store).get(key, prototype=default_buffer_prototype())
        assert buf is not None, key
        return buf

    def test_store_supports_writes(self, store: Any) -> None:
        assert store.supports_writes

    def test_store_supports_listing(self, store: Any) -> None:
        assert store.supports_listing


def _inner(store: Store) -> Store:
    return store.inner if isinstance(store, CubeStore) else store


@pytest.fixture(autouse=True)
def _known_failures(request: pytest.FixtureRequest) -> None:
    """Mark as xfail what fails on the plain zarr store over the same server (and on CubeStore,
    what fails on both)."""
    if "target" not in request.fixturenames:
        return
    target = request.getfixturevalue("target")
    known = dict(SERVER_FAILURES.get((target.backend, target.engine), {}))
    if request.cls is TestPlainStore:
        known.update(PLAIN_FAILURES.get((target.backend, target.engine), {}))
    for test, why in known.items():
        name, _, param = test.partition("[")
        if name == request.node.originalname and param.rstrip("]") in request.node.name:
            request.node.add_marker(pytest.mark.xfail(reason=why, strict=True))


class TestCubeStore(_Suite):
    """The suite on CubeStore, built by objstore for the target's URL and profile."""

    store_cls = CubeStore

    @pytest.fixture
    def open_kwargs(self, target: Target) -> dict[str, Any]:
        cls, kwargs = target.inner_args()  # CubeStore.open(store_cls, **kwargs)
        return {"store_cls": cls, **kwargs}

    @pytest.fixture
    def store_kwargs(self, target: Target) -> dict[str, Any]:
        cls, kwargs = target.inner_args()
        return {"store": cls(**kwargs)}

    @pytest.fixture
    def store(self, target: Target) -> CubeStore:
        store = target.resolved.zarr_store()
        sync(store._open())
        return store

    @pytest.fixture
    def store_not_open(self, store_kwargs: dict[str, Any]) -> CubeStore:
        return CubeStore(**store_kwargs)

    def test_store_repr(self, store: CubeStore, target: Target) -> None:  # type: ignore[override]
        text = repr(store) + str(store)
        assert text.startswith("CubeStore(")
        assert not any(s in text for s in target.secrets)


class TestPlainStore(_Suite):
    """The same suite on the bare zarr store (FsspecStore, ObjectStore, LocalStore) objstore
    wraps: what fails here too is the server's (or zarr's), not CubeStore's."""

    @pytest.fixture(autouse=True)
    def _store_cls(self, target: Target) -> None:
        self.store_cls = target.inner_args()[0]

    @pytest.fixture
    def store_kwargs(self, target: Target) -> dict[str, Any]:
        return target.inner_args()[1]

    @pytest.fixture
    def store(self, target: Target) -> Store:
        cls, kwargs = target.inner_args()
        return sync(cls.open(**kwargs))

    @pytest.fixture
    def store_not_open(self, target: Target) -> Store:
        cls, kwargs = target.inner_args()
        return cls(**kwargs)

    def test_store_repr(self, store: Store) -> None:
        assert repr(store)


def test_a_sharded_cube_reads_back_on_every_backend(rig):
    """zarr reads a shard's index with a suffix range, which Azure Blob does not offer and the
    GCS emulator ignores: a sharded cube still reads back equal."""
    import numpy as np
    import xarray as xr

    ds = xr.Dataset({"v": (("t", "x"), np.arange(64.0).reshape(8, 8))})
    url = rig.url("sharded.zarr")
    objstore.write_cube(ds, url, profile=rig.profile, zarr_format=3,
                        encoding={"v": {"chunks": (2, 4), "shards": (4, 8)}})
    back = objstore.open_cube(url, profile=rig.profile)
    assert back["v"].encoding.get("shards") == (4, 8)
    xr.testing.assert_identical(back.load(), ds)
    # one inner chunk: zarr reads the shard's index (its last bytes), then the chunk's range
    one = objstore.open_cube(url, profile=rig.profile, chunks=None)["v"][5, 1:3]
    np.testing.assert_array_equal(one.values, ds["v"][5, 1:3].values)
