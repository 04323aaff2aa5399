"""``app(config)``: the ASGI application, an :class:`xpublish.Rest` whose datasets come from
objstore URLs and profiles, with objstore's zarr2, pass-through, catalog and admin plugins."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import xarray as xr
import xpublish
from fastapi import Depends, FastAPI, HTTPException, Path, Request
from pydantic import PrivateAttr
from xpublish import Plugin, hookimpl
from xpublish.dependencies import get_group_path

from ..errors import ObjstoreError
from . import guard
from .catalogs import CatalogPlugin
from .config import ServeConfig, load_config
from .datasets import Datasets, Unavailable, UnknownDataset
from .logs import AccessLog
from .passthrough import PassThroughPlugin
from .security import HeadAsGet, JSONErrors, RequestLimits, TokenAuth
from .zarr2 import Zarr2Plugin

__all__ = ["app", "ServeState", "reload"]

log = logging.getLogger("objstore.serve")


class DatasetProvider(Plugin):
    """xpublish's dataset hooks, answered from the served config."""

    name: str = "objstore-datasets"
    _registry: Any = PrivateAttr(None)  # the served Datasets, set by bind()

    def bind(self, datasets: Datasets) -> DatasetProvider:
        self._registry = datasets
        return self

    @hookimpl
    def get_datasets(self) -> Iterable[str]:
        return self._registry.ids()

    @hookimpl
    def get_dataset(self, dataset_id: str) -> xr.Dataset | None:
        try:
            return self._registry.dataset(dataset_id)
        except (UnknownDataset, Unavailable):
            return None


class ServeState:
    """What a running app serves: the config, the datasets and the xpublish Rest around them."""

    def __init__(self, config: ServeConfig, rest: ObjstoreRest) -> None:
        self.config = config
        self.rest = rest
        self.datasets = rest.served

    def public_datasets(self) -> set[str]:
        return {e.spec.id for e in self.datasets.entries() if e.spec.public}


class ObjstoreRest(xpublish.Rest):
    """xpublish.Rest whose dataset dependency checks the route's variable and chunk key."""

    def __init__(self, config: ServeConfig, plugins: dict[str, Plugin]) -> None:
        self.served = Datasets(config)
        self.limit_bytes = int(config.max_chunk_mb * 2**20)
        self.slots = threading.BoundedSemaphore(config.max_inflight)
        super().__init__({}, plugins=plugins,
                         cache_kws={"available_bytes": config.cache_mb * 2**20},
                         app_kws={"title": config.title, "lifespan": _lifespan})

    def setup_datasets(self, datasets: Any) -> str:
        self._datasets = {}
        self._get_dataset_func = self._checked_dataset  # type: ignore[assignment]
        self._get_datatree_func = self._checked_tree
        self._dataset_route_prefix = "/datasets/{dataset_id}"
        return self._dataset_route_prefix

    def _open(self, dataset_id: str, group: str) -> xr.Dataset:
        if group:
            raise HTTPException(404, detail=f"dataset {dataset_id!r} has no group {group!r}")
        try:
            return self.served.dataset(dataset_id)
        except UnknownDataset:
            raise HTTPException(404, detail=f"no dataset {dataset_id!r}; the served ids are "
                                            "listed at /datasets") from None
        except Unavailable as exc:
            raise HTTPException(503, detail=f"dataset {dataset_id!r} is unavailable: "
                                            f"{exc.reason}") from None

    def _checked_dataset(
        self, request: Request,
        dataset_id: Annotated[str, Path(description="Unique ID of dataset")],
        group: Annotated[str, Depends(get_group_path)] = "",
    ) -> Iterator[xr.Dataset]:
        ds = self._open(dataset_id, group)
        rest = request.url.path.split("/")[3:]
        req = guard.parse_chunk_request(rest)
        if req is None:
            yield ds
            return
        guard.check_chunk(ds, req, self.limit_bytes)
        if req.coords is None:
            yield ds
            return
        with self.slots:  # bounded chunk computations at once
            yield ds

    def _checked_tree(
        self, dataset_id: Annotated[str, Path(description="Unique ID of dataset")],
        group: Annotated[str, Depends(get_group_path)] = "",
    ) -> xr.DataTree:
        return xr.DataTree(dataset=self._open(dataset_id, group))


class AdminPlugin(Plugin):
    """``POST /admin/reload``: re-read the config file (needs the bearer token)."""

    name: str = "objstore-admin"

    @hookimpl
    def app_router(self, deps: Any) -> Any:
        from fastapi import APIRouter

        router = APIRouter(prefix="/admin", tags=["admin"])

        @router.post("/reload")
        def reload_config(request: Request) -> dict[str, Any]:
            """Re-read the config: add, remove and replace datasets without a restart."""
            state: ServeState = request.app.state.objstore
            if not state.config.bearer_token():
                raise HTTPException(403, detail="admin routes need a token: start the server "
                                                "with --token-file")
            if not state.config.source:
                raise HTTPException(409, detail="the datasets were not read from a file")
            try:
                return reload(state)
            except ObjstoreError as exc:
                raise HTTPException(400, detail=f"still serving the old config: {exc}") from None

        return router


@asynccontextmanager
async def _lifespan(fastapi_app: FastAPI):  # type: ignore[no-untyped-def]
    """Open every dataset in the background at start-up (a failure is served as a 503)."""
    state: ServeState | None = getattr(fastapi_app.state, "objstore", None)
    if state is not None:
        threading.Thread(target=state.datasets.open_all, name="objstore-open",
                         daemon=True).start()
    yield


def reload(state: ServeState, config: ServeConfig | None = None) -> dict[str, list[str]]:
    """Serve ``config`` (default: the config file read again) in place of the current one."""
    if config is None:
        assert state.config.source
        config = load_config(state.config.source)
    config = config.model_copy(update={"token": state.config.token,
                                       "token_file": state.config.token_file})
    changes = state.datasets.reload(config)
    state.config = config
    state.rest.cache.clear()
    return changes


def _view_plugins(config: ServeConfig) -> list[Plugin]:
    """The ``objstore.views`` plugins (plots, group-by, landing pages), when installed."""
    try:
        import objstore.views as views  # type: ignore[import-not-found]
    except ModuleNotFoundError as exc:
        if exc.name != "objstore.views":
            log.warning("objstore.views is not usable (%s): serving without its pages", exc)
        return []
    except ImportError as exc:
        log.warning("objstore.views is not usable (%s): serving without its pages", exc)
        return []
    found = getattr(views, "plugins", None) or []
    if not callable(found):
        return list(found)
    return list(found(public_url=config.public_url) if config.public_url else found())


def app(config: ServeConfig | str, plugins: Iterable[Plugin] = (), *,
        default_plugins: bool = True) -> FastAPI:
    """The ASGI app serving ``config`` (a :class:`ServeConfig` or the path of a config file).

    ``plugins`` are extra xpublish plugins; xpublish's entry-point plugins (xpublish-zarr's
    format-3 ``/zarr``, dataset info, versions) and ``objstore.views``'s load too."""
    from xpublish.plugins import load_default_plugins

    if not isinstance(config, ServeConfig):
        config = load_config(config)
    token = config.bearer_token()
    registry_plugins: dict[str, Plugin] = dict(load_default_plugins()) if default_plugins else {}
    rest = ObjstoreRest(config, {})
    ours: list[Plugin] = [
        DatasetProvider().bind(rest.served),
        Zarr2Plugin(),
        PassThroughPlugin(public_url=config.public_url).bind(rest.served),
        AdminPlugin(),
        CatalogPlugin(public_url=config.public_url).bind(rest.served),
    ]
    for p in [*ours, *_view_plugins(config), *plugins]:
        registry_plugins[p.name] = p
    for name, p in registry_plugins.items():
        rest.register_plugin(p, name, overwrite=True)
    fastapi_app = rest.app
    state = ServeState(config, rest)
    fastapi_app.state.objstore = state
    fastapi_app.add_middleware(JSONErrors)
    fastapi_app.add_middleware(HeadAsGet)
    if token:
        fastapi_app.add_middleware(TokenAuth, token=token, public_paths=config.public,
                                   public_datasets=state.public_datasets)
    if config.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        fastapi_app.add_middleware(CORSMiddleware, allow_origins=config.cors_origins,
                                   allow_methods=["GET", "HEAD", "OPTIONS"],
                                   allow_headers=["Authorization", "Range"])
    fastapi_app.add_middleware(RequestLimits, max_bytes=config.max_request_kb * 1024)
    fastapi_app.add_middleware(AccessLog)
    return fastapi_app
