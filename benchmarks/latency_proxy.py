"""WAN-latency TCP proxy for benchmarks (stdlib only).

Loopback object-store emulators answer in microseconds, real object stores in
10-100 ms.  ``LatencyProxy`` sits between a client and a local server and
delays every chunk of bytes by ``delay_s`` in *each* direction, so an HTTP
request/response round trip costs ``2 * delay_s`` extra, like a real WAN link.

Delays are pipelined, not serialised: every chunk is scheduled for delivery at
``arrival_time + delay_s`` (order preserved), so a long stream keeps its
throughput and only pays the latency once.  It is built on asyncio
Protocols (one timer per direction, no task per chunk) and applies the same
flow control that ``StreamWriter.drain()`` is made of: each direction's queue
is bounded by ``max_buffer`` (beyond it the proxy pauses reading that socket,
so TCP backpressure reaches the sender), and nothing is written while the
destination transport has asked to pause writing.

The client->server stream is sniffed for HTTP/1.x request lines (keep-alive,
``Content-Length`` and ``Transfer-Encoding: chunked`` bodies), and requests
are counted per method.  Requests are counted when their header block
*arrives* at the proxy, i.e. before they are forwarded, so by the time a
client has seen the response the request is already counted.

Usage::

    with LatencyProxy("127.0.0.1", 9000, delay_s=0.025) as proxy:
        client = make_client(endpoint=proxy.url)
        ...
        print(proxy.counts)       # {'GET': 12, 'PUT': 3, 'total': 15}

CLI::

    python benchmarks/latency_proxy.py --target 127.0.0.1:9000 --delay-ms 25 --port 0

prints the listening port on the first stdout line, and the counts on Ctrl-C
(or SIGTERM).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import re
import signal
import socket
import sys
import threading
import time
from typing import Any

__all__ = ["LatencyProxy", "HttpRequestSniffer"]

_MAX_HEAD = 64 * 1024  # give up sniffing a connection whose header block exceeds this

_REQUEST_LINE = re.compile(rb"([A-Z][A-Z_-]{0,31}) (\S+) HTTP/\d\.\d")  # use .fullmatch
_HEX = re.compile(rb"^[0-9a-fA-F]+$")


class HttpRequestSniffer:
    """Incremental HTTP/1.x request-stream parser that only finds request heads.

    ``feed(data)`` returns a list of ``(method, target)`` for every request head
    completed by ``data``.  Bodies are skipped (without copying) using
    ``Content-Length`` or ``Transfer-Encoding: chunked``.  Memory is bounded by
    ``_MAX_HEAD``: an incomplete header block / chunk line larger than that
    disables sniffing for the connection (``self.broken = True``).  Where a
    request line is expected but a complete line is not one, that line is
    skipped and ``self.garbage`` incremented, so the parser resynchronises on
    the next request line.
    """

    HEAD, BODY, CHUNK_SIZE, CHUNK_DATA, CHUNK_CRLF, TRAILER = range(6)

    def __init__(self) -> None:
        self.state = self.HEAD
        self.buf = b""  # unconsumed tail of an incomplete line/header block
        self.remaining = 0
        self.broken = False
        self.garbage = 0

    def feed(self, data: bytes) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if self.broken:
            return out
        if self.buf:
            data = self.buf + data
            self.buf = b""
        pos, n = 0, len(data)
        while pos < n:
            st = self.state
            if st == self.BODY or st == self.CHUNK_DATA:
                take = min(self.remaining, n - pos)
                pos += take
                self.remaining -= take
                if not self.remaining:
                    self.state = self.HEAD if st == self.BODY else self.CHUNK_CRLF
                continue
            if st == self.HEAD:
                while data.startswith(b"\r\n", pos):  # stray CRLFs between requests
                    pos += 2
                if pos >= n:
                    break
                eol = data.find(b"\r\n", pos)
                if eol >= 0 and not _REQUEST_LINE.fullmatch(data, pos, eol):
                    self.garbage += 1  # not a request line: skip it, resync
                    pos = eol + 2
                    continue
                end = data.find(b"\r\n\r\n", pos)
                if end < 0:
                    break
                req = self._parse_head(data[pos:end])
                pos = end + 4
                out.append(req)
                continue
            # CHUNK_SIZE / CHUNK_CRLF / TRAILER: one line at a time
            eol = data.find(b"\r\n", pos)
            if eol < 0:
                break
            line = data[pos:eol]
            pos = eol + 2
            if st == self.CHUNK_SIZE:
                size_txt = line.split(b";", 1)[0].strip()
                if not _HEX.match(size_txt):
                    self._break()
                    return out
                size = int(size_txt, 16)
                if size:
                    self.remaining = size
                    self.state = self.CHUNK_DATA
                else:
                    self.state = self.TRAILER
            elif st == self.CHUNK_CRLF:
                if line:
                    self._break()
                    return out
                self.state = self.CHUNK_SIZE
            elif not line:  # TRAILER ends with an empty line
                self.state = self.HEAD
        if pos < n:
            if n - pos > _MAX_HEAD:
                self._break()
            else:
                self.buf = data[pos:]
        return out

    def _parse_head(self, head: bytes) -> tuple[str, str]:
        lines = head.split(b"\r\n")
        m = _REQUEST_LINE.fullmatch(lines[0])
        assert m is not None  # checked by the caller
        method = m.group(1).decode("ascii")
        target = m.group(2).decode("latin-1")
        length = 0
        chunked = False
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                continue
            name = name.strip().lower()
            if name == b"content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    length = 0
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            self.state = self.CHUNK_SIZE
        elif length > 0:
            self.state = self.BODY
            self.remaining = length
        else:
            self.state = self.HEAD
        return method, target

    def _break(self) -> None:
        self.broken = True
        self.buf = b""


class LatencyProxy:
    """Asyncio TCP proxy adding ``delay_s`` per direction and counting HTTP requests.

    Runs its own event loop in a daemon thread.  Thread-safe read accessors:
    ``counts``, ``requests``, ``connections``, ``stats()``.

    Parameters
    ----------
    target_host, target_port:
        Where to forward connections.
    delay_s:
        One-way latency added to every chunk in each direction.
    listen_host, listen_port:
        Where to listen (``listen_port=0`` picks a free port; see ``.port``).
    record:
        Keep the list of ``(method, target)`` for every request in ``.requests``.
    handshake_rtts:
        Extra round trips (of ``2 * delay_s``) charged to each new connection
        before its first bytes are forwarded (1 ~ TCP, 2-3 ~ TCP+TLS).  Default
        0: connection setup is free, only data is delayed.
    max_buffer:
        Approximate bound on bytes queued per direction per connection.  Note
        it also bounds throughput per connection to about
        ``max_buffer / delay_s`` (bandwidth-delay product).
    quickack:
        (Linux) set ``TCP_QUICKACK`` on the upstream socket after every read.
        Works around origin servers that write a response in several small
        ``send()``s without ``TCP_NODELAY`` (e.g. ``http.server``): Nagle on
        their side + delayed ACK on ours stalls ~40 ms per response, with or
        without this proxy.  On by default so that the added latency is only
        the configured one (real stores don't have this stall); pass False to
        pass the origin's behaviour through unchanged.
    """

    def __init__(
        self,
        target_host: str,
        target_port: int,
        delay_s: float = 0.025,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
        *,
        record: bool = False,
        handshake_rtts: int = 0,
        max_buffer: int = 16 * 1024 * 1024,
        quickack: bool = True,
    ) -> None:
        self.target_host = target_host
        self.target_port = int(target_port)
        self.delay_s = float(delay_s)
        self.listen_host = listen_host
        self.listen_port = int(listen_port)
        self.record = record
        self.handshake_rtts = int(handshake_rtts)
        self.quickack = bool(quickack)
        self._max_buffer = max(64 * 1024, int(max_buffer))
        self._lock = threading.Lock()
        self._counts: collections.Counter[str] = collections.Counter()
        self._requests: list[tuple[str, str]] = []
        self._connections = 0
        self._active = 0
        self._bytes_up = 0
        self._bytes_down = 0
        self._unparsed = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._conns: set = set()
        self.port: int | None = None

    # ------------------------------------------------------------------ API
    @property
    def host(self) -> str:
        return self.listen_host

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("proxy not started")
        return f"http://{self.listen_host}:{self.port}"

    @property
    def counts(self) -> dict[str, int]:
        """Requests per method plus ``"total"`` (a snapshot copy)."""
        with self._lock:
            d = dict(self._counts)
        d["total"] = sum(d.values())
        return d

    @property
    def requests(self) -> list[tuple[str, str]]:
        """``(method, target)`` of each request, if ``record=True`` (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def connections(self) -> int:
        """Client connections accepted since start / last ``reset_counts()``."""
        with self._lock:
            return self._connections

    def stats(self) -> dict:
        with self._lock:
            return {
                "counts": {**self._counts, "total": sum(self._counts.values())},
                "connections": self._connections,
                "active_connections": self._active,
                "bytes_up": self._bytes_up,
                "bytes_down": self._bytes_down,
                "unparsed_connections": self._unparsed,
            }

    def reset_counts(self) -> None:
        with self._lock:
            self._counts.clear()
            self._requests.clear()
            self._connections = 0
            self._bytes_up = 0
            self._bytes_down = 0
            self._unparsed = 0

    def start(self) -> LatencyProxy:
        if self._thread is not None:
            raise RuntimeError("already started")
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=self._run_loop, name=f"LatencyProxy->{self.target_port}", daemon=True
        )
        self._thread.start()
        fut = asyncio.run_coroutine_threadsafe(self._start_server(), loop)
        try:
            self.port = fut.result(timeout=10)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
            with contextlib.suppress(Exception):
                fut.result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        if not loop.is_running():
            loop.close()
        self._loop = None
        self._thread = None

    def __enter__(self) -> LatencyProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (
            f"LatencyProxy({self.listen_host}:{self.port} -> "
            f"{self.target_host}:{self.target_port}, delay={self.delay_s * 1e3:g} ms)"
        )

    # ------------------------------------------------------------- internals
    def _run_loop(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        loop.run_forever()

    async def _start_server(self) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self, loop), self.listen_host, self.listen_port, backlog=1024
        )
        return self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in list(self._conns):
            conn.abort()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
        await asyncio.sleep(0)  # let connection_lost callbacks run

    def _on_requests(self, reqs: list[tuple[str, str]]) -> None:
        with self._lock:
            for method, target in reqs:
                self._counts[method] += 1
                if self.record:
                    self._requests.append((method, target))


class _Pipe:
    """One direction of a proxied connection.

    Chunks are stamped ``max(arrival, not_before) + delay`` and delivered in
    order by a single timer (so a stream is pipelined: latency is paid once,
    not per chunk).  Backpressure: reading from ``src`` is paused while more
    than ``limit`` bytes are queued, and nothing is written while ``dst`` has
    asked us to pause writing (its kernel + transport buffers are full).
    """

    __slots__ = (
        "loop",
        "delay",
        "not_before",
        "limit",
        "q",
        "qbytes",
        "timer",
        "src",
        "dst",
        "src_paused",
        "dst_paused",
        "eof_queued",
        "done",
        "on_done",
        "on_data",
    )

    def __init__(self, loop, delay: float, not_before: float, limit: int, on_data, on_done):
        self.loop = loop
        self.delay = delay
        self.not_before = not_before
        self.limit = limit
        self.q: collections.deque = collections.deque()
        self.qbytes = 0
        self.timer: asyncio.TimerHandle | None = None
        self.src: Any = None  # asyncio.Transport
        self.dst: Any = None
        self.src_paused = False
        self.dst_paused = False
        self.eof_queued = False
        self.done = False
        self.on_data = on_data
        self.on_done = on_done

    def feed(self, data: bytes) -> None:
        if self.done or self.eof_queued:
            return
        self.on_data(data)
        at = max(self.loop.time(), self.not_before) + self.delay
        self.q.append((at, data))
        self.qbytes += len(data)
        if self.qbytes > self.limit and not self.src_paused and self.src is not None:
            self.src_paused = True
            with contextlib.suppress(Exception):
                self.src.pause_reading()
        self._arm()

    def feed_eof(self) -> None:
        if self.done or self.eof_queued:
            return
        self.eof_queued = True
        self.q.append((max(self.loop.time(), self.not_before) + self.delay, None))
        self._arm()

    def set_dst(self, dst) -> None:
        self.dst = dst
        self._arm()

    def pause_writing(self) -> None:
        self.dst_paused = True

    def resume_writing(self) -> None:
        self.dst_paused = False
        self._arm()

    def kill(self) -> None:
        """The destination is gone: drop everything, stop."""
        self.q.clear()
        self.qbytes = 0
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if not self.done:
            self.done = True
            self.on_done()

    def _arm(self) -> None:
        if self.timer is not None or not self.q or self.dst is None or self.dst_paused or self.done:
            return
        at = self.q[0][0]
        if at <= self.loop.time():
            self._flush()
        else:
            self.timer = self.loop.call_at(at, self._on_timer)

    def _on_timer(self) -> None:
        self.timer = None
        self._flush()

    def _flush(self) -> None:
        now = self.loop.time()
        q, dst = self.q, self.dst
        while q and q[0][0] <= now and not self.dst_paused:
            _, data = q.popleft()
            if data is None:
                if dst.can_write_eof():
                    with contextlib.suppress(OSError):  # the peer already went away
                        dst.write_eof()
                self.done = True
                self.on_done()
                return
            self.qbytes -= len(data)
            dst.write(data)  # may call pause_writing() synchronously
        if self.src_paused and self.qbytes <= self.limit // 2:
            self.src_paused = False
            with contextlib.suppress(Exception):
                self.src.resume_reading()
        self._arm()


class _Upstream(asyncio.Protocol):
    def __init__(self, conn: _Connection):
        self.conn = conn
        self.sock = None

    def connection_made(self, transport) -> None:
        if self.conn.proxy.quickack and hasattr(socket, "TCP_QUICKACK"):
            self.sock = transport.get_extra_info("socket")

    def data_received(self, data: bytes) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        self.conn.down.feed(data)

    def eof_received(self) -> bool:
        self.conn.down.feed_eof()
        return True  # keep our write side open (half-close)

    def pause_writing(self) -> None:
        self.conn.up.pause_writing()

    def resume_writing(self) -> None:
        self.conn.up.resume_writing()

    def connection_lost(self, exc) -> None:
        self.conn.side_lost(upstream=True)


class _Connection(asyncio.Protocol):
    """Client-side protocol; owns the upstream connection and both pipes."""

    def __init__(self, proxy: LatencyProxy, loop):
        self.proxy = proxy
        self.loop = loop
        self.client = None
        self.server = None
        self.connect_task = None
        self.closed = False
        self.sniffer = HttpRequestSniffer()

    def connection_made(self, transport) -> None:
        p = self.proxy
        self.client = transport
        p._conns.add(self)
        with p._lock:
            p._connections += 1
            p._active += 1
        not_before = self.loop.time() + 2 * p.delay_s * p.handshake_rtts
        self.up = _Pipe(
            self.loop, p.delay_s, not_before, p._max_buffer, self._sniff, self._pipe_done
        )
        self.down = _Pipe(
            self.loop, p.delay_s, 0.0, p._max_buffer, self._count_down, self._pipe_done
        )
        self.up.src = transport
        self.down.dst = transport
        self.connect_task = self.loop.create_task(self._connect())

    async def _connect(self) -> None:
        p = self.proxy
        try:
            transport, _ = await self.loop.create_connection(
                lambda: _Upstream(self), p.target_host, p.target_port
            )
        except (OSError, asyncio.CancelledError):
            self.abort()
            return
        if self.closed:
            transport.abort()
            return
        _nodelay(transport)
        self.server = transport
        self.down.src = transport
        self.up.set_dst(transport)

    # data hooks
    def _sniff(self, data: bytes) -> None:
        p = self.proxy
        reqs = self.sniffer.feed(data)
        if reqs:
            p._on_requests(reqs)
        with p._lock:
            p._bytes_up += len(data)

    def _count_down(self, data: bytes) -> None:
        p = self.proxy
        with p._lock:
            p._bytes_down += len(data)

    # client transport callbacks
    def data_received(self, data: bytes) -> None:
        self.up.feed(data)

    def eof_received(self) -> bool:
        self.up.feed_eof()
        return True

    def pause_writing(self) -> None:
        self.down.pause_writing()

    def resume_writing(self) -> None:
        self.down.resume_writing()

    def connection_lost(self, exc) -> None:
        self.side_lost(upstream=False)

    # lifecycle
    def side_lost(self, upstream: bool) -> None:
        """One socket is closed/reset: nothing more can be sent into it; what it
        already sent is still delivered (then EOF) after the delay, like on a WAN."""
        into, out_of = (self.up, self.down) if upstream else (self.down, self.up)
        into.kill()
        out_of.feed_eof()

    def _pipe_done(self) -> None:
        if self.up.done and self.down.done:
            self._close(abort=False)

    def abort(self) -> None:
        self.up.kill()
        self.down.kill()
        self._close(abort=True)

    def _close(self, abort: bool) -> None:
        if self.closed:
            return
        self.closed = True
        for t in (self.client, self.server):
            if t is not None:
                t.abort() if abort else t.close()
        if self.connect_task is not None and not self.connect_task.done():
            self.connect_task.cancel()
        p = self.proxy
        p._conns.discard(self)
        if self.sniffer.broken:
            with p._lock:
                p._unparsed += 1
        with p._lock:
            p._active -= 1


def _nodelay(transport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


# ---------------------------------------------------------------------- CLI
def _parse_target(s: str) -> tuple[str, int]:
    host, sep, port = s.rpartition(":")
    if not sep:
        raise argparse.ArgumentTypeError("expected HOST:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--target", required=True, type=_parse_target, help="HOST:PORT to forward to")
    p.add_argument("--delay-ms", type=float, default=25.0, help="one-way delay (default 25)")
    p.add_argument("--port", type=int, default=0, help="listen port (0 = any free port)")
    p.add_argument("--listen-host", default="127.0.0.1")
    p.add_argument("--handshake-rtts", type=int, default=0)
    p.add_argument("--record", action="store_true", help="print every request on exit")
    p.add_argument("--no-quickack", action="store_true", help="don't set TCP_QUICKACK upstream")
    args = p.parse_args(argv)

    host, port = args.target
    proxy = LatencyProxy(
        host,
        port,
        delay_s=args.delay_ms / 1000.0,
        listen_host=args.listen_host,
        listen_port=args.port,
        record=args.record,
        handshake_rtts=args.handshake_rtts,
        quickack=not args.no_quickack,
    )
    proxy.start()
    # First stdout line: the port alone, for scripts.
    print(proxy.port, flush=True)
    print(f"{proxy!r} (Ctrl-C to stop)", file=sys.stderr, flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    t0 = time.monotonic()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    st = proxy.stats()
    requests = proxy.requests
    proxy.stop()
    if args.record:
        for method, target in requests:
            print(f"{method} {target}")
    print(
        f"counts: {st['counts']}  connections: {st['connections']}  "
        f"bytes up/down: {st['bytes_up']}/{st['bytes_down']}  "
        f"elapsed: {time.monotonic() - t0:.1f} s",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
