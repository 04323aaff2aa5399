"""Run a ``LatencyProxy`` in its own process, controlled over stdin/stdout (for the benchmarks).

The proxy's event loop costs CPU per request; in its own process it does not share the GIL with
the client being measured (see ``_servers_note.md``). Protocol, one line each way:

    child prints:  PORT                       (once, when listening)
    "counts"   ->  {"GET": n, ..., "total": n}   (JSON, one line)
    "reset"    ->  ok
    "quit"     ->  (exits)

Usage from Python: ``ProxyProcess(target_port, delay_ms)`` in ``_common.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from latency_proxy import LatencyProxy  # noqa: E402


def main() -> int:
    target_port, delay_ms = int(sys.argv[1]), float(sys.argv[2])
    record = len(sys.argv) > 3 and sys.argv[3] == "record"
    proxy = LatencyProxy("127.0.0.1", target_port, delay_s=delay_ms / 1000.0, record=record)
    proxy.start()
    print(proxy.port, flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "counts":
            print(json.dumps(proxy.counts), flush=True)
        elif cmd == "requests":
            print(json.dumps(proxy.requests), flush=True)
        elif cmd == "stats":
            print(json.dumps(proxy.stats()), flush=True)
        elif cmd == "reset":
            proxy.reset_counts()
            print("ok", flush=True)
        elif cmd == "quit":
            break
    proxy.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
