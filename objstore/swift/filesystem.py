"""SwiftFileSystem: an fsspec async filesystem for OpenStack Swift, on aiohttp.

Paths are ``container/key``; ``""`` is the account (its "directories" are the containers).
Pseudo-directories come from listings with ``delimiter=/``. A write into a missing container
creates it (as ``swift upload`` does). Objects above ``segment_size`` are written as Static Large
Objects, with segments in ``<container>_segments`` under ``<key>/slo/<time>/<size>/<segment
size>/<index>`` (the swift CLI's layout); replacing or deleting one deletes its segments.

Each event loop gets its own aiohttp session, whose keep-alive pool holds ``max_concurrency``
connections; fsspec's batched ``cat``/``pipe``/``get``/``put``/``rm`` and zarr's FsspecStore run
their requests concurrently on it. Tokens are renewed before they expire and, once, after a 401.
Errors: 404 -> FileNotFoundError, 401/403 -> CredentialsError, 5xx and network failures (after
the retries of :mod:`objstore.retry`) -> RemoteError; messages name the URL, never a key or token.
Integrity: every PUT carries the body's MD5 as ``ETag`` (Swift refuses a damaged body with 422), and
every whole-object GET is checked against its ``ETag`` (not large objects, whose ETag is not an
MD5); a mismatch is retried, then raised as RemoteError. ``checksums=False`` does neither.
``sign()`` gives a TempURL (:mod:`.tempurl`) that reads a private object without a token until it
expires; ``modified()`` is the object's last write time.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import os
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from glob import has_magic
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import yarl
from fsspec.asyn import AsyncFileSystem, sync_wrapper
from fsspec.callbacks import DEFAULT_CALLBACK

from .. import request_body
from ..errors import CredentialsError, RemoteError
from ..md5 import md5_hex_async
from ..retry import (
    DEFAULT_MAX_CONCURRENCY,
    RETRY_STATUSES,
    THROTTLE,
    THROTTLE_STATUSES,
    Attempts,
    policy_for,
    retry_after,
)
from . import auth, tempurl
from ._http import (
    _CHUNK,
    BodyError,
    RequestStats,
    _content_type,
    _file_chunks,
    _quote_path,
    _Reply,
    _safe,
    _Secret,
    _Sessions,
    check_etag,
    md5_file,
)
from .auth import DEFAULT_MARGIN, Credentials, Token, TokenCache
from .file import SwiftFile

__all__ = ["SwiftFileSystem", "SwiftFile", "RequestStats", "DEFAULT_SEGMENT_SIZE"]

#: Swift's default max object size is 5 GiB; keep a margin.
DEFAULT_SEGMENT_SIZE = 5 * 2**30 - 64 * 2**20
#: Swift's default ``max_manifest_segments``; larger uploads get bigger segments.
MAX_MANIFEST_SEGMENTS = 1000
_LISTING_LIMIT = 10000
_BULK_LIMIT = 1000
_DIR_TYPES = ("application/directory", "application/x-directory")


class SwiftFileSystem(AsyncFileSystem):
    """fsspec filesystem for OpenStack Swift (``swift://container/key``).

    Give credentials (``auth_url``/``user``/``key``, v1 or Keystone ``auth_version="3"`` with the
    project fields), or a ready ``storage_url`` + ``token``, or ``anonymous=True`` with a
    ``storage_url`` to read public containers. With none of these, the ST_*/OS_* environment
    variables are read. ``temp_url_key`` signs TempURLs without reading the key from the server.
    ``credentials``, a callable returning ``{"key": ..., "token": ...}``, gives the secrets by
    reference: it is pickled in their place (objstore's pickles as a profile name). The filesystem
    pickles as its arguments and authenticates again where it is unpickled (a dask worker), renewing
    its tokens there too (reusing the token cache on the same machine).
    """

    protocol = ("swift",)
    root_marker = ""
    #: ``_pipe_file`` sends any bytes-like object as it is (objstore's CubeStore then hands it a
    #: memoryview of a chunk instead of a copy)
    pipe_takes_buffers = True

    def __init__(
        self,
        auth_url: str | None = None,
        auth_version: str = "1",
        user: str | None = None,
        key: str | None = None,
        storage_url: str | None = None,
        token: str | None = None,
        project_name: str | None = None,
        project_id: str | None = None,
        user_domain_name: str | None = None,
        project_domain_name: str | None = None,
        region_name: str | None = None,
        token_lifetime: int | None = None,
        credentials: Callable[[], Mapping[str, str]] | None = None,
        segment_size: int | None = DEFAULT_SEGMENT_SIZE,
        max_concurrency: int | None = DEFAULT_MAX_CONCURRENCY,
        anonymous: bool = False,
        token_cache: bool | str = True,
        token_margin: float = DEFAULT_MARGIN,
        object_headers: dict[str, str] | None = None,
        temp_url_key: str | None = None,
        asynchronous: bool = False,
        loop: Any = None,
        batch_size: int | None = None,
        retries: int | None = None,
        timeout: float | None = None,
        checksums: bool = True,
        **kwargs: Any,
    ) -> None:
        self.max_concurrency = int(max_concurrency or DEFAULT_MAX_CONCURRENCY)
        super().__init__(asynchronous=asynchronous, loop=loop,
                         batch_size=batch_size or self.max_concurrency, **kwargs)
        creds = Credentials(
            auth_url=auth_url, auth_version=str(auth_version or "1"), user=user,
            key=str(key) if key is not None else None, storage_url=storage_url,
            token=str(token) if token is not None else None, project_name=project_name,
            project_id=project_id, user_domain_name=user_domain_name,
            project_domain_name=project_domain_name, region_name=region_name,
            token_lifetime=token_lifetime,
        )
        self._from_env = not anonymous and creds == Credentials(auth_version=creds.auth_version)
        if self._from_env:
            creds = Credentials.from_env(os.environ)
        self.credentials = creds
        # secrets by reference, read at the first request (where unpickled: a dask worker's config)
        self._secrets = credentials if key is None and token is None and not anonymous else None
        self.anonymous = bool(anonymous)
        self.segment_size = int(segment_size or DEFAULT_SEGMENT_SIZE)
        self.object_headers = dict(object_headers or {})  # on every object PUT, e.g. X-Delete-After
        self.token_margin = float(token_margin)
        self.checksums = bool(checksums)  # False: no ETag sent with a PUT, no GET compared
        # TempURL keys for sign(): given, else read from the container's or account's metadata
        self._temp_url_keys: dict[str, str] = {}
        self._temp_url_key = str(temp_url_key) if temp_url_key else None
        if isinstance(token_cache, (str, os.PathLike)):
            self._cache: TokenCache | None = TokenCache(Path(token_cache))
        else:
            self._cache = TokenCache() if token_cache else None
        if self.anonymous:
            if not creds.storage_url:
                raise CredentialsError("anonymous Swift access needs storage_url "
                                       "(https://HOST/v1/AUTH_account)")
        elif self._secrets is None and not creds.can_authenticate and not creds.preauthenticated:
            creds.require()
        self._token: Token | None = None if self.anonymous else creds.preauthenticated
        self.retry_policy = policy_for(None, retries=retries, timeout=timeout)
        self._sessions = _Sessions(self.retry_policy.timeout)
        weakref.finalize(self, self._sessions.close_all)
        self._known_containers: set[str] = set()
        self.stats = RequestStats()

    # ------------------------------------------------------------------ plumbing
    @property
    def storage_options(self) -> dict[str, Any]:  # type: ignore[override]
        return self._storage_options

    @storage_options.setter
    def storage_options(self, value: dict[str, Any]) -> None:
        self._storage_options = {
            k: _Secret(v) if k in ("key", "token", "temp_url_key") and isinstance(v, str) else v
            for k, v in value.items()
        }

    def __reduce__(self) -> tuple[Any, ...]:
        from fsspec.spec import make_instance

        opts = {k: str(v) if isinstance(v, _Secret) else v for k, v in self.storage_options.items()}
        if self._from_env:  # carry what the environment said here, workers may not have it
            opts.update({k: v for k, v in vars(self.credentials).items() if v is not None})
        return make_instance, (type(self), self.storage_args, opts)

    def __repr__(self) -> str:
        c = self.credentials
        where = c.storage_url or c.auth_url or ""
        who = "anonymous" if self.anonymous else (f"user={c.user!r}" if c.user else "token")
        return f"{type(self).__name__}({where!r}, {who})"

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        return super()._strip_protocol(path).lstrip("/")

    def split_path(self, path: str) -> tuple[str, str]:
        """``(container, key)`` of a path."""
        container, _, key = self._strip_protocol(path).partition("/")
        return container, key.strip("/")

    def _full(self, container: str, key: str = "") -> str:
        return f"{container}/{key}" if key else container

    def url_of(self, path: str) -> str:
        """The https URL of ``path`` (as readers of a public container use it)."""
        container, key = self.split_path(path)
        base = self._token.storage_url if self._token else self.credentials.storage_url
        if not base:
            return f"swift://{self._full(container, key)}"
        return base.rstrip("/") + _quote_path(container, key)

    def _take_secrets(self) -> None:
        """Read the key and token given by reference; raises what the reference raises."""
        assert self._secrets is not None
        given = self._secrets()
        creds = replace(self.credentials, key=given.get("key"), token=given.get("token"))
        if not creds.can_authenticate and creds.preauthenticated is None:
            creds.require()
        self.credentials, self._secrets = creds, None
        self._token = creds.preauthenticated

    async def _get_token(self, stale: Token | None = None) -> Token | None:
        """The token to use; renews it when stale (or when ``stale`` was just rejected)."""
        if self.anonymous:
            return None
        if self._secrets is not None:
            self._take_secrets()
        creds = self.credentials
        tok = self._token
        rejected = stale is not None and tok is not None and tok.token == stale.token
        if tok is not None and not rejected and (tok.fresh(self.token_margin)
                                                 or not creds.can_authenticate):
            return tok
        if not creds.can_authenticate:
            if rejected and stale is not None:
                raise auth.preauth_rejected(stale.storage_url)
            creds.require()
        session, lock = self._sessions.get(self.max_concurrency)
        async with lock:
            tok = self._token
            if tok is not None and tok.fresh(self.token_margin) and (
                    stale is None or tok.token != stale.token):
                return tok
            key = creds.cache_key()
            if self._cache is not None:
                if stale is not None:
                    self._cache.discard(key, stale)
                cached = self._cache.load(key)
                if cached is not None and cached.fresh(self.token_margin) and (
                        stale is None or cached.token != stale.token):
                    self._token = cached
                    return cached
            self.stats.auth_requests += 1
            tok = await auth.authenticate(creds, session)
            if self._cache is not None:
                self._cache.save(key, tok)
            self._token = tok
            return tok

    async def _request(
        self,
        method: str,
        container: str = "",
        key: str = "",
        *,
        query: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        data: Any = None,
        consume: Callable[[aiohttp.ClientResponse], Awaitable[Any]] | None = None,
        allow: Iterable[int] = (),
    ) -> _Reply:
        """One Swift request with auth, renewal after a 401, retries and error mapping.

        ``data`` may be a zero-argument callable giving a fresh body for each attempt.
        ``consume`` reads a 2xx response (streaming); ``allow`` lists statuses returned as is.
        """
        stale: Token | None = None
        renewed = False
        path = _quote_path(container, key)
        qs = "?" + "&".join(f"{k}={quote(str(v), safe='')}" if v is not None else k
                            for k, v in query.items()) if query else ""
        tries: Attempts | None = None
        while True:
            tok = await self._get_token(stale)
            base = (tok.storage_url if tok else str(self.credentials.storage_url)).rstrip("/")
            url = base + path
            tries = tries or Attempts(self.retry_policy, f"{method} {url}")
            hdrs = dict(headers or {})
            if tok is not None:
                hdrs["X-Auth-Token"] = tok.token
            body = data() if callable(data) else data
            session, _ = self._sessions.get(self.max_concurrency)
            stats = self.stats
            stats.requests[method] += 1
            stats.in_flight += 1
            stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
            failure: BaseException | None = None
            try:
                async with session.request(method, yarl.URL(url + qs, encoded=True), headers=hdrs,
                                           data=body, allow_redirects=False) as resp:
                    status = resp.status
                    if consume is not None and 200 <= status < 300:
                        return _Reply(status, resp.headers, b"", await consume(resp),
                                      tries.made)
                    reply = _Reply(status, resp.headers, await resp.read(), None, tries.made)
            except (TimeoutError, aiohttp.ClientError, BodyError) as exc:
                failure = exc
            finally:
                stats.in_flight -= 1
            if failure is not None:
                why = f"{type(failure).__name__}: {_safe(failure)}"
                # a pooled keep-alive connection the server had closed: retry at once
                if isinstance(failure, aiohttp.ServerDisconnectedError) and tries.made == 1:
                    tries.made += 1
                    stats.retries += 1
                    continue
                if await tries.retry(why):
                    stats.retries += 1
                    continue
                raise RemoteError(f"{method} {url} failed {tries.gave_up()}: {why}",
                                  url=url) from None
            if 200 <= status < 300 or status in allow:
                return reply
            if status == 401 and tok is not None and not renewed and (
                    self.credentials.can_authenticate):
                renewed, stale = True, tok
                continue
            if status in RETRY_STATUSES or status >= 500 or (status == 422 and "ETag" in hdrs):
                if status in THROTTLE_STATUSES:
                    THROTTLE.throttled(base)
                if await tries.retry(f"HTTP {status}", retry_after(reply.headers)):
                    stats.retries += 1
                    continue
                what = "the body did not match its ETag" if status == 422 else \
                    f"Swift answered HTTP {status}"
                raise RemoteError(f"{method} {url}: {what} {tries.gave_up()}", url=url,
                                  status=status)
            raise self._error(method, url, status, reply.body, tok, container, key)

    def _error(self, method: str, url: str, status: int, body: bytes, tok: Token | None,
               container: str, key: str) -> Exception:
        if status in (401, 403) and tok is None:
            return CredentialsError(
                f"anonymous access to {url} was refused (HTTP {status}): container "
                f"{container!r} is private (not public). Ask its owner to make it public "
                f"(objstore.swift.make_public, X-Container-Read: .r:*,.rlistings) or give "
                f"credentials ({auth.ENV_HELP})")
        if status == 401:
            if not self.credentials.can_authenticate:
                return auth.preauth_rejected(tok.storage_url if tok else url)
            return CredentialsError(f"Swift rejected a fresh token for "
                                    f"{self.credentials.describe()} on {url} (HTTP 401)")
        if status == 403:
            who = self.credentials.user or "the token's user"
            return CredentialsError(f"access denied (HTTP 403) to {url} for {who}: the user may "
                                    "not do this here (container ACL or role)")
        if status == 404:
            what = f"object {key!r} in container {container!r}" if key else (
                f"container {container!r}" if container else "account")
            return FileNotFoundError(errno.ENOENT, f"not found: {what} ({url})")
        if status == 409 and method == "GET":
            return RemoteError(f"GET {url}: HTTP 409: a large object whose segments cannot be "
                               f"read (is {container}_segments readable, e.g. public too?)")
        text = body[:200].decode("utf-8", "replace").strip()
        return RemoteError(f"{method} {url}: HTTP {status}" + (f": {text}" if text else ""))

    # ------------------------------------------------------------------ listings and info
    async def _listing(self, container: str, prefix: str = "", delimiter: str | None = "/",
                       limit: int | None = None) -> list[dict[str, Any]]:
        """All entries of a container (or, with ``container=""``, of the account)."""
        out: list[dict[str, Any]] = []
        marker = ""
        while True:
            page_limit = min(limit - len(out), _LISTING_LIMIT) if limit else _LISTING_LIMIT
            query: dict[str, Any] = {"format": "json", "limit": page_limit}
            if prefix:
                query["prefix"] = prefix
            if delimiter:
                query["delimiter"] = delimiter
            if marker:
                query["marker"] = marker
            reply = await self._request("GET", container, query=query, consume=_json_page)
            page = reply.result
            out.extend(page)
            if len(page) < page_limit or (limit and len(out) >= limit):
                return out
            marker = page[-1].get("name") or page[-1]["subdir"]

    def _entry(self, container: str, o: dict[str, Any]) -> dict[str, Any]:
        if "subdir" in o:
            return {"name": self._full(container, o["subdir"].rstrip("/")), "size": 0,
                    "type": "directory"}
        is_dir = o.get("content_type", "").split(";")[0] in _DIR_TYPES or o["name"].endswith("/")
        return {
            "name": self._full(container, o["name"].rstrip("/") if is_dir else o["name"]),
            "size": o.get("bytes", 0), "type": "directory" if is_dir else "file",
            "ETag": o.get("hash"), "last_modified": o.get("last_modified"),
            "content_type": o.get("content_type"), "slo": "slo_etag" in o,
        }

    async def _ls(self, path: str, detail: bool = True, return_glob: bool = False,
                  **kwargs: Any) -> list[Any]:
        """List ``path``; ``return_glob=True`` (as in adlfs) returns an empty listing as it is,
        without asking whether ``path`` is a file or missing (one request, not three)."""
        container, key = self.split_path(path)
        if not container:
            entries = [{"name": c["name"], "size": c.get("bytes", 0), "type": "directory",
                        "count": c.get("count", 0)} for c in await self._listing("")]
        else:
            prefix = key + "/" if key else ""
            found: dict[str, dict[str, Any]] = {}
            for o in await self._listing(container, prefix):
                if o.get("name") == prefix:
                    continue  # the directory marker of this very directory
                e = self._entry(container, o)
                if e["name"] not in found or e["type"] == "directory":
                    found[e["name"]] = e
            entries = list(found.values())
            if not entries and key and not return_glob:
                info = await self._info(path)  # a file lists as itself; else FileNotFoundError
                if info["type"] == "file":
                    entries = [info]
        entries.sort(key=lambda e: e["name"])
        return entries if detail else [e["name"] for e in entries]

    async def _info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        container, key = self.split_path(path)
        if not container:
            return {"name": "", "size": 0, "type": "directory"}
        if not key:
            reply = await self._request("HEAD", container)
            h = reply.headers
            return {"name": container, "size": int(h.get("X-Container-Bytes-Used", 0)),
                    "type": "directory", "count": int(h.get("X-Container-Object-Count", 0))}
        if (found := await self._head(container, key)) is not None:
            return found
        if await self._listing(container, key + "/", limit=1):
            return {"name": self._full(container, key), "size": 0, "type": "directory"}
        url = self.url_of(path)
        raise FileNotFoundError(errno.ENOENT, f"not found: {container}/{key} ({url})")

    async def _head(self, container: str, key: str) -> dict[str, Any] | None:
        """The object's info from one HEAD, or None if there is no such object."""
        reply = await self._request("HEAD", container, key, allow=(404,))
        if reply.status == 404:
            return None
        h = reply.headers
        ctype = h.get("Content-Type", "")
        return {
            "name": self._full(container, key), "size": int(h.get("Content-Length", 0)),
            "type": "directory" if ctype.split(";")[0] in _DIR_TYPES else "file",
            "ETag": h.get("Etag", "").strip('"'), "last_modified": h.get("Last-Modified"),
            "content_type": ctype, "slo": h.get("X-Static-Large-Object", "").lower() == "true",
        }

    async def _find(self, path: str, maxdepth: int | None = None, withdirs: bool = False,
                    **kwargs: Any) -> Any:
        detail = kwargs.pop("detail", False)
        container, key = self.split_path(path)
        if not container or maxdepth == 1:
            return await super()._find(path, maxdepth=maxdepth, withdirs=withdirs,
                                       detail=detail, **kwargs)
        root = self._full(container, key)
        depth = root.count("/") + 1 + (maxdepth or 0)  # deepest "/" count + 1 allowed
        try:
            objects = await self._listing(container, key + "/" if key else "", delimiter=None)
        except FileNotFoundError:
            objects = []
        out: dict[str, dict[str, Any]] = {}
        for o in objects:
            e = self._entry(container, o)
            if e["type"] == "file":
                out[e["name"]] = e
            if withdirs:
                parent = e["name"] if e["type"] == "directory" else e["name"].rsplit("/", 1)[0]
                while len(parent) >= len(root) and parent not in out:
                    out[parent] = {"name": parent, "size": 0, "type": "directory"}
                    if "/" not in parent:
                        break
                    parent = parent.rsplit("/", 1)[0]
        if not out and key:  # the listing said "no directory": one HEAD says whether it's a file
            info = await self._head(container, key)
            if info is not None and info["type"] == "file":
                out[root] = info
        if maxdepth:  # one listing, then keep what lies at most maxdepth levels below
            out = {n: i for n, i in out.items() if n == root or n.count("/") < depth}
        names = sorted(out)
        return {n: out[n] for n in names} if detail else names

    async def _isdir(self, path: str) -> bool:
        container, key = self.split_path(path)
        try:
            if not key:
                return not container or bool(await self._info(container))
            return bool(await self._listing(container, key + "/", limit=1))
        except FileNotFoundError:
            return False

    # ------------------------------------------------------------------ reading
    async def _cat_file(self, path: str, start: int | None = None, end: int | None = None,
                        **kwargs: Any) -> bytes:
        container, key = self.split_path(path)
        if not key:
            raise IsADirectoryError(errno.EISDIR, f"{path} is a container, not an object", path)
        if (start is not None and start < 0 and end is not None) or (end is not None and end < 0):
            size = (await self._info(path))["size"]
            start = None if start is None else (start + size if start < 0 else start)
            end = end + size if end < 0 else end
        headers: dict[str, str] = {}
        if start is not None and start < 0:
            headers["Range"] = f"bytes={start}"
        elif end is not None:
            if end <= (start or 0):
                return b""
            headers["Range"] = f"bytes={start or 0}-{end - 1}"
        elif start:
            headers["Range"] = f"bytes={start}-"
        checked = _checked_body if self.checksums else None
        reply = await self._request("GET", container, key, headers=headers, allow=(416,),
                                    consume=None if headers else checked)
        if reply.status == 416:
            return b""
        if not headers:
            return reply.result if checked else reply.body
        if reply.status == 200 and headers:  # the server ignored Range
            return reply.body[start or 0:end] if (start or 0) >= 0 else reply.body[start:]
        return reply.body

    async def _get_file(self, rpath: str, lpath: str, callback: Any = DEFAULT_CALLBACK,
                        **kwargs: Any) -> None:
        if os.path.isdir(lpath):
            return
        container, key = self.split_path(rpath)

        async def consume(resp: aiohttp.ClientResponse) -> None:
            size = int(resp.headers.get("Content-Length", 0) or 0)
            callback.set_size(size)
            digest = hashlib.md5(usedforsecurity=False)
            with open(lpath, "wb") as f:
                async for chunk in resp.content.iter_chunked(_CHUNK):
                    f.write(chunk)
                    digest.update(chunk)
                    callback.relative_update(len(chunk))
            if self.checksums:
                check_etag(resp.headers, digest.hexdigest(), f"GET {resp.url.with_query(None)}")

        try:
            await self._request("GET", container, key, consume=consume)
        except FileNotFoundError:
            if key and await self._isdir(rpath):
                os.makedirs(lpath, exist_ok=True)
                return
            raise

    # ------------------------------------------------------------------ writing
    async def _create_container(self, container: str, headers: dict[str, str] | None = None
                                ) -> bool:
        """PUT the container; True if it was created, False if it existed."""
        reply = await self._request("PUT", container, headers={"Content-Length": "0",
                                                               **(headers or {})})
        self._known_containers.add(container)
        return reply.status == 201

    async def _put_object(self, container: str, key: str, data: Any, length: int | None,
                          mode: str = "overwrite", headers: dict[str, str] | None = None,
                          query: dict[str, Any] | None = None, etag: str | None = None
                          ) -> _Reply:
        """PUT one object, creating its container on a 404; FileExistsError in mode="create".

        ``etag`` (the body's MD5; computed here for bytes) lets Swift refuse a damaged body."""
        hdrs = {"Content-Type": _content_type(key), **self.object_headers, **(headers or {})}
        if length is not None:
            hdrs["Content-Length"] = str(length)
        plain = not query and "X-Copy-From" not in hdrs  # else the ETag means something else
        if not self.checksums:
            etag = None
        elif etag is None and plain and isinstance(data, (bytes, bytearray, memoryview)):
            etag = await md5_hex_async(data)
        if etag is not None:
            hdrs["ETag"] = etag
        if mode == "create":
            hdrs["If-None-Match"] = "*"

        def fresh_body() -> Any:  # a fresh body for each attempt (a payload is used once)
            return request_body.body(data() if callable(data) else data)

        async def put() -> _Reply:
            reply = await self._request("PUT", container, key, query=query, headers=hdrs,
                                        data=fresh_body, allow=(404, 412))
            if reply.status == 412:
                if reply.attempts > 1 and etag and await self._holds(container, key, etag):
                    return reply  # an earlier attempt of this very PUT got through
                raise FileExistsError(errno.EEXIST, f"{container}/{key} exists", key)
            return reply

        reply = await put()
        if reply.status == 404:  # a missing container: create it, as the swift CLI does
            await self._create_container(container)
            reply = await put()
        if reply.status == 404:
            raise FileNotFoundError(errno.ENOENT, f"PUT {self.url_of(container + '/' + key)}: "
                                    "not found", container)
        return reply

    async def _holds(self, container: str, key: str, etag: str) -> bool:
        found = await self._head(container, key)
        return found is not None and found.get("ETag") == etag

    async def _ensure_segments_container(self, container: str) -> str:
        """``<container>_segments``, created once, readable by whoever may read ``container``."""
        seg = f"{container}_segments"
        if seg in self._known_containers:
            return seg
        reply = await self._request("HEAD", container, allow=(404,))
        if reply.status == 404:
            await self._create_container(container)
            read_acl = None
        else:
            read_acl = reply.headers.get("X-Container-Read")
        await self._create_container(seg, {"X-Container-Read": read_acl} if read_acl else None)
        return seg

    async def _put_segment(self, seg_container: str, name: str, data: Any, length: int,
                           etag: str | None) -> dict[str, Any]:
        reply = await self._put_object(seg_container, name, data, length, etag=etag,
                                       headers={"Content-Type": "application/octet-stream"})
        return {"path": f"/{seg_container}/{name}",
                "etag": reply.headers.get("Etag", "").strip('"') or None, "size_bytes": length}

    async def _put_manifest(self, container: str, key: str, segments: list[dict[str, Any]],
                            mode: str) -> None:
        """PUT the SLO manifest; then delete the segments of the large object it replaced."""
        old = await self._slo_segments(container, key) if mode != "create" else []
        try:
            await self._put_object(container, key, json.dumps(segments).encode(), None, mode,
                                    query={"multipart-manifest": "put"})
        except BaseException:
            await self._delete_segments(segments)
            raise
        new = {s["path"] for s in segments}
        if stale := [s for s in old if s.get("path") not in new]:
            await self._delete_segments(stale)

    async def _slo_segments(self, container: str, key: str) -> list[dict[str, Any]]:
        """The segments of ``container/key`` if it is a static large object, else []."""
        head = await self._request("HEAD", container, key, allow=(404,))
        if head.headers.get("X-Static-Large-Object", "").lower() != "true":
            return []
        reply = await self._request("GET", container, key, allow=(404,), query={
            "multipart-manifest": "get", "format": "raw"})
        try:
            found = json.loads(reply.body) if reply.status == 200 else []
        except ValueError:
            return []
        return [s for s in found if isinstance(s, dict) and "path" in s]

    async def _delete_segments(self, segments: list[dict[str, Any]]) -> None:
        paths = [s["path"].lstrip("/") for s in segments]
        try:
            await self._bulk_delete(paths)
        except Exception:  # best effort: never hide the error that brought us here
            pass

    def _segment_size_for(self, total: int) -> int:
        return max(self.segment_size, -(-total // MAX_MANIFEST_SEGMENTS))

    async def _put_slo(self, container: str, key: str, total: int,
                       reader: Callable[[int, int], Any], mode: str = "overwrite",
                       digest: Callable[[int, int], Awaitable[str]] | None = None) -> None:
        """Upload ``total`` bytes as segments (concurrently), then the manifest. ``digest`` gives
        a segment's MD5 where ``reader`` streams (bytes are hashed as they are sent)."""
        size = self._segment_size_for(total)
        seg = await self._ensure_segments_container(container)
        prefix = f"{key}/slo/{time.time():.6f}/{total}/{size}/"
        done: list[dict[str, Any]] = []

        async def one(i: int) -> dict[str, Any]:
            off = i * size
            n = min(size, total - off)
            etag = await digest(off, n) if digest is not None else None
            entry = await self._put_segment(seg, f"{prefix}{i:08d}", lambda: reader(off, n), n,
                                            etag)
            done.append(entry)
            return entry

        try:
            segments = await asyncio.gather(*(one(i) for i in range(-(-total // size))))
        except BaseException:
            await self._delete_segments(done)
            raise
        await self._put_manifest(container, key, list(segments), mode)

    async def _pipe_file(self, path: str, value: bytes, mode: str = "overwrite",
                         **kwargs: Any) -> None:
        container, key = self._object_path(path)
        data = value.encode() if isinstance(value, str) else value
        size = memoryview(data).nbytes
        if size > self.segment_size:
            view = memoryview(data).cast("B")
            await self._put_slo(container, key, size,
                                lambda off, n: view[off:off + n].tobytes(), mode,
                                (lambda off, n: md5_hex_async(view[off:off + n])) if self.checksums
                                else None)
        else:
            await self._put_object(container, key, data, size, mode)

    async def _put_file(self, lpath: str, rpath: str, callback: Any = DEFAULT_CALLBACK,
                        mode: str = "overwrite", **kwargs: Any) -> None:
        if os.path.isdir(lpath):
            container, key = self.split_path(rpath)
            if not key:
                await self._mkdir(container)
            return
        container, key = self._object_path(rpath)
        size = os.path.getsize(lpath)
        callback.set_size(size)
        if size > self.segment_size:
            await self._put_slo(container, key, size,
                                lambda off, n: _file_chunks(lpath, off, n), mode,
                                (lambda off, n: asyncio.to_thread(md5_file, lpath, off, n))
                                if self.checksums else None)
        else:
            etag = await asyncio.to_thread(md5_file, lpath, 0, size) if self.checksums else None
            await self._put_object(container, key, lambda: _file_chunks(lpath, 0, size), size,
                                   mode, etag=etag)
        callback.relative_update(size)

    def _object_path(self, path: str) -> tuple[str, str]:
        container, key = self.split_path(path)
        if not container or not key:
            raise IsADirectoryError(errno.EISDIR, f"{path!r} is not an object path "
                                    "(container/key)", path)
        return container, key

    async def _cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        c1, k1 = self._object_path(path1)
        c2, k2 = self._object_path(path2)
        try:
            await self._put_object(c2, k2, b"", 0, headers={
                "X-Copy-From": _quote_path(c1, k1), "Content-Type": _content_type(k2)})
        except FileNotFoundError:
            raise FileNotFoundError(errno.ENOENT, f"not found: {path1} "
                                    f"({self.url_of(path1)})", path1) from None

    async def _touch(self, path: str, truncate: bool = True, **kwargs: Any) -> None:
        if truncate or not await self._exists(path):
            await self._pipe_file(path, b"")

    async def _mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        container, key = self.split_path(path)
        if not container:
            return
        if not key:
            if not await self._create_container(container) and not kwargs.get("exist_ok", True):
                raise FileExistsError(errno.EEXIST, f"container {container!r} exists", path)
        elif create_parents and container not in self._known_containers:
            await self._create_container(container)  # pseudo-directories need no marker

    async def _makedirs(self, path: str, exist_ok: bool = False) -> None:
        await self._mkdir(path, create_parents=True, exist_ok=True)

    # ------------------------------------------------------------------ deleting
    async def _rmdir(self, path: str) -> None:
        container, key = self.split_path(path)
        if key:
            if await self._listing(container, key + "/", limit=1):
                raise OSError(errno.ENOTEMPTY, f"{path} is not empty", path)
            return  # pseudo-directories vanish with their last object
        reply = await self._request("DELETE", container, allow=(409,))
        if reply.status == 409:
            raise OSError(errno.ENOTEMPTY, f"container {container!r} is not empty", path)
        self._known_containers.discard(container)

    async def _bulk_delete(self, paths: list[str]) -> None:
        """Delete ``container/key`` paths through the bulk middleware, else one by one."""
        async def batch(part: list[str]) -> None:
            body = "\n".join(_quote_path(*self.split_path(p)) for p in part).encode()
            reply = await self._request("POST", query={"bulk-delete": None}, data=body, headers={
                "Content-Type": "text/plain", "Accept": "application/json"}, allow=(400, 404,
                                                                                     405, 413))
            try:
                result = json.loads(reply.body) if reply.status == 200 else None
            except ValueError:
                result = None
            if not isinstance(result, dict) or "Number Deleted" not in result:
                await asyncio.gather(*(self._delete_object(p, known_slo=False, missing_ok=True)
                                       for p in part))
                return
            errors = [e for e in result.get("Errors") or [] if not str(e[1]).startswith("404")]
            if errors:
                raise RemoteError(f"bulk delete in {self.url_of('')}: {len(errors)} failed, "
                                  f"e.g. {errors[0][0]}: {errors[0][1]}")

        await asyncio.gather(*(batch(paths[i:i + _BULK_LIMIT])
                               for i in range(0, len(paths), _BULK_LIMIT)))

    async def _delete_object(self, path: str, known_slo: bool | None = None,
                             missing_ok: bool = False) -> None:
        """Delete one object; an SLO with its segments. ``known_slo=None``: find out."""
        container, key = self._object_path(path)
        if known_slo is not False:
            reply = await self._request("DELETE", container, key, allow=(400, 404),
                                        query={"multipart-manifest": "delete"},
                                        headers={"Accept": "application/json"})
            try:
                result = json.loads(reply.body) if reply.body.strip() else {}
            except ValueError:
                result = {}
            errors = result.get("Errors") or []
            not_slo = any("Not an SLO" in str(e) for e in errors) or reply.status == 400
            if not not_slo:
                if result.get("Number Deleted", 0) or reply.status == 204:
                    return
                if result.get("Number Not Found", 0) or reply.status == 404:
                    if missing_ok:
                        return
                    raise self._error("DELETE", self.url_of(path), 404, b"", None, container, key)
                if errors:
                    raise RemoteError(f"DELETE {self.url_of(path)}: {errors[0]}")
                return
        reply = await self._request("DELETE", container, key, allow=(404,) if missing_ok else ())

    async def _rm_file(self, path: str, **kwargs: Any) -> None:
        await self._delete_object(path)

    async def _rm(self, path: Any, recursive: bool = False, batch_size: int | None = None,
                  maxdepth: int | None = None, **kwargs: Any) -> None:
        paths = [path] if isinstance(path, str) else list(path)
        targets: dict[str, dict[str, Any] | None] = {}
        containers: list[str] = []
        for p in paths:
            p = self._strip_protocol(p)
            container, key = self.split_path(p)
            if has_magic(p):
                for q in await self._expand_path(p, recursive=recursive, maxdepth=maxdepth):
                    targets.setdefault(q, None)
            elif recursive:
                found = await self._find(p, maxdepth=maxdepth, detail=True)
                targets.update(found)
                if not key:
                    containers.append(container)
                elif not found:
                    raise FileNotFoundError(errno.ENOENT, f"not found: {p} ({self.url_of(p)})", p)
            elif not key:
                containers.append(container)
            else:
                targets[p] = None
        files = {n: i for n, i in targets.items() if not i or i.get("type") != "directory"}
        plain = [n for n, i in files.items() if i and not i.get("slo")]
        slos = [n for n, i in files.items() if i and i.get("slo")]
        unknown = [n for n, i in files.items() if not i]
        quiet = recursive or any(has_magic(p) for p in paths)
        await asyncio.gather(
            self._bulk_delete(plain) if plain else asyncio.sleep(0),
            *(self._delete_object(n, known_slo=True, missing_ok=True) for n in slos),
            *(self._delete_object(n, missing_ok=quiet) for n in unknown),
        )
        for c in containers:
            await self._rmdir_retrying(c)

    async def _rmdir_retrying(self, container: str) -> None:
        for delay in (0.05, 0.2, 0.5, 1.0, None):  # listings may lag the deletes briefly
            try:
                return await self._rmdir(container)
            except OSError as exc:
                if exc.errno != errno.ENOTEMPTY or delay is None:
                    raise
                await asyncio.sleep(delay)

    # ------------------------------------------------------------------ ACLs and files
    async def _set_container_read(self, container: str, acl: str | None) -> None:
        """Set (or with None remove) ``X-Container-Read`` on the container and its segments."""
        headers = {"X-Container-Read": acl} if acl else {"X-Remove-Container-Read": "1"}
        await self._request("POST", container, headers=headers)
        await self._request("POST", f"{container}_segments", headers=headers, allow=(404,))

    async def _storage_url(self) -> str:
        tok = await self._get_token()
        return (tok.storage_url if tok else str(self.credentials.storage_url)).rstrip("/")

    # ------------------------------------------------------------------ TempURL and dates
    async def _sign(self, path: str, expiration: float = 100, method: str = "GET",
                    **kwargs: Any) -> str:
        """A TempURL of the object ``path``: anyone may ``method`` it without a token for
        ``expiration`` seconds. The key is ``temp_url_key`` if given, else the container's or
        the account's ``Temp-URL-Key`` metadata (readable by users allowed to set it)."""
        container, key = self._object_path(path)
        secret = self._temp_url_key or await self._temp_url_key_of(container)
        url = await self._storage_url() + _quote_path(container, key)
        return tempurl.temp_url(url, secret, expiration, method)

    async def _temp_url_key_of(self, container: str) -> str:
        if container not in self._temp_url_keys:
            found = None
            if not self.anonymous:  # a user who may not read the metadata gets 403: no key
                head = await self._request("HEAD", container, allow=(403,))
                found = tempurl.key_from_metadata(head.headers, "Container")
                if found is None:
                    head = await self._request("HEAD", allow=(403,))
                    found = tempurl.key_from_metadata(head.headers, "Account")
            if found is None:
                raise CredentialsError(
                    f"cannot sign a URL in container {container!r}: it and the account have no "
                    f"Temp-URL-Key (or this user may not read it); {tempurl.HOW_TO_SET_KEY}")
            self._temp_url_keys[container] = found
        return self._temp_url_keys[container]

    def modified(self, path: str) -> datetime:
        """When the object was last written (UTC)."""
        info = self.info(path)
        stamp = info.get("last_modified")
        if info["type"] != "file" or not stamp:
            raise IsADirectoryError(errno.EISDIR, f"{path} is not an object: it has no "
                                    "modification time", path)
        if "," in stamp:  # HEAD: an HTTP date
            return parsedate_to_datetime(stamp).astimezone(UTC)
        return datetime.fromisoformat(stamp).replace(tzinfo=UTC)  # listings: ISO 8601 in UTC

    sign = sync_wrapper(_sign)
    touch = sync_wrapper(_touch)
    rmdir = sync_wrapper(_rmdir)
    set_container_read = sync_wrapper(_set_container_read)
    storage_url = sync_wrapper(_storage_url)

    def _open(self, path: str, mode: str = "rb", block_size: Any = None, autocommit: bool = True,
              cache_options: dict[str, Any] | None = None, **kwargs: Any) -> SwiftFile:
        if "a" in mode:
            raise NotImplementedError("Swift objects cannot be appended to; rewrite them")
        if "x" in mode and self.exists(path):
            raise FileExistsError(errno.EEXIST, f"{path} exists", path)
        return SwiftFile(self, path, mode, block_size=block_size or "default",
                         autocommit=autocommit, cache_options=cache_options, **kwargs)


async def _json_page(resp: aiohttp.ClientResponse) -> list[dict[str, Any]]:
    """A listing page; BodyError (retried) when it is not the JSON list Swift sends."""
    body = await resp.read()
    try:
        page = json.loads(body) if body.strip() else []
    except ValueError:
        raise BodyError(f"listing {resp.url.with_query(None)} is not JSON "
                        f"({len(body)} bytes)") from None
    if not isinstance(page, list):
        raise BodyError(f"listing {resp.url.with_query(None)} is not a JSON list")
    return page


async def _checked_body(resp: aiohttp.ClientResponse) -> bytes:
    """A whole object's bytes, checked against its ETag (BodyError, retried, if they differ)."""
    body = await resp.read()
    check_etag(resp.headers, await md5_hex_async(body),
               f"GET {resp.url.with_query(None)}")
    return body
