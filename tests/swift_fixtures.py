"""Fixtures for the Swift filesystem tests (on the session servers of tests/conftest.py).

A test module loads them with ``pytest_plugins = ("swift_fixtures",)``.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from objstore.profiles import SwiftProfile
from objstore.swift import SwiftFileSystem

__all__ = ["swift", "swift_fs", "swift_profile", "container", "new_fs", "make_fs"]


def make_fs(server, cache: Path | str | bool = False, **kwargs) -> SwiftFileSystem:
    """A fresh (uncached) SwiftFileSystem for ``server``'s admin user."""
    opts = {"auth_url": server.auth_url, "user": server.user, "key": server.key,
            "token_cache": str(cache) if isinstance(cache, Path) else cache}
    opts.update(kwargs)
    return SwiftFileSystem(skip_instance_cache=True, **opts)


@pytest.fixture(scope="session")
def new_fs():
    """``make_fs(server, cache=False, **kwargs)``: a fresh filesystem for a server's admin user."""
    return make_fs


@pytest.fixture
def swift(swift_server):
    """The session Swift server, emptied before the test."""
    swift_server.reset()
    yield swift_server
    swift_server.check()


@pytest.fixture
def swift_fs(swift, tmp_path: Path) -> SwiftFileSystem:
    return make_fs(swift, tmp_path / "tokens")


@pytest.fixture
def container(swift_fs: SwiftFileSystem) -> str:
    name = f"c{uuid.uuid4().hex[:8]}"
    swift_fs.mkdir(name)
    return name


@pytest.fixture
def swift_profile(swift) -> SwiftProfile:
    return SwiftProfile(name="swift-test", auth_url=swift.auth_url, user=swift.user,
                        key=swift.key)
