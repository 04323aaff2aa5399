"""Measuring one client in a child process: its time, requests and peak memory.

The parent calls :func:`run_child` with a script and a JSON-able job; the child reads the job
with :func:`job`, does its imports and set-up, and reports with :func:`report`, which adds the
child's peak RSS (``VmHWM``) and the RSS it had before the measured part (:func:`rss_mib`,
taken after the imports). A fresh process per client keeps one client's memory out of another's
figures and gives each the same start.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
READY = "--ready--"


def run_child(script: str, job: dict[str, Any], *, timeout: float = 1800,
              python_args: list[str] | None = None,
              on_ready: Callable[[], None] | None = None,
              keep_stderr: bool = False) -> dict[str, Any]:
    """Run ``benchmarks/<script> '<job as JSON>'``; its last stdout line (JSON) as a dict.

    ``on_ready`` is called when the child says it is ready (:func:`ready`), right before it
    starts the measured part; ``keep_stderr`` adds the child's stderr as ``"stderr"``. A child that fails gives ``{"error": "..."}`` (its last stderr
    line), never an exception.
    """
    argv = [sys.executable, *(python_args or []), str(HERE / script), json.dumps(job)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parent / "tests"),
                                                        os.environ.get("PYTHONPATH", "")])}
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                text=True, env=env)
        assert proc.stdin is not None and proc.stdout is not None
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            lines = []
            for line in proc.stdout:
                if line.strip() == READY:  # the child set up and warmed up: start counting
                    if on_ready is not None:
                        on_ready()
                    proc.stdin.write("go\n")
                    proc.stdin.flush()
                elif line.startswith("{"):
                    lines.append(line)
            rc = proc.wait()
        finally:
            timer.cancel()
        err.seek(0)
        stderr = err.read()
    if rc != 0 or not lines:
        tail = [ln for ln in stderr.strip().splitlines() if ln.strip()]
        why = "killed: timed out" if rc == -9 else (tail[-1] if tail else f"exit status {rc}")
        return {"error": why[:300], "stderr": stderr[-4000:]}
    out = json.loads(lines[-1])
    if keep_stderr:
        out["stderr"] = stderr
    return out


def ready() -> None:
    """Child side: tell the parent that set-up is done, and wait for it to say go (it resets the
    proxy's request counts in between, so that only the measured part is counted)."""
    print(READY, flush=True)
    sys.stdin.readline()


def job() -> dict[str, Any]:
    """The job the parent passed (child side)."""
    return json.loads(sys.argv[1])


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mib() -> float:
    """This process's resident memory now, MiB (``VmRSS`` of ``/proc/self/status``)."""
    return _status_mib("VmRSS")


def peak_rss_mib() -> float:
    """This process's peak resident memory so far, MiB: ``VmHWM``, not ``ru_maxrss``, which
    Linux carries over from the forking parent across ``execve`` (a child would report the
    parent's peak when that is higher)."""
    peak = _status_mib("VmHWM")
    return peak if peak == peak else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(result: dict[str, Any]) -> None:
    """Print ``result`` with the peak RSS as the child's last stdout line (child side)."""
    print(json.dumps({**result, "peak_rss_mib": peak_rss_mib()}), flush=True)


def profiled(fn: Any, top: int = 40) -> tuple[Any, dict[str, list[list[Any]]]]:
    """``fn()`` under cProfile: its result and the ``top`` entries by cumulative and by own time,
    each ``[cumulative s, own s, calls, "file:line(function)"]``."""
    import cProfile
    import pstats
    import threading

    threads: list[cProfile.Profile] = []

    def boot(frame: Any, event: str, arg: Any) -> None:  # first call in each new thread
        sys.setprofile(None)
        p = cProfile.Profile()
        threads.append(p)
        p.enable()

    threading.setprofile(boot)  # fsspec's I/O loop thread starts during the open
    prof = cProfile.Profile()
    out = prof.runcall(fn)
    threading.setprofile(None)  # type: ignore[arg-type]
    st = pstats.Stats(prof)
    for p in threads:
        st.add(p)
    rows = []
    for (file, line, func), (_cc, nc, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        where = re.sub(r"^.*/(site|dist)-packages/", "", file)
        rows.append([ct, tt, nc, f"{where}:{line}({func})"])
    return out, {"cumulative": sorted(rows, key=lambda r: -r[0])[:top],
                 "own": sorted(rows, key=lambda r: -r[1])[:top], "all": rows}


def child_runs(script: str, payload: dict[str, Any], px: Any, repeat: int,
               timeout: float) -> list[dict[str, Any]] | dict[str, Any]:
    """``repeat`` runs of ``script`` in fresh processes through the latency proxy ``px`` (reset
    when the child is ready), each with the requests it made; the child's error dict if one fails."""
    runs = []
    for _ in range(repeat):
        r = run_child(script, payload, on_ready=px.reset, timeout=timeout)
        if "error" in r:
            return r
        r["requests"] = px.counts().get("total", 0)
        runs.append(r)
    return runs
