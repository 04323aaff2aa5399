"""WAN-latency TCP proxy for benchmarks (stdlib only).

Loopback object-store emulators answer in microseconds, real object stores in
10-100 ms.  ``LatencyProxy`` sits between a client and a local server and
delays every chunk of bytes by ``delay_s`` in *each* direction, so an HTTP
request/response round trip costs ``2 * delay_s`` extra, like a real WAN link.

Delays are pipelined, not serialised: every chunk is scheduled for delivery at
``arrival_time + delay_s`` (order preserved), so a long stream keeps its
throughput and only pays the latency once.  Each direction has a bounded
queue; when it is full the proxy stops reading from that side (TCP
backpressure), and every write is followed by ``drain()``.

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
from typing import Optional

__all__ = ["LatencyProxy", "HttpRequestSniffer"]

_READ_SIZE = 64 * 1024
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
        m = _REQUEST_LINE.fullmatch(lines[0])  # checked by caller
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
        self._queue_len = max(4, int(max_buffer) // _READ_SIZE)
        self._lock = threading.Lock()
        self._counts: collections.Counter[str] = collections.Counter()
        self._requests: list[tuple[str, str]] = []
        self._connections = 0
        self._active = 0
        self._bytes_up = 0
        self._bytes_down = 0
        self._unparsed = 0
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._server: Optional[asyncio.base_events.Server] = None
        self._tasks: set[asyncio.Task] = set()
        self.port: Optional[int] = None

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

    def start(self) -> "LatencyProxy":
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

    def __enter__(self) -> "LatencyProxy":
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
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    async def _start_server(self) -> int:
        self._server = await asyncio.start_server(
            self._handle, self.listen_host, self.listen_port, backlog=1024
        )
        return self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def _on_requests(self, reqs: list[tuple[str, str]]) -> None:
        with self._lock:
            for method, target in reqs:
                self._counts[method] += 1
                if self.record:
                    self._requests.append((method, target))

    async def _handle(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter):
        task = asyncio.current_task()
        self._tasks.add(task)
        loop = asyncio.get_running_loop()
        accepted = loop.time()
        with self._lock:
            self._connections += 1
            self._active += 1
        _nodelay(c_writer)
        s_writer = None
        tasks: list[asyncio.Task] = []
        try:
            s_reader, s_writer = await asyncio.open_connection(self.target_host, self.target_port)
            _nodelay(s_writer)
            quickack_sock = None
            if self.quickack and hasattr(socket, "TCP_QUICKACK"):
                quickack_sock = s_writer.get_extra_info("socket")
            sniffer = HttpRequestSniffer()
            not_before = accepted + 2 * self.delay_s * self.handshake_rtts
            q_up: asyncio.Queue = asyncio.Queue(self._queue_len)
            q_down: asyncio.Queue = asyncio.Queue(self._queue_len)
            tasks = [
                asyncio.ensure_future(self._read_side(c_reader, q_up, sniffer, not_before, True)),
                asyncio.ensure_future(self._write_side(q_up, s_writer)),
                asyncio.ensure_future(
                    self._read_side(s_reader, q_down, None, 0.0, False, quickack_sock)
                ),
                asyncio.ensure_future(self._write_side(q_down, c_writer)),
            ]
            # Normal end: both EOFs propagated (all four finish).  Any error
            # (reset, broken pipe) tears the whole connection down.
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            if sniffer.broken:
                with self._lock:
                    self._unparsed += 1
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            for t in tasks:
                t.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            for w in (c_writer, s_writer):
                if w is not None:
                    with contextlib.suppress(Exception):
                        w.close()
            with self._lock:
                self._active -= 1
            self._tasks.discard(task)

    async def _read_side(
        self, reader, queue, sniffer, not_before: float, up: bool, sock=None
    ) -> None:
        """Read chunks, stamp each with its delivery time max(arrival, not_before) + delay.

        ``queue.put`` blocks when the bounded queue is full, so we stop reading
        and TCP backpressure reaches the sender."""
        loop = asyncio.get_running_loop()
        delay = self.delay_s
        while True:
            data = await reader.read(_READ_SIZE)
            at = max(loop.time(), not_before) + delay
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            if not data:
                await queue.put((at, None))
                return
            if sniffer is not None:
                reqs = sniffer.feed(data)
                if reqs:
                    self._on_requests(reqs)
            with self._lock:
                if up:
                    self._bytes_up += len(data)
                else:
                    self._bytes_down += len(data)
            await queue.put((at, data))

    @staticmethod
    async def _write_side(queue, writer) -> None:
        """Deliver queued chunks in order, each not before its stamped time."""
        loop = asyncio.get_running_loop()
        while True:
            at, data = await queue.get()
            wait = at - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()


def _nodelay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


# ---------------------------------------------------------------------- CLI
def _parse_target(s: str) -> tuple[str, int]:
    host, sep, port = s.rpartition(":")
    if not sep:
        raise argparse.ArgumentTypeError("expected HOST:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)


def main(argv: Optional[list[str]] = None) -> int:
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
