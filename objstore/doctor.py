"""``objstore doctor``: diagnose a profile or a URL, each failure with its fix.

Checks, in order, stopping early where a later check cannot mean anything (no endpoint, no access):
where the profile came from; the endpoint (DNS, TCP connect time); the server clock against ours;
listing the bucket (identity, latency over a few requests); a write/read/delete probe in a temporary
prefix (only where writes are allowed, always cleaned up), then whether the server honours
conditional creates and checksums there; anonymous read; a CORS preflight; and for a cube URL its
format, consolidated metadata, an interrupted write, and chunk sizes.
"""

from __future__ import annotations

import email.utils
import json
import socket
import statistics
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from .api import resolve
from .boundary import mapped_errors
from .conditional import probe
from .errors import (
    BucketNotFoundError,
    ConfigError,
    CredentialsError,
    NotFoundError,
    ObjstoreError,
    scrub,
)
from .public import public_url
from .registry import default_registry
from .server_checks import cors_preflight, refuses_wrong_md5
from .transfer import human_bytes
from .write_marker import MARKER, PUBLISH_MARKER, describe
from .zarr_keys import COMMIT_NAMES, ZARR_JSON, ZARRAY_JSON, ZGROUP_JSON, ZMETADATA_V2_JSON

if TYPE_CHECKING:
    from .api import Resolved
    from .profiles import Profile

__all__ = ["Check", "Report", "diagnose"]

Status = Literal["ok", "fail", "warn", "info", "skip"]

#: objects whose presence at a cube's root says which zarr format it is
_FORMAT_KEYS = {ZMETADATA_V2_JSON: 2, ZGROUP_JSON: 2, ZARR_JSON: 3}
_SMALL_CHUNK = 1 << 20
_BIG_CHUNK = 256 << 20
_SKEW_LIMIT_S = 300  # request signatures (S3, Azure) are refused past 15 minutes
#: the origin a CORS preflight comes from unless one is given
CORS_ORIGIN = "https://example.org"
#: how to allow browsers to read, per backend
@dataclass
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


@dataclass
class Report:
    target: str
    profile: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.status != "fail" for c in self.checks)

    def add(self, name: str, status: Status, detail: str, fix: str = "") -> Check:
        check = Check(name, status, scrub(detail), scrub(fix))
        self.checks.append(check)
        return check

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "profile": self.profile, "ok": self.ok,
                "checks": [asdict(c) for c in self.checks]}


def diagnose(target: str, profile: str | Profile | None = None, *, write: bool = True,
             samples: int = 3, timeout: float = 10.0, origin: str = CORS_ORIGIN) -> Report:
    """Run every check that applies to ``target`` (a URL, or a profile name) and return the report.
    ``origin``: the web page origin the CORS check asks for."""
    if "://" not in target and profile is None and target in default_registry().profiles:
        prof = default_registry().get(target)
        patterns = [m.split("*")[0] for m in prof.match if "://" in m.split("*")[0]]
        if not patterns:
            raise ConfigError(f"profile {target!r} names no bucket (it has no match pattern): "
                              f"give a URL, e.g. objstore doctor {prof.backend}://BUCKET --profile {target}")
        profile, target = target, patterns[0]
    r = resolve(target, profile)
    report = Report(r.url.url, r.profile.name)
    report.add("profile", "ok", f"{r.profile.name!r} ({r.url.backend}) from {r.profile.source}")
    if r.backend.is_local:
        report.add("endpoint", "skip", "local data: no endpoint")
    elif not _endpoint_checks(r, report, timeout):
        return report
    if not _listing_check(r, report, samples):
        return report
    if write and not getattr(r.profile, "anonymous", False) and r.url.bucket:
        if _probe(r, report) and r.backend.has_buckets:
            _conditional_check(r, report)
            _checksum_check(r, report)
    elif r.url.bucket:
        report.add("write probe", "skip", "anonymous profile" if write else "--no-write")
    if r.url.bucket and r.backend.has_buckets:
        _anonymous_check(r, report, timeout)
        _cors_check(r, report, timeout, origin)
    if r.url.key:
        _cube_checks(r, report)
    return report


def _fix_endpoint(r: Resolved) -> str:
    return (f"check the endpoint of profile {r.profile.name!r} ({r.profile.source}): "
            f"`objstore profiles show {r.profile.name}`")


def _endpoint_url(r: Resolved) -> str:
    return public_url(r)


def _endpoint_checks(r: Resolved, report: Report, timeout: float) -> bool:
    try:
        url = _endpoint_url(r)
    except ObjstoreError as exc:
        report.add("endpoint", "fail", str(exc), _fix_endpoint(r))
        return False
    except Exception as exc:  # Swift asks for a token to learn its storage URL
        report.add("endpoint", "fail", f"{type(exc).__name__}: {exc}", _fix_endpoint(r))
        return False
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        t0 = time.perf_counter()
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        dns_ms = (time.perf_counter() - t0) * 1000
    except socket.gaierror as exc:
        report.add("endpoint", "fail", f"cannot resolve {host}: {exc.strerror}", _fix_endpoint(r))
        return False
    family, _, _, _, sockaddr = addresses[0]
    try:
        t0 = time.perf_counter()
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
        connect_ms = (time.perf_counter() - t0) * 1000
    except OSError as exc:
        report.add("endpoint", "fail", f"{host}:{port} ({sockaddr[0]}): "
                   f"{exc.strerror or type(exc).__name__}", _fix_endpoint(r))
        return False
    report.add("endpoint", "ok", f"{parts.scheme}://{host}:{port} ({sockaddr[0]}); DNS {dns_ms:.0f} ms, "
               f"connect {connect_ms:.0f} ms")
    _clock_check(f"{parts.scheme}://{parts.netloc}/", report, timeout)
    return True


def _clock_check(url: str, report: Report, timeout: float) -> None:
    date = None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="GET"), timeout=timeout) as rsp:
            date = rsp.headers.get("Date")
    except urllib.error.HTTPError as exc:  # any answer carries the server's clock
        date = exc.headers.get("Date")
    except (OSError, ValueError) as exc:
        report.add("clock", "skip", f"no answer from {url}: {exc}")
        return
    if not date:
        report.add("clock", "skip", "the server sends no Date header")
        return
    skew = email.utils.parsedate_to_datetime(date).timestamp() - time.time()
    if abs(skew) > _SKEW_LIMIT_S:
        report.add("clock", "fail", f"this machine's clock is {abs(skew):.0f} s "
                   f"{'behind' if skew > 0 else 'ahead of'} the server's",
                   "set the clock (e.g. enable NTP): signed requests are refused past 15 minutes")
    else:
        report.add("clock", "ok", f"within {abs(skew):.0f} s of the server's")


def _listing_check(r: Resolved, report: Report, samples: int) -> bool:
    where = r.url.bucket or "the account"
    times = []
    try:
        with mapped_errors(r):
            for _ in range(max(1, samples)):
                t0 = time.perf_counter()
                r.fs.invalidate_cache()
                r.fs.ls(r.url.bucket or "", detail=False)
                times.append((time.perf_counter() - t0) * 1000)
    except CredentialsError as exc:
        report.add("access", "fail", str(exc),
                   f"check the credentials of profile {r.profile.name!r} ({r.profile.source}); "
                   "a wrong key or an expired token is refused here")
        return False
    except (BucketNotFoundError, NotFoundError, FileNotFoundError):
        report.add("access", "fail", f"{where} does not exist at this endpoint",
                   f"create {where!r} (the provider's console or CLI), or fix the URL")
        return False
    except Exception as exc:
        report.add("access", "fail", f"listing {where}: {type(exc).__name__}: {exc}",
                   _fix_endpoint(r))
        return False
    report.add("access", "ok", f"listed {where}: median {statistics.median(times):.0f} ms over "
               f"{len(times)} requests")
    return True


def _probe(r: Resolved, report: Report) -> bool:
    """Write, read back and delete one object in a temporary prefix; never leave it behind.
    True if all went well."""
    path = f"{r.url.bucket}/.objstore-doctor-{uuid.uuid4().hex[:12]}/probe"
    data = uuid.uuid4().bytes * 64
    fs = r.fs
    step = "write"
    try:
        with mapped_errors(r):
            fs.pipe_file(path, data)
            step = "read"
            back = fs.cat_file(path)
            if back != data:
                report.add("read/write probe", "fail", "read back different bytes than written",
                           "the store or a proxy alters data: contact the provider")
                return False
            step = "delete"
            fs.rm_file(path)
            fs.invalidate_cache()
        report.add("read/write probe", "ok", "wrote, read back and deleted a 1 KiB object")
        return True
    except Exception as exc:
        report.add("read/write probe", "fail", f"{step} failed: {exc}",
                   f"profile {r.profile.name!r} may be read-only here; use --no-write to skip")
        return False
    finally:
        try:
            if fs.exists(path):
                fs.rm_file(path)
        except Exception:
            pass


def _conditional_check(r: Resolved, report: Report) -> None:
    """Does a create that must fail when the object exists fail, even for two at once?"""
    prefix = f"{r.url.bucket}/.objstore-doctor-{uuid.uuid4().hex[:12]}"
    try:
        verdict = probe(r.fs, prefix)
    except Exception as exc:
        report.add("conditional writes", "skip", f"the probe failed: {type(exc).__name__}: {exc}")
        return
    if verdict.atomic:
        report.add("conditional writes", "ok", f"honoured: {verdict.detail}")
    elif verdict.kind == "unknown":
        report.add("conditional writes", "skip", verdict.detail)
    else:
        report.add("conditional writes", "warn", f"not atomic: {verdict.detail}",
                   "two write_cube(mode='w-') to one URL at the same moment can both go ahead "
                   "here: have one writer at a time per URL, or use a server that honours "
                   "If-None-Match: * (or ifGenerationMatch=0) on PUT")


def _checksum_check(r: Resolved, report: Report) -> None:
    """Does the server refuse an upload whose body does not match the MD5 sent with it?"""
    key = f".objstore-doctor-{uuid.uuid4().hex[:12]}/md5"
    try:
        refused = refuses_wrong_md5(r, key)
    except Exception as exc:
        report.add("checksums", "skip", f"could not send a checksum: {type(exc).__name__}: {exc}")
        return
    if refused:
        report.add("checksums", "ok", "an upload whose body does not match its MD5 is refused")
    else:
        report.add("checksums", "warn", "the server stored an upload whose body does not match "
                   "the MD5 sent with it: a body damaged on the way would be stored as it came",
                   "ask the provider to verify Content-MD5 on PUT; objstore still compares what "
                   "it reads with the checksums the server returns (docs/reliability.md)")


def _cors_check(r: Resolved, report: Report, timeout: float, origin: str) -> None:
    """Would a browser on ``origin`` be allowed to read? Only a warning: most readers are not
    browsers."""
    url = _endpoint_url(r)
    try:
        allowed, said = cors_preflight(url, origin, timeout)
    except OSError as exc:
        report.add("CORS", "skip", f"no answer to a preflight of {url}: {exc}")
        return
    if allowed:
        report.add("CORS", "ok", f"browsers on {origin} may read: the preflight answered {said}")
    else:
        report.add("CORS", "warn", f"browsers on {origin} may not read: the preflight answered "
                   f"{said}", r.backend.cors_fix)


def _anonymous_check(r: Resolved, report: Report, timeout: float) -> None:
    """Can someone with no credentials read it? Reported, not judged: private data is fine."""
    url = _endpoint_url(r)
    probe = url if r.url.key else url.rstrip("/") + "/"
    if r.url.key and not r.url.key.endswith(tuple(_FORMAT_KEYS)):
        probe = url.rstrip("/") + "/" + _metadata_name(r)
    try:
        with urllib.request.urlopen(probe, timeout=timeout) as rsp:
            report.add("anonymous read", "info", f"public: {probe} answers {rsp.status} without credentials")
    except urllib.error.HTTPError as exc:
        report.add("anonymous read", "info", f"private: anonymous readers get {exc.code}; "
                   f"`objstore public {r.url.url}` makes it public")
    except OSError as exc:
        report.add("anonymous read", "skip", f"{probe}: {exc}")


def _metadata_name(r: Resolved) -> str:
    names = _listing(r)
    return next((k for k in COMMIT_NAMES if k in names), ZMETADATA_V2_JSON)


def _listing(r: Resolved) -> set[str]:
    try:
        r.fs.invalidate_cache()
        return {n.rstrip("/").rsplit("/", 1)[-1] for n in r.fs.ls(r.path, detail=False)}
    except (FileNotFoundError, OSError):
        return set()


def _cube_checks(r: Resolved, report: Report) -> None:
    names = _listing(r)
    formats = sorted({_FORMAT_KEYS[n] for n in names if n in _FORMAT_KEYS})
    if not names:
        report.add("cube", "fail", f"nothing at {r.url.url}", "check the URL (`objstore ls` its parent)")
        return
    if not formats:
        report.add("cube", "info", f"{r.url.url} is not a zarr cube ({len(names)} entries, no zarr metadata)")
        return
    report.add("cube format", "ok", f"zarr format {formats[-1]}")
    if MARKER in names or PUBLISH_MARKER in names:
        report.add("complete", "fail", f"an interrupted write: {_marker_text(r, names)}",
                   "finish it by running the same write_cube(..., resume=True) or objstore cp "
                   "again (they send only what is missing; mode='w' rewrites it), or remove it "
                   f"with `objstore rm {r.url.url} --recursive`")
        return
    meta = _consolidated(r, names)
    if meta is None:
        report.add("consolidated metadata", "fail", "no consolidated metadata: readers need one "
                   "request per array to open it, and plain readers asking for it fail",
                   "consolidate it once its data is complete: python -c \"import objstore, zarr; "
                   f"zarr.consolidate_metadata(objstore.store('{r.url.url}'))\"")
        return
    report.add("consolidated metadata", "ok", f"{len(meta)} arrays described")
    _chunk_check(meta, report)


def _marker_text(r: Resolved, names: set[str]) -> str:
    name = MARKER if MARKER in names else PUBLISH_MARKER
    try:
        return describe(r.fs.cat_file(f"{r.path}/{name}"))
    except (OSError, ValueError):
        return describe(None)


def _consolidated(r: Resolved, names: set[str]) -> dict[str, dict[str, Any]] | None:
    """``{array: {"chunks": [...], "itemsize": n}}`` from the consolidated metadata, or None."""
    from .cube_open import _itemsize

    try:
        if ZMETADATA_V2_JSON in names:
            meta = json.loads(r.fs.cat_file(f"{r.path}/{ZMETADATA_V2_JSON}"))["metadata"]
            return {k[: -len(ZARRAY_JSON) - 1]: {"chunks": v["chunks"],
                                                  "itemsize": _itemsize(v["dtype"])}
                    for k, v in meta.items() if k.endswith(ZARRAY_JSON)}
        if ZARR_JSON in names:
            root = json.loads(r.fs.cat_file(f"{r.path}/{ZARR_JSON}"))
            nodes = (root.get("consolidated_metadata") or {}).get("metadata")
            if nodes is None:
                return None
            return {k: {"chunks": v["chunk_grid"]["configuration"]["chunk_shape"],
                        "itemsize": _itemsize(v["data_type"])}
                    for k, v in nodes.items() if v.get("node_type") == "array"}
    except (KeyError, ValueError, TypeError):
        return None
    return None


def _chunk_check(meta: dict[str, dict[str, Any]], report: Report) -> None:
    import math

    sizes = {k: math.prod(v["chunks"]) * v["itemsize"] for k, v in meta.items() if v["chunks"]}
    if not sizes:
        return
    biggest = max(sizes.values())
    data = {k: s for k, s in sizes.items() if s == biggest or len(meta[k]["chunks"]) > 1}
    smallest = min(data.values())
    detail = f"chunks of {human_bytes(smallest)} to {human_bytes(biggest)} (uncompressed)"
    if biggest < _SMALL_CHUNK:
        report.add("chunk sizes", "warn", detail + ": small chunks cost one request each",
                   "rechunk to 1-100 MiB per chunk when you next write it (write_cube's chunks=)")
    elif biggest > _BIG_CHUNK:
        report.add("chunk sizes", "warn", detail + ": a reader needs that much memory per chunk",
                   "rechunk to 1-100 MiB per chunk when you next write it (write_cube's chunks=)")
    else:
        report.add("chunk sizes", "ok", detail)
