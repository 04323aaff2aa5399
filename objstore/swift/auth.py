"""Swift tokens: v1 auth (tempauth, swauth, most providers' ``/auth/v1.0``), Keystone v2/v3 through
keystoneauth1, and a token cache shared by processes.

The cache is one JSON file per identity in ``platformdirs.user_cache_dir("objstore")/swift-tokens``,
named by a SHA-256 of everything that identifies it (auth URL, user, key, project, ...), created
with mode 0600 and replaced atomically. A cached token is reused until shortly before it expires
(``margin`` seconds, at most a quarter of its lifetime) and discarded when the server rejects it.
Messages name URLs, users and variables; never a key or a token.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BackendNotInstalledError, CredentialsError, RemoteError
from ..retry import Attempts, RetryPolicy, retry_after
from .env import fields_from_env

if TYPE_CHECKING:
    import aiohttp

__all__ = [
    "DEFAULT_MARGIN",
    "Credentials",
    "Token",
    "TokenCache",
    "authenticate",
    "get_token",
    "preauth_rejected",
]

#: Seconds before expiry at which a token counts as stale (at most a quarter of its lifetime).
DEFAULT_MARGIN = 60.0
#: A token whose server gave no expiry is reused from the cache for at most this long.
UNKNOWN_EXPIRY_REUSE = 3600.0

#: Where Swift credentials come from, for this package's messages (the full table of variables is
#: the Swift backend's, objstore/backends/env.py; this package imports nothing of it).
ENV_HELP = ("ST_AUTH/ST_USER/ST_KEY, or OS_STORAGE_URL/OS_AUTH_TOKEN, or "
            "OS_AUTH_URL/OS_USERNAME/OS_PASSWORD/OS_PROJECT_NAME (Keystone v3)")


@dataclass(frozen=True)
class Token:
    """A token and the storage URL it is valid for; ``expires_at`` is a UNIX time or None."""

    storage_url: str
    token: str = field(repr=False)
    expires_at: float | None = None
    issued_at: float = field(default_factory=time.time)

    def fresh(self, margin: float = DEFAULT_MARGIN, now: float | None = None) -> bool:
        """True while usable for ``margin`` more seconds (at most a quarter of its lifetime)."""
        if self.expires_at is None:
            return True
        now = time.time() if now is None else now
        lifetime = max(self.expires_at - self.issued_at, 0.0)
        return self.expires_at - min(margin, lifetime / 4) > now


@dataclass(frozen=True)
class Credentials:
    """Everything that identifies a Swift user; ``key`` and ``token`` never appear in ``repr``."""

    auth_url: str | None = None
    auth_version: str = "1"
    user: str | None = None
    key: str | None = field(default=None, repr=False)
    storage_url: str | None = None
    token: str | None = field(default=None, repr=False)
    project_name: str | None = None
    project_id: str | None = None
    user_domain_name: str | None = None
    project_domain_name: str | None = None
    region_name: str | None = None
    token_lifetime: int | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Credentials:
        """Credentials from ST_*/OS_* variables (:mod:`.env`)."""
        fields, _used = fields_from_env(env)
        fields.pop("backend", None)
        return cls(**fields)

    @property
    def version(self) -> str:
        return str(self.auth_version or "1").lstrip("v").split(".")[0]

    @property
    def can_authenticate(self) -> bool:
        """True when credentials (not just a ready token) are at hand, so tokens can be renewed."""
        return bool(self.auth_url and self.user and self.key)

    @property
    def preauthenticated(self) -> Token | None:
        """The given storage URL + token pair, if any."""
        if self.storage_url and self.token:
            return Token(self.storage_url.rstrip("/"), self.token, None)
        return None

    def missing(self) -> list[str]:
        """Environment variables (and field names) that are missing to authenticate."""
        if self.version == "1":
            names = [("ST_AUTH", "auth_url"), ("ST_USER", "user"), ("ST_KEY", "key")]
        else:
            names = [("OS_AUTH_URL", "auth_url"), ("OS_USERNAME", "user"), ("OS_PASSWORD", "key")]
        return [f"{var} ({fld})" for var, fld in names if not getattr(self, fld)]

    def describe(self) -> str:
        """For messages: who, where (no secrets)."""
        who = f"user {self.user!r}" if self.user else "no user"
        return f"{who} at {self.auth_url}"

    def cache_key(self) -> str:
        """SHA-256 over every field that identifies the token (the key included)."""
        parts = [self.auth_url, self.version, self.user, self.key, self.project_name,
                 self.project_id, self.user_domain_name, self.project_domain_name,
                 self.region_name, self.storage_url]
        return hashlib.sha256("\0".join(p or "" for p in parts).encode()).hexdigest()

    def require(self) -> None:
        """Raise :class:`CredentialsError` naming the missing variables, if any."""
        if self.can_authenticate:
            return
        if not (self.auth_url or self.user or self.key):
            if self.storage_url and not self.token:
                raise CredentialsError(
                    f"no token for the Swift storage URL {self.storage_url}: set OS_AUTH_TOKEN "
                    f"(token), or give credentials ({ENV_HELP}), or use anonymous=True to read "
                    "public containers")
            raise CredentialsError(f"no Swift credentials: set {ENV_HELP}")
        raise CredentialsError(
            f"incomplete Swift credentials for {self.auth_url or 'Swift'}: missing "
            + ", ".join(self.missing()))


def preauth_rejected(storage_url: str) -> CredentialsError:
    """The error for a rejected pre-authenticated token with no credentials to renew it."""
    return CredentialsError(
        f"the pre-authenticated token for {storage_url} was rejected or expired; set "
        "OS_AUTH_TOKEN to a fresh token or give credentials (ST_AUTH/ST_USER/ST_KEY or "
        "OS_AUTH_URL/OS_USERNAME/OS_PASSWORD/OS_PROJECT_NAME)")


# ---------------------------------------------------------------------------- cache
def default_cache_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("objstore")) / "swift-tokens"


@dataclass(frozen=True)
class TokenCache:
    """Token files (mode 0600) in ``directory``; every method ignores I/O errors (cache only)."""

    directory: Path = field(default_factory=default_cache_dir)

    def _file(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def load(self, key: str) -> Token | None:
        path = self._file(key)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "r") as f:
                st = os.fstat(f.fileno())
                if st.st_mode & 0o077 or (hasattr(os, "getuid") and st.st_uid != os.getuid()):
                    return None  # not ours or readable by others: do not trust it
                data = json.load(f)
            tok = Token(**{k: data[k] for k in ("storage_url", "token", "expires_at", "issued_at")})
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if tok.expires_at is None and time.time() - tok.issued_at > UNKNOWN_EXPIRY_REUSE:
            return None
        return tok

    def save(self, key: str, token: Token) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
            try:  # mkstemp creates the file 0600 (O_EXCL), then it replaces the old one at once
                os.fchmod(fd, 0o600)
                with os.fdopen(fd, "w") as f:
                    json.dump(asdict(token), f)
                os.replace(tmp, self._file(key))
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError:
            pass

    def discard(self, key: str, token: Token | None = None) -> None:
        """Remove the cached token (only if it still is ``token``, when given)."""
        if token is not None:
            cached = self.load(key)
            if cached is not None and cached.token != token.token:
                return
        try:
            self._file(key).unlink()
        except OSError:
            pass


# ---------------------------------------------------------------------------- fetching
async def fetch_v1(creds: Credentials, session: aiohttp.ClientSession, *,
                   attempts: int = 3) -> Token:
    """``GET auth_url`` with X-Auth-User/X-Auth-Key (and X-Auth-Lifetime if set)."""
    import aiohttp

    headers = {"X-Auth-User": creds.user or "", "X-Auth-Key": creds.key or ""}
    if creds.token_lifetime:
        headers["X-Auth-Lifetime"] = str(int(creds.token_lifetime))
    url = str(creds.auth_url)
    tries = Attempts(RetryPolicy(retries=attempts - 1), f"GET {url}")  # objstore/retry.py
    while True:
        try:
            async with session.get(url, headers=headers, allow_redirects=False) as resp:
                status, rh = resp.status, resp.headers
                await resp.read()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            if await tries.retry(type(exc).__name__):
                continue
            raise RemoteError(f"cannot reach Swift auth at {url}: {type(exc).__name__}") from None
        if status in (401, 403):
            raise CredentialsError(
                f"Swift auth at {url} rejected the credentials of user {creds.user!r} "
                f"(HTTP {status}): check ST_USER/ST_KEY (user/key)")
        if (status >= 500 or status == 429) and await tries.retry(f"HTTP {status}",
                                                                   retry_after(rh)):
            continue
        if status // 100 != 2:
            raise RemoteError(f"Swift auth at {url} answered HTTP {status}")
        storage_url, token = rh.get("X-Storage-Url"), rh.get("X-Auth-Token") or rh.get(
            "X-Storage-Token")
        if not storage_url or not token:
            raise RemoteError(f"Swift auth at {url} gave no X-Storage-Url/X-Auth-Token")
        now = time.time()
        expires = rh.get("X-Auth-Token-Expires")
        try:
            expires_at = now + float(expires) if expires is not None else None
        except ValueError:
            expires_at = None
        return Token(storage_url.rstrip("/"), token, expires_at, now)
    raise AssertionError("unreachable")


def fetch_keystone(creds: Credentials) -> Token:
    """Keystone v3 (or v2) password auth; storage URL from the catalog's public object-store."""
    try:
        from keystoneauth1 import exceptions as ks_exc
        from keystoneauth1 import session as ks_session
        from keystoneauth1.identity import v2, v3
    except ImportError:
        raise BackendNotInstalledError(
            "Swift with Keystone auth needs 'keystoneauth1': pip install 'objstore[swift]'"
        ) from None
    url = str(creds.auth_url)
    if creds.version == "2":
        plugin: Any = v2.Password(url, username=creds.user, password=str(creds.key),
                                  tenant_name=creds.project_name, tenant_id=creds.project_id)
    else:
        domain = None if (creds.user_domain_name or creds.project_domain_name) else "Default"
        plugin = v3.Password(
            url, username=creds.user, password=str(creds.key),
            user_domain_name=creds.user_domain_name or domain,
            project_name=creds.project_name, project_id=creds.project_id,
            project_domain_name=(creds.project_domain_name or domain) if creds.project_name
            else None,
        )
    sess = ks_session.Session(auth=plugin)
    try:
        access = plugin.get_access(sess)
        storage_url = access.service_catalog.url_for(
            service_type="object-store", interface="public", region_name=creds.region_name)
    except ks_exc.Unauthorized:
        raise CredentialsError(
            f"Keystone at {url} rejected the credentials of user {creds.user!r}: check "
            "OS_USERNAME/OS_PASSWORD, OS_PROJECT_NAME and OS_USER_DOMAIN_NAME") from None
    except ks_exc.EndpointNotFound:
        region = f" in region {creds.region_name!r}" if creds.region_name else ""
        raise CredentialsError(
            f"the catalog of Keystone at {url} has no public object-store endpoint{region} for "
            "this project: check OS_PROJECT_NAME/OS_PROJECT_ID and OS_REGION_NAME") from None
    except ks_exc.ConnectFailure:
        raise RemoteError(f"cannot reach Keystone at {url}") from None
    except ks_exc.ClientException as exc:
        raise RemoteError(f"Keystone at {url} failed: {type(exc).__name__}") from None
    expires = access.expires
    return Token(str(storage_url).rstrip("/"), str(access.auth_token),
                 expires.timestamp() if expires is not None else None, time.time())


async def authenticate(creds: Credentials, session: aiohttp.ClientSession) -> Token:
    """A new token from the server (no cache). Raises :class:`CredentialsError` if incomplete."""
    creds.require()
    if creds.version == "1":
        tok = await fetch_v1(creds, session)
    else:
        tok = await asyncio.to_thread(fetch_keystone, creds)
    if creds.storage_url:  # an explicit storage URL (another account, an https alias) wins
        tok = replace(tok, storage_url=creds.storage_url.rstrip("/"))
    return tok


def get_token(token_cache: bool | str = True, margin: float = DEFAULT_MARGIN,
              **kwargs: Any) -> tuple[str, str, float | None]:
    """``(storage_url, token, expires_at)`` for the given SwiftFileSystem keyword arguments.

    With no credentials at all, the ST_*/OS_* environment variables are used. A cached token is
    returned while fresh; a pre-authenticated pair is returned as given. Callable from inside a
    running event loop (a notebook cell) as well.
    """
    import aiohttp

    provider = kwargs.pop("credentials", None)  # secrets by reference (see SwiftFileSystem)
    if provider is not None and kwargs.get("key") is None and kwargs.get("token") is None:
        kwargs.update(provider())
    known = {f.name for f in fields(Credentials)}  # SwiftFileSystem-only options are ignored
    creds = Credentials(**{k: v for k, v in kwargs.items() if v is not None and k in known})
    if creds == Credentials(auth_version=creds.auth_version):
        creds = Credentials.from_env(os.environ)
    if not creds.can_authenticate and creds.preauthenticated:
        return creds.preauthenticated.storage_url, str(creds.token), None
    cache = TokenCache(Path(token_cache)) if isinstance(token_cache, str) else TokenCache()
    key = creds.cache_key()
    if token_cache:
        cached = cache.load(key)
        if cached is not None and cached.fresh(margin):
            return cached.storage_url, cached.token, cached.expires_at

    async def fetch() -> Token:
        async with aiohttp.ClientSession() as session:
            return await authenticate(creds, session)

    # fsspec's own event loop thread: works from a running loop too (Jupyter), unlike asyncio.run
    from fsspec.asyn import get_loop, sync

    tok = sync(get_loop(), fetch)
    if token_cache:
        cache.save(key, tok)
    return tok.storage_url, tok.token, tok.expires_at
