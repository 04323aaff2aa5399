"""A fault-injecting HTTP/1.1 proxy for the test suite: put it in front of a real server and a
deterministic share of requests fails the way networks and object stores fail.

It reuses :class:`latency_proxy.LatencyProxy` (benchmarks/) for its thread, event loop, start/stop
and request counts, but relays whole messages instead of a byte stream: a fault has to know where a
response begins, where its body is and where it ends. Clients do not pipeline, so each connection
carries one request at a time. Faults, drawn per request from ``random.Random(seed)``:

* ``"503"``/``"500"``: answered by the proxy; the server never sees the request.
* ``"429"``: "Too Many Requests" from the proxy, with ``Retry-After: retry_after`` seconds.
* ``"403"``: an HTML "Forbidden" page from the proxy (a gateway or firewall in the way).
* ``"reset"``: the request reaches the server; its response is dropped and the connection reset.
* ``"midbody"``: the response head and half its body, then a reset.
* ``"stall"``: the response is held for ``stall_s`` seconds, then the connection reset.
* ``"truncate"``: a body (the request's if it has one, else the response's) loses its second half
  and its ``Content-Length`` says so: a well-formed message with the wrong content.
* ``"bitflip"``: one bit of that body flipped, length unchanged.
* ``"etag"``: a response's ``ETag`` replaced by another MD5-like value, body unchanged (what an
  S3 object encrypted with a KMS key looks like: its ETag is not its MD5).

``outage(seconds)`` resets every connection for a while (a server down or unreachable).
``injected`` counts the faults applied; ``headers_seen`` lists each request's header names.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import socket
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from latency_proxy import LatencyProxy

__all__ = ["FAULTS", "TRANSIENT", "FaultProxy"]

FAULTS = ("503", "500", "429", "403", "reset", "midbody", "stall", "truncate", "bitflip",
          "etag")
#: what a retry policy must survive without anyone noticing
TRANSIENT = ("503", "500", "reset", "midbody")
_NO_BODY_STATUS = (204, 304)
_ANSWERS = {"503": ("Service Unavailable", b""), "500": ("Internal Server Error", b""),
            "429": ("Too Many Requests", b""),
            "403": ("Forbidden", b"<html><body><h1>403 Forbidden</h1></body></html>")}


@dataclass
class _Message:
    start: bytes  # request or status line, without CRLF
    headers: list[tuple[str, str]]
    body: bytes = b""
    close: bool = False  # the sender closes the connection after this message

    def header(self, name: str) -> str | None:
        low = name.lower()
        return next((v for k, v in self.headers if k.lower() == low), None)

    def drop(self, *names: str) -> None:
        low = {n.lower() for n in names}
        self.headers = [(k, v) for k, v in self.headers if k.lower() not in low]

    def encode(self, *, keep_length: bool = False) -> bytes:
        headers = list(self.headers)
        if not keep_length:
            self.drop("Content-Length", "Transfer-Encoding")
            headers = [*self.headers, ("Content-Length", str(len(self.body)))]
        head = self.start + b"\r\n" + b"".join(
            f"{k}: {v}\r\n".encode("latin-1") for k, v in headers)
        return head + b"\r\n" + self.body


@dataclass
class _Exchange:
    method: str
    target: str
    fault: str | None = None
    applied: list[str] = field(default_factory=list)


async def _read_head(reader: asyncio.StreamReader) -> _Message | None:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial.strip():
            return None
        raise
    lines = raw[:-4].split(b"\r\n")
    headers = []
    for line in lines[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    msg = _Message(lines[0], headers)
    msg.close = (msg.header("Connection") or "").lower() == "close"
    return msg


async def _read_body(reader: asyncio.StreamReader, msg: _Message, *, response: bool) -> None:
    """Read ``msg``'s body (chunked bodies are decoded: they travel on with a Content-Length)."""
    if "chunked" in (msg.header("Transfer-Encoding") or "").lower():
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
            if not size:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        msg.body = b"".join(parts)
    elif (length := msg.header("Content-Length")) is not None:
        msg.body = await reader.readexactly(int(length))
    elif response:  # no length: the body runs to the end of the connection
        msg.body = await reader.read()
        msg.close = True


def _status(msg: _Message) -> int:
    return int(msg.start.split()[1])


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (not a FIN): what a crashed server or a middlebox does."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def _damaged(body: bytes, fault: str, rng: random.Random) -> bytes:
    if fault == "truncate":
        return body[: len(body) // 2]
    i = rng.randrange(len(body))
    return body[:i] + bytes([body[i] ^ (1 << rng.randrange(8))]) + body[i + 1:]


class FaultProxy(LatencyProxy):
    """A proxy to ``target_host:target_port`` failing ``rate`` of the requests with ``faults``.

    ``only(method, target)`` limits which requests may fail (default: all). ``configure()``
    changes faults, rate or filter while running (e.g. write clean, then read through faults).
    """

    def __init__(self, target_host: str, target_port: int, *, faults: Iterable[str] = TRANSIENT,
                 rate: float = 0.1, seed: int = 0, stall_s: float = 30.0,
                 retry_after: float = 0.0,
                 only: Callable[[str, str], bool] | None = None, record: bool = False) -> None:
        super().__init__(target_host, target_port, delay_s=0.0, record=record)
        self._rng = random.Random(seed)
        self.stall_s = float(stall_s)
        self.retry_after = retry_after
        self.injected: collections.Counter[str] = collections.Counter()
        #: (method, target, header names) of every request, as the client sent it
        self.headers_seen: list[tuple[str, str, list[str]]] = []
        self._down_until = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        self.configure(faults=faults, rate=rate, only=only)

    def configure(self, *, faults: Iterable[str] | None = None, rate: float | None = None,
                  only: Callable[[str, str], bool] | None = None) -> FaultProxy:
        if faults is not None:
            self.faults = tuple(faults)
            unknown = set(self.faults) - set(FAULTS)
            if unknown:
                raise ValueError(f"unknown faults {sorted(unknown)}; known: {FAULTS}")
        if rate is not None:
            self.rate = float(rate)
        self.only = only
        return self

    def outage(self, seconds: float) -> None:
        """Reset every connection (new or kept alive) for the next ``seconds``."""
        self._down_until = time.monotonic() + seconds

    def __repr__(self) -> str:
        return (f"FaultProxy({self.listen_host}:{self.port} -> {self.target_host}:"
                f"{self.target_port}, {self.rate:.0%} of {'/'.join(self.faults)})")

    # ------------------------------------------------------------- internals
    async def _start_server(self) -> int:
        self._server = await asyncio.start_server(self._serve, self.listen_host,
                                                  self.listen_port, backlog=1024)
        return self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await super()._shutdown()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2)

    def _draw(self, method: str, target: str) -> str | None:
        if not self.faults or (self.only is not None and not self.only(method, target)):
            return None
        if self._rng.random() >= self.rate:
            return None
        return self._rng.choice(self.faults)

    def _down(self) -> bool:
        return time.monotonic() < self._down_until

    async def _serve(self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        with self._lock:
            self._connections += 1
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            if self._down():
                return _reset(cwriter)
            while True:
                req = await _read_head(creader)
                if req is None:
                    break
                if (req.header("Expect") or "").lower() == "100-continue":
                    cwriter.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    req.drop("Expect")
                await _read_body(creader, req, response=False)
                method, target, _ = req.start.decode("latin-1").split(" ", 2)
                self._on_requests([(method, target)])
                self.headers_seen.append((method, target, [k for k, _ in req.headers]))
                if self._down():
                    return _reset(cwriter)
                ex = _Exchange(method, target, self._draw(method, target))
                if ex.fault in _ANSWERS:
                    self._count(ex.fault)
                    reason, body = _ANSWERS[ex.fault]
                    kind = "text/html" if body else "text/plain"
                    after = f"Retry-After: {self.retry_after:g}\r\n" if ex.fault == "429" else ""
                    cwriter.write(f"HTTP/1.1 {ex.fault} {reason}\r\nContent-Type: {kind}\r\n"
                                  f"{after}Content-Length: {len(body)}\r\n\r\n".encode() + body)
                    await cwriter.drain()
                    continue
                if ex.fault in ("truncate", "bitflip") and req.body:
                    req.body = _damaged(req.body, ex.fault, self._rng)
                    self._count(ex.fault)
                    ex.fault = None
                if upstream is None:
                    upstream = await asyncio.open_connection(self.target_host, self.target_port)
                upstream[1].write(req.encode())
                await upstream[1].drain()
                resp = await _read_head(upstream[0])
                if resp is None:
                    return _reset(cwriter)
                if method != "HEAD" and _status(resp) not in _NO_BODY_STATUS:
                    await _read_body(upstream[0], resp, response=True)
                if await self._fail_response(ex, resp, cwriter):
                    return None
                cwriter.write(resp.encode(keep_length=method == "HEAD"))
                await cwriter.drain()
                if resp.close or req.close:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            _reset(cwriter)
        except asyncio.CancelledError:  # the proxy stops
            _reset(cwriter)
        finally:
            if upstream is not None:
                upstream[1].transport.abort()
            with contextlib.suppress(Exception):
                cwriter.close()
            self._tasks.discard(task)
        return None

    async def _fail_response(self, ex: _Exchange, resp: _Message,
                             cwriter: asyncio.StreamWriter) -> bool:
        """Apply the exchange's fault to the response; True if the connection is gone."""
        fault = ex.fault
        if fault is None:
            return False
        if fault == "etag":
            if resp.header("ETag"):
                resp.headers = [(k, '"0123456789abcdef0123456789abcdef"' if k.lower() == "etag"
                                 else v) for k, v in resp.headers]
                self._count(fault)
            return False
        if fault in ("truncate", "bitflip"):
            if resp.body:
                resp.body = _damaged(resp.body, fault, self._rng)
                self._count(fault)
            return False
        self._count(fault if fault != "midbody" or len(resp.body) > 1 else "reset")
        if fault == "midbody" and len(resp.body) > 1:
            cwriter.write(resp.encode()[: -(len(resp.body) // 2)])
            await cwriter.drain()
        elif fault == "stall":
            await asyncio.sleep(self.stall_s)
        _reset(cwriter)
        return True

    def _count(self, fault: str) -> None:
        with self._lock:
            self.injected[fault] += 1
