"""``objstore serve``: publish cubes over HTTP (xpublish), or ``--check`` that each one opens."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .console import ProfileOpt, command, console, err_console

_CONFIG_SUFFIXES = (".toml", ".yaml", ".yml")


def _config(sources: list[str], profile: str | None, token_file: Path | None):  # type: ignore[no-untyped-def]
    from ..serve.config import config_from_urls, load_config

    files = [s for s in sources if s.lower().endswith(_CONFIG_SUFFIXES) and "://" not in s]
    urls = [s for s in sources if s not in files]
    if len(files) > 1:
        raise typer.BadParameter(f"one config file at a time, not {files}")
    if not files and not urls:
        raise typer.BadParameter("give a config file (.toml or .yaml) and/or cube URLs")
    cfg = (load_config(files[0], profile=profile, extra_urls=urls) if files
           else config_from_urls(urls, profile))
    if token_file is not None:
        cfg = cfg.model_copy(update={"token_file": token_file})
    return cfg


@command
def serve(
    sources: Annotated[list[str] | None, typer.Argument(
        help="A config file (.toml/.yaml) listing datasets, and/or cube URLs (id from the name)",
        show_default=False)] = None,
    profile: ProfileOpt = None,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 9000,
    dask: Annotated[str | None, typer.Option(
        "--dask", help="'local' (a LocalCluster sized to this machine) or tcp://scheduler:8786",
        show_default=False)] = None,
    token_file: Annotated[Path | None, typer.Option(
        "--token-file", help="File holding the bearer token clients must send",
        show_default=False)] = None,
    check: Annotated[bool, typer.Option("--check", help="Open every dataset, report, exit")] = False,
    json_logs: Annotated[bool, typer.Option("--json-logs", help="Logs as JSON lines")] = False,
) -> None:
    """Serve cubes over HTTP: zarr (format 3 and 2), kerchunk, intake and STAC; /docs lists it all."""
    cfg = _config(sources or [], profile, token_file)
    if check:
        _check(cfg)
        return
    _run(cfg, host, port, dask, json_logs)


def _check(cfg) -> None:  # type: ignore[no-untyped-def]
    import logging

    from ..serve.datasets import Datasets

    logging.getLogger("objstore.serve").setLevel(logging.ERROR)  # the report below says it
    results = Datasets(cfg).open_all()
    for ident, reason in results.items():
        if reason:
            console.print(f"[red]unavailable[/red] {ident}: {reason}", markup=True)
        else:
            console.print(f"[green]ok[/green] {ident}", markup=True)
    bad = sum(1 for r in results.values() if r)
    if bad:
        err_console.print(f"[red]error:[/red] {bad} of {len(results)} datasets do not open; "
                          "fix their URL or profile in the config", markup=True)
        raise typer.Exit(1)


def _run(cfg, host: str, port: int, dask: str | None, json_logs: bool) -> None:  # type: ignore[no-untyped-def]
    import signal
    import threading

    import uvicorn

    from ..serve import app, reload
    from ..serve.compute import start_dask
    from ..serve.logs import setup_logging

    setup_logging(json_logs=json_logs)
    client = start_dask(dask)
    asgi = app(cfg)
    state = asgi.state.objstore

    def on_sighup(signum: int, frame: object) -> None:
        if cfg.source:  # reload off the signal handler's frame
            threading.Thread(target=_reload_logged, args=(state, reload), daemon=True).start()

    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, on_sighup)
    where = f"http://{host}:{port}"
    if host not in ("127.0.0.1", "localhost", "::1") and not cfg.bearer_token():
        err_console.print(f"warning: no token: anyone who can reach {host}:{port} reads every "
                          "dataset (--token-file F requires one)", highlight=False)
    err_console.print(f"serving {len(cfg.datasets)} datasets at {where} (API docs: {where}/docs)"
                      + (f"; dask at {client.dashboard_link or client.scheduler.address}"
                         if client is not None else ""), highlight=False)
    try:
        uvicorn.run(asgi, host=host, port=port, access_log=False, log_config=None,
                    proxy_headers=True)
    finally:
        if client is not None:
            client.close()


def _reload_logged(state, reload) -> None:  # type: ignore[no-untyped-def]
    import logging

    from ..errors import ObjstoreError

    try:
        reload(state)
    except ObjstoreError as exc:
        logging.getLogger("objstore.serve").error("reload failed, still serving the old "
                                                  "config: %s", exc)
