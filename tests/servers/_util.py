"""Small helpers shared by the test-server harnesses (ports, processes, HTTP polling).

Only the standard library is used, so the harness runs under any Python the tests use.
"""

from __future__ import annotations

import ctypes
import http.client
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: Debian's interpreter: the Swift and Keystone servers are Debian packages and run with it,
#: not with the (pyenv/venv) Python that runs the tests.
SYSTEM_PYTHON = "/usr/bin/python3"


class ServerError(RuntimeError):
    """A test server failed to start or died; the message carries the tail of its log."""


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(n: int) -> list[int]:
    """n distinct free TCP ports on 127.0.0.1 (all bound at once so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_udp_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def supports_user_xattr(directory: Path) -> bool:
    """True if files in ``directory`` accept ``user.*`` extended attributes."""
    probe = Path(directory) / f".xattr-probe-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        os.setxattr(probe, "user.swift.probe", b"1")
        return os.getxattr(probe, "user.swift.probe") == b"1"
    except OSError:
        return False
    finally:
        try:
            probe.unlink()
        except OSError:
            pass


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


def http_request(
    method: str,
    url: str,
    headers: Mapping[str, str] | None = None,
    body: bytes | str | None = None,
    timeout: float = 30.0,
) -> HttpResponse:
    """One HTTP request; never raises for HTTP error statuses (only for connection errors)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        if isinstance(body, str):
            body = body.encode()
        conn.request(method, path, body=body, headers=dict(headers or {}))
        resp = conn.getresponse()
        data = resp.read()
        return HttpResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def _set_pdeathsig() -> None:  # pragma: no cover - runs in the child between fork and exec
    # If the test process dies without cleaning up, the kernel kills the server too.
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


@dataclass
class ManagedProcess:
    name: str
    argv: Sequence[str]
    log: Path
    popen: subprocess.Popen = field(repr=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "<no log>"
        return "\n".join(text.splitlines()[-lines:])

    def check(self) -> None:
        """Raise ServerError with the log tail if the process has exited."""
        rc = self.popen.poll()
        if rc is not None:
            raise ServerError(
                f"{self.name} exited with code {rc}: {' '.join(map(str, self.argv))}\n"
                f"--- last lines of {self.log} ---\n{self.tail()}"
            )

    def stop(self, timeout: float = 3.0) -> None:
        """Kill the process group (SIGTERM, then SIGKILL after ``timeout`` s)."""
        if self.popen.poll() is not None:
            self._close_log()
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                break
            except PermissionError:
                self.popen.send_signal(sig)
            try:
                self.popen.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # Also reap leftovers of the group (e.g. a child that outlived the leader).
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._close_log()

    def _close_log(self) -> None:
        f = getattr(self.popen, "_harness_log", None)
        if f is not None and not f.closed:
            f.close()


def stop_all(procs: Sequence[ManagedProcess], timeout: float = 5.0) -> None:
    """Kill several servers at once: SIGKILL to each process group, then reap them.

    Test servers keep no state worth a graceful shutdown, and memcached alone takes up to
    ~0.8 s to honour SIGTERM."""
    for p in procs:
        if p.popen.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                p.popen.kill()
    for p in procs:
        try:
            p.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        p.stop(timeout=0.5)


def start_process(
    name: str,
    argv: Sequence[str],
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> ManagedProcess:
    """Start ``argv`` in its own session/process group, stdout+stderr appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    logf = open(log, "ab")
    full_env = dict(os.environ)
    # Debian's python must not pick up the test interpreter's site-packages.
    for var in ("PYTHONHOME", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONSTARTUP"):
        full_env.pop(var, None)
    # eventlet's greendns costs ~0.4 s of import time; the servers only use IP addresses
    full_env.setdefault("EVENTLET_NO_GREENDNS", "yes")
    if env:
        full_env.update(env)
    popen = subprocess.Popen(
        list(map(str, argv)),
        stdin=subprocess.DEVNULL,
        stdout=logf,
        stderr=subprocess.STDOUT,
        env=full_env,
        cwd=str(cwd) if cwd else None,
        start_new_session=True,
        preexec_fn=_set_pdeathsig,
    )
    popen._harness_log = logf  # type: ignore[attr-defined]
    return ManagedProcess(name, list(map(str, argv)), log, popen)


def run_checked(
    argv: Sequence[str], log: Path, env: Mapping[str, str] | None = None, timeout: float = 300.0
) -> None:
    """Run a setup command to completion; raise ServerError with its output on failure."""
    full_env = dict(os.environ)
    for var in ("PYTHONHOME", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONSTARTUP"):
        full_env.pop(var, None)
    if env:
        full_env.update(env)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as logf:
        logf.write(f"$ {' '.join(map(str, argv))}\n".encode())
        logf.flush()
        rc = subprocess.run(
            list(map(str, argv)),
            stdin=subprocess.DEVNULL,
            stdout=logf,
            stderr=subprocess.STDOUT,
            env=full_env,
            timeout=timeout,
        ).returncode
    if rc != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        raise ServerError(f"command failed ({rc}): {' '.join(map(str, argv))}\n{tail}")


def tcp_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_until(
    predicate: Callable[[], bool],
    timeout: float,
    what: str,
    procs: Sequence[ManagedProcess] = (),
    interval: float = 0.02,
) -> None:
    """Poll ``predicate`` until true; raise ServerError if a process in ``procs`` dies or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        for p in procs:
            p.check()
        try:
            if predicate():
                return
        except (OSError, http.client.HTTPException):
            pass
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {p.name} ({p.log}) ---\n{p.tail(20)}" for p in procs)
            raise ServerError(f"timed out after {timeout:.0f} s waiting for {what}\n{tails}")
        time.sleep(interval)
        interval = min(interval * 1.5, 0.2)


def wait_for_http(
    url: str,
    timeout: float = 30.0,
    procs: Sequence[ManagedProcess] = (),
    method: str = "GET",
    ok: Callable[[int], bool] = lambda s: s < 500,
) -> None:
    """Wait until ``url`` answers with a status for which ``ok(status)`` holds."""
    wait_until(lambda: ok(http_request(method, url, timeout=2.0).status), timeout, url, procs)


def popen_kwargs() -> dict:
    """Popen options for a server: its own process group, killed with us if we die (main thread)."""
    import threading

    kw: dict = {"start_new_session": True}
    # PDEATHSIG fires when the *thread* that forked exits, so only use it from the main thread.
    if threading.current_thread() is threading.main_thread():
        kw["preexec_fn"] = _set_pdeathsig
    return kw


def kill_group(proc: subprocess.Popen, timeout: float = 5.0) -> None:
    """SIGTERM the process group, then SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def tail_file(path: Path, n: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""


class ProcessServer:
    """Mixin for a server dataclass with a ``_proc`` field: is_running, stop, context manager."""

    _proc: subprocess.Popen | None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        if self._proc is not None:
            kill_group(self._proc)
            self._proc = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class ProcessGroup:
    """Mixin for a server dataclass made of several ``processes`` (fields ``processes``,
    ``_stopped`` and ``_cleanup_dirs``): check them, stop them once, remove the folders."""

    processes: list[ManagedProcess]
    _stopped: bool
    _cleanup_dirs: list[Path]

    def check(self) -> None:
        """Raise ServerError (with the log tail) if any server process has died."""
        for p in self.processes:
            p.check()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        stop_all(self.processes)
        for d in self._cleanup_dirs:
            shutil.rmtree(d, ignore_errors=True)
