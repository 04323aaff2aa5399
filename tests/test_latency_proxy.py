"""Tests of the benchmark tool ``benchmarks/latency_proxy.py`` (not of objstore).

A tiny keep-alive HTTP/1.1 server runs in a thread; the proxy sits in front of it.
Timing bounds are generous: they only check that latency is added (>= 2*delay
per round trip) and that it is pipelined / concurrent (far below the serial sum).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

from latency_proxy import HttpRequestSniffer, LatencyProxy  # noqa: E402

DELAY = 0.05


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else Nagle + delayed ACK: ~40 ms stalls
    store: dict[str, bytes] = {}

    def log_message(self, *args):  # quiet
        pass

    def _send(self, code: int, body: bytes = b"", head_only: bool = False) -> None:
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head_only:
            self.wfile.write(body)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self):
        if self.path.startswith("/size/"):
            n = int(self.path.rsplit("/", 1)[1])
            self._send(200, (b"0123456789abcdef" * (n // 16 + 1))[:n])
        elif self.path in self.store:
            self._send(200, self.store[self.path])
        else:
            self._send(200, b"hello " + self.path.encode())

    def do_HEAD(self):
        self._send(200, b"x" * 10, head_only=True)

    def do_PUT(self):
        body = self._read_body()
        self.store[self.path] = body
        self._send(200, hashlib.sha256(body).hexdigest().encode())

    def do_POST(self):
        self.do_PUT()

    def do_DELETE(self):
        self.store.pop(self.path, None)
        self._send(204)


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # default 5: a burst of connects overflows it -> 1 s SYN retry
    daemon_threads = True


@pytest.fixture(scope="module")
def server():
    srv = _Server(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


@pytest.fixture()
def proxy(server):
    with LatencyProxy("127.0.0.1", server, delay_s=DELAY, record=True) as p:
        yield p


def _get(port: int, path: str = "/x") -> tuple[float, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    t0 = time.perf_counter()
    conn.request("GET", path)
    body = conn.getresponse().read()
    dt = time.perf_counter() - t0
    conn.close()
    return dt, body


def test_single_round_trip_costs_two_delays(proxy):
    dt, body = _get(proxy.port, "/one")
    assert body == b"hello /one"
    assert 2 * DELAY * 0.95 <= dt < 0.3, dt
    assert proxy.counts == {"GET": 1, "total": 1}
    assert proxy.connections == 1
    assert proxy.url == f"http://127.0.0.1:{proxy.port}"


def test_concurrent_connections_are_not_serialised(proxy):
    n = 20
    barrier = threading.Barrier(n)
    times: list[float] = []
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait(5)
            dt, body = _get(proxy.port, f"/c{i}")
            assert body == f"hello /c{i}".encode()
            times.append(dt)
        except BaseException as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    wall = time.perf_counter() - t0
    assert not errors, errors
    assert len(times) == n
    assert min(times) >= 2 * DELAY * 0.95
    assert wall < 0.6, wall  # serial would be n * 2 * DELAY = 2 s
    assert proxy.counts == {"GET": n, "total": n}
    assert proxy.connections == n


@pytest.mark.parametrize("delay,max_buffer", [(DELAY, 16 << 20), (0.005, 256 << 10)])
def test_large_body_both_ways(server, delay, max_buffer):
    body = os.urandom(5 * 1024 * 1024)
    with LatencyProxy("127.0.0.1", server, delay_s=delay, max_buffer=max_buffer) as p:
        conn = http.client.HTTPConnection("127.0.0.1", p.port, timeout=10)
        t0 = time.perf_counter()
        conn.request("PUT", "/big", body=body)
        assert conn.getresponse().read() == hashlib.sha256(body).hexdigest().encode()
        conn.request("GET", "/big")
        got = conn.getresponse().read()
        dt = time.perf_counter() - t0
        conn.close()
        assert got == body
        # 2 round trips; per-chunk serialisation (80+ chunks * delay) would take seconds.
        assert 4 * delay * 0.95 <= dt < 1.5, dt
        assert p.counts == {"PUT": 1, "GET": 1, "total": 2}
        st = p.stats()
        assert st["bytes_up"] > len(body) and st["bytes_down"] > len(body)
        assert st["unparsed_connections"] == 0


def test_keepalive_counts_are_exact(server):
    requests = pytest.importorskip("requests")
    with LatencyProxy("127.0.0.1", server, delay_s=0.002, record=True) as p:
        with requests.Session() as s:
            for i in range(5):
                assert s.get(f"{p.url}/g{i}").content == f"hello /g{i}".encode()
            s.put(f"{p.url}/p0", data=b"a" * 1000).raise_for_status()
            s.put(f"{p.url}/p1", data=b"").raise_for_status()
            # generator body -> Transfer-Encoding: chunked
            s.put(
                f"{p.url}/p2",
                data=(b"chunk%d\r\n\r\nGET /fake HTTP/1.1\r\n\r\n" % i for i in range(3)),
            ).raise_for_status()
            s.head(f"{p.url}/h").raise_for_status()
            s.delete(f"{p.url}/p0").raise_for_status()
            s.post(f"{p.url}/q", data=b"GET /not-a-request HTTP/1.1\r\n\r\n").raise_for_status()
        assert p.counts == {"GET": 5, "PUT": 3, "HEAD": 1, "DELETE": 1, "POST": 1, "total": 11}
        assert p.connections == 1
        assert p.requests[:6] == [("GET", f"/g{i}") for i in range(5)] + [("PUT", "/p0")]
        assert p.requests[-1] == ("POST", "/q")
        p.reset_counts()
        assert p.counts == {"total": 0} and p.requests == [] and p.connections == 0


def test_sniffer_byte_by_byte_pipelined():
    body = b"GET /inside-body HTTP/1.1\r\n\r\n"
    stream = (
        b"PUT /a HTTP/1.1\r\nHost: x\r\ncontent-length: %d\r\n\r\n" % len(body)
        + body
        + b"POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"5;ext=1\r\nhello\r\n"
        + b"%x\r\n" % len(body)
        + body
        + b"\r\n0\r\nX-Trailer: 1\r\n\r\n"
        + b"\r\nGET /c?q=1 HTTP/1.1\r\nHost: x\r\n\r\n"
        + b"garbage line\r\nDELETE /d HTTP/1.0\r\n\r\n"
    )
    expected = [("PUT", "/a"), ("POST", "/b"), ("GET", "/c?q=1"), ("DELETE", "/d")]
    for step in (1, 3, 7, len(stream)):
        sn = HttpRequestSniffer()
        got = []
        for i in range(0, len(stream), step):
            got += sn.feed(stream[i : i + step])
        assert got == expected, step
        assert not sn.broken and sn.garbage == 1 and sn.buf == b""


def test_stop_and_refused_upstream():
    # nothing listens on the target: the client just sees the connection closed
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead_port = s.getsockname()[1]
    s.close()
    p = LatencyProxy("127.0.0.1", dead_port, delay_s=0.0).start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", p.port, timeout=5)
        with pytest.raises((http.client.HTTPException, ConnectionError)):
            conn.request("GET", "/")
            conn.getresponse()
        assert p.connections == 1
    finally:
        p.stop()
    p.stop()  # idempotent


def test_cli(server):
    proc = subprocess.Popen(
        [
            sys.executable,
            str(BENCH / "latency_proxy.py"),
            "--target",
            f"127.0.0.1:{server}",
            "--delay-ms",
            "1",
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        for _ in range(3):
            _get(port, "/cli")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "'GET': 3" in out and "'total': 3" in out and "connections: 3" in out
