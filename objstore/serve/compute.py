"""Where chunks are computed: dask's default threads, a LocalCluster sized to the machine
(``--dask local``), or an existing scheduler (``--dask tcp://host:8786``)."""

from __future__ import annotations

import os
from typing import Any

from ..errors import ConfigError

__all__ = ["start_dask"]


def start_dask(scheduler: str | None) -> Any:
    """Start or connect a ``dask.distributed`` client (the default scheduler from then on);
    None keeps dask's threaded scheduler. Returns the client (or None)."""
    if not scheduler:
        return None
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError("--dask needs dask.distributed: pip install distributed") from None
    if scheduler == "local":
        # one in-process worker with a thread per core: the served datasets' stores are used
        # as they are, without pickling them to other processes
        cluster = LocalCluster(n_workers=1, threads_per_worker=os.cpu_count() or 1,
                               processes=False, dashboard_address="127.0.0.1:0")
        return Client(cluster, set_as_default=True)
    if scheduler.startswith(("tcp://", "tls://", "ucx://", "inproc://")):
        try:
            return Client(scheduler, set_as_default=True, timeout="10s")
        except OSError as exc:
            raise ConfigError(f"cannot reach the dask scheduler {scheduler}: "
                              f"{type(exc).__name__}; is it running?") from None
    raise ConfigError(f"--dask takes 'local' or a scheduler address like tcp://host:8786, "
                      f"not {scheduler!r}")
