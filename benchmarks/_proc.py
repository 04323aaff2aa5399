"""Measuring one client in a child process: its time, requests and peak memory.

The parent calls :func:`run_child` with a script and a JSON-able job; the child reads the job
with :func:`job`, does its imports and set-up, and reports with :func:`report`, which adds the
child's peak RSS (``ru_maxrss``) and the RSS it had before the measured part (:func:`rss_mib`,
taken after the imports). A fresh process per client keeps one client's memory out of another's
figures and gives each the same start.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def run_child(script: str, job: dict[str, Any], *, timeout: float = 1800,
              python_args: list[str] | None = None) -> dict[str, Any]:
    """Run ``benchmarks/<script> '<job as JSON>'``; its last stdout line (JSON) as a dict.

    A child that fails gives ``{"error": "..."}`` (its last stderr line), never an exception.
    """
    argv = [sys.executable, *(python_args or []), str(HERE / script), json.dumps(job)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parent / "tests"),
                                                        os.environ.get("PYTHONPATH", "")])}
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        err = [ln for ln in out.stderr.strip().splitlines() if ln.strip()]
        return {"error": (err[-1] if err else f"exit status {out.returncode}")[:300],
                "stderr": out.stderr[-4000:]}
    return json.loads(lines[-1])


def job() -> dict[str, Any]:
    """The job the parent passed (child side)."""
    return json.loads(sys.argv[1])


def rss_mib() -> float:
    """This process's resident memory now, MiB (``VmRSS`` of ``/proc/self/status``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib() -> float:
    """This process's peak resident memory so far, MiB (Linux ``ru_maxrss`` is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(result: dict[str, Any]) -> None:
    """Print ``result`` with the peak RSS as the child's last stdout line (child side)."""
    print(json.dumps({**result, "peak_rss_mib": peak_rss_mib()}), flush=True)
