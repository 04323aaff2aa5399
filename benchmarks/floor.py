"""The "raw client floor": how fast plain HTTP PUT/GET of N objects can go.

A keep-alive aiohttp client with at most ``concurrency`` requests in flight.
Whatever objstore achieves for the same objects through the same endpoint
(and the same ``LatencyProxy``) should be compared to this floor.

    stats = run_put_all([(url, body), ...], headers={"X-Auth-Token": tok})
    stats = run_get_all([url, ...], headers={"X-Auth-Token": tok})
    # -> {"wall_s", "requests", "bytes", "mb_s", "req_s", "status": {200: n}}

Query strings in the urls are sent as given (an Azure SAS: ``.../blob?sv=...&sig=...``);
``put_all(..., method="POST")`` uploads with POST (GCS's JSON API media upload).

S3 needs signed requests: pass ``sign=botocore_signer(endpoint, key, secret)``.
A signer is ``sign(method, url, headers, body) -> headers`` and is called once
per request, right before sending (its cost is included in ``wall_s``).
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

import aiohttp
import yarl

__all__ = ["put_all", "get_all", "run_put_all", "run_get_all", "botocore_signer", "Signer"]

Signer = Callable[[str, str, dict, bytes | None], Mapping[str, str]]


Counter = collections.Counter


class FloorError(RuntimeError):
    pass


def _stats(wall: float, n: int, nbytes: int, status: Counter) -> dict:
    return {
        "wall_s": wall,
        "requests": n,
        "bytes": nbytes,
        "mb_s": nbytes / 1e6 / wall if wall > 0 else float("inf"),
        "req_s": n / wall if wall > 0 else float("inf"),
        "status": dict(status),
    }


async def _run(
    method: str,
    items: Sequence[tuple[str, bytes | None]],
    headers: Mapping[str, str] | None,
    concurrency: int,
    sign: Signer | None,
    raise_for_status: bool,
    timeout_s: float,
) -> dict:
    connector = aiohttp.TCPConnector(
        limit=concurrency, limit_per_host=concurrency, ttl_dns_cache=300
    )
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    sem = asyncio.Semaphore(concurrency)
    status: Counter = collections.Counter()
    nbytes = 0
    errors: list[str] = []

    async with aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        auto_decompress=False,
        skip_auto_headers=("Content-Type",),
    ) as session:

        async def one(url: str, body: bytes | None) -> None:
            nonlocal nbytes
            async with sem:
                h = dict(headers or {})
                if sign is not None:
                    h = dict(sign(method, url, h, body))
                # encoded=True: send the path exactly as given (and as signed).
                async with session.request(
                    method, yarl.URL(url, encoded=True), data=body, headers=h
                ) as resp:
                    if method == "GET":
                        n = 0
                        async for chunk in resp.content.iter_any():
                            n += len(chunk)
                        nbytes += n
                    else:
                        await resp.read()
                        nbytes += len(body) if body else 0
                    status[resp.status] += 1
                    if resp.status >= 400 and len(errors) < 5:
                        errors.append(f"{method} {url} -> {resp.status}")

        t0 = time.perf_counter()
        await asyncio.gather(*(one(u, b) for u, b in items))
        wall = time.perf_counter() - t0

    if raise_for_status and errors:
        raise FloorError(
            f"{sum(v for k, v in status.items() if k >= 400)} failed requests, e.g. {errors}"
        )
    return _stats(wall, len(items), nbytes, status)


async def put_all(
    urls_and_bodies: Iterable[tuple[str, bytes]],
    headers: Mapping[str, str] | None = None,
    concurrency: int = 64,
    *,
    sign: Signer | None = None,
    raise_for_status: bool = True,
    timeout_s: float = 600.0,
    method: str = "PUT",
) -> dict:
    """PUT every ``(url, body)``; at most ``concurrency`` in flight, keep-alive.

    ``method="POST"`` uploads with POST instead (GCS's JSON API media upload,
    ``POST .../upload/storage/v1/b/BUCKET/o?uploadType=media&name=NAME``).
    """
    items = [(u, bytes(b)) for u, b in urls_and_bodies]
    return await _run(method, items, headers, concurrency, sign, raise_for_status, timeout_s)


async def get_all(
    urls: Iterable[str],
    headers: Mapping[str, str] | None = None,
    concurrency: int = 64,
    *,
    sign: Signer | None = None,
    raise_for_status: bool = True,
    timeout_s: float = 600.0,
) -> dict:
    """GET every url (body read fully and discarded); at most ``concurrency`` in flight."""
    items = [(u, None) for u in urls]
    return await _run("GET", items, headers, concurrency, sign, raise_for_status, timeout_s)


def run_put_all(urls_and_bodies, headers=None, concurrency: int = 64, **kw) -> dict:
    """Sync wrapper of :func:`put_all` (must not be called from a running event loop)."""
    return asyncio.run(put_all(urls_and_bodies, headers, concurrency, **kw))


def run_get_all(urls, headers=None, concurrency: int = 64, **kw) -> dict:
    """Sync wrapper of :func:`get_all` (must not be called from a running event loop)."""
    return asyncio.run(get_all(urls, headers, concurrency, **kw))


def botocore_signer(
    endpoint_url: str,
    key: str,
    secret: str,
    region: str = "us-east-1",
    *,
    token: str | None = None,
    unsigned_payload: bool = True,
) -> Signer:
    """A ``sign`` hook producing S3 SigV4 headers with botocore.

    ``endpoint_url`` is only used as a sanity check (urls must start with it);
    the Host signed is the one of each request url, so sign with the url you
    actually send to (i.e. the proxy's, when going through ``LatencyProxy``).
    Urls must be path-style and already percent-encoded as S3 expects.
    With ``unsigned_payload`` the body is not hashed (``UNSIGNED-PAYLOAD``).
    """
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    class _Auth(S3SigV4Auth):
        def _should_sha256_sign_payload(self, request):  # noqa: D401
            return not unsigned_payload

    auth = _Auth(Credentials(key, secret, token), "s3", region)
    prefix = endpoint_url.rstrip("/")

    def sign(method: str, url: str, headers: dict, body: bytes | None) -> dict:
        if not url.startswith(prefix):
            raise ValueError(f"{url!r} is not under endpoint {endpoint_url!r}")
        req = AWSRequest(method=method, url=url, headers=dict(headers), data=body or b"")
        auth.add_auth(req)
        return dict(req.headers.items())

    return sign


if (
    __name__ == "__main__"
):  # tiny smoke run against a local server: python floor.py URL_PREFIX N SIZE
    import sys

    prefix, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    body = b"x" * size
    urls = [f"{prefix.rstrip('/')}/floor-{i:06d}" for i in range(n)]
    print("PUT", run_put_all([(u, body) for u in urls]))
    print("GET", run_get_all(urls))
