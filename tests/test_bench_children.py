"""The benchmarks' child processes, on every backend: what a fresh process sends, counted exactly.

``benchmarks/bench_coldopen.py`` and ``bench_scale.py`` run each client in a fresh process and
count its requests from the moment it says it is ready. These tests run the same children against
the rig's server through a counting proxy and assert the request counts a user's fresh process
gets: a cold ``open_cube`` sends the floor's 4 requests, and re-running a finished publish lists
the destination instead of sending or asking about every object. No timings.
"""

from __future__ import annotations

from collections import Counter
from urllib.parse import urlsplit

import pytest
from _proc import run_child  # benchmarks/, on sys.path from conftest
from latency_proxy import LatencyProxy
from rigs import profile_via, server_port

import objstore

N_OBJECTS = 300


@pytest.fixture
def via(rig):  # type: ignore[no-untyped-def]
    """(rig, proxy, the benchmarks' spec for the rig through the proxy)."""
    with LatencyProxy("127.0.0.1", server_port(rig), delay_s=0.0, record=True) as px:
        yield rig, px, _spec(rig, px.url)


def _spec(rig, url: str) -> dict:  # type: ignore[no-untyped-def]
    spec = {"backend": rig.backend, "name": rig.bucket, "delay_ms": 0.0}
    if rig.backend == "s3":
        return {**spec, "endpoint": url, "key": "testing", "secret": "testing"}
    if rig.backend == "swift":
        storage_url, token = rig.server.get_token()
        return {**spec, "endpoint": url + urlsplit(storage_url).path, "token": token}
    if rig.backend == "azure":
        return {**spec, "endpoint": f"{url}/{rig.server.account_name}",
                "account_name": rig.server.account_name, "account_key": rig.server.account_key}
    return {**spec, "endpoint": url}


def _counted(px: LatencyProxy, script: str, job: dict) -> tuple[dict, Counter]:
    out = run_child(script, job, on_ready=px.reset_counts, timeout=300)
    assert "error" not in out, out.get("stderr", out["error"])
    return out, Counter(m for m, _ in px.requests)


def test_a_cold_open_in_a_fresh_process_sends_the_floors_four_requests(via, small_cube):
    rig, px, spec = via
    objstore.write_cube(small_cube, rig.url("cube.zarr"), profile=profile_via(rig, px.url))

    _, floor = _counted(px, "_coldopen_child.py", {"spec": spec, "client": "floor",
                                                   "key": "cube.zarr"})
    _, mine = _counted(px, "_coldopen_child.py", {"spec": spec, "client": "objstore",
                                                  "key": "cube.zarr"})

    assert floor == {"GET": 4}
    assert mine == floor


def test_publishing_again_lists_pages_instead_of_asking_per_object(via, tmp_path):
    import _scale_child

    rig, px, spec = via
    local = tmp_path / "cube.zarr"
    _scale_child.cube(N_OBJECTS).to_zarr(local, encoding=_scale_child.ENCODING,
                                         consolidated=True, zarr_format=2)
    job = {"spec": spec, "n": N_OBJECTS, "key": "published.zarr", "local": str(local)}

    _, first = _counted(px, "_scale_child.py", {**job, "op": "publish"})
    again, second = _counted(px, "_scale_child.py", {**job, "op": "publish_again"})

    assert first["PUT"] + first["POST"] >= N_OBJECTS  # every chunk was sent the first time
    assert again["out"] == "0"  # nothing uploaded the second time
    assert not second["PUT"] and not second["POST"]
    assert sum(second.values()) <= 10  # listing pages and a few metadata looks, not per object
