"""fsspec's own contract suite (``fsspec.tests.abstract``) on SwiftFileSystem and a real Swift.

Every test works under its own fresh prefix, so the suite's per-test clean-ups (recursive deletes
of what the test created) are skipped: on a local all-in-one Swift each object delete costs about
as much as a PUT. Each class deletes its container once at the end.
"""

from __future__ import annotations

import uuid

import pytest
from fsspec.tests import abstract

pytest_plugins = ("swift_fixtures",)


class SwiftFixtures(abstract.AbstractFixtures):
    @pytest.fixture(scope="class")
    def fs(self, new_fs, swift_server, tmp_path_factory):
        fs = new_fs(swift_server, tmp_path_factory.mktemp("tokens"))
        container = f"contract-{uuid.uuid4().hex[:8]}"
        fs.mkdir(container)
        fs._contract_container = container
        yield fs
        fs.rm(container, recursive=True)

    @pytest.fixture
    def fs_join(self):
        return lambda *args: "/".join(args)

    @pytest.fixture
    def fs_path(self, fs):
        return f"{fs._contract_container}/{uuid.uuid4().hex[:8]}"

    @pytest.fixture
    def supports_empty_directories(self):
        return False  # Swift has pseudo-directories: they exist while objects are under them

    # The same scenarios as fsspec's, without the per-test recursive delete (fresh prefixes).
    @pytest.fixture
    def fs_bulk_operations_scenario_0(self, fs, fs_join, fs_path):
        return self._bulk_operations_scenario_0(fs, fs_join, fs_path)

    @pytest.fixture
    def fs_glob_edge_cases_files(self, fs, fs_join, fs_path):
        return self._glob_edge_cases_files(fs, fs_join, fs_path)

    @pytest.fixture
    def fs_dir_and_file_with_same_name_prefix(self, fs, fs_join, fs_path):
        return self._dir_and_file_with_same_name_prefix(fs, fs_join, fs_path)

    @pytest.fixture
    def fs_10_files_with_hashed_names(self, fs, fs_join, fs_path):
        return self._10_files_with_hashed_names(fs, fs_join, fs_path)

    @pytest.fixture
    def fs_target(self, fs, fs_join, fs_path):
        return fs_join(fs_path, "target")


class TestSwiftCopy(abstract.AbstractCopyTests, SwiftFixtures):
    pass


class TestSwiftGet(abstract.AbstractGetTests, SwiftFixtures):
    pass


class TestSwiftPut(abstract.AbstractPutTests, SwiftFixtures):
    pass


class TestSwiftOpen(abstract.AbstractOpenTests, SwiftFixtures):
    pass


class TestSwiftPipe(abstract.AbstractPipeTests, SwiftFixtures):
    pass
