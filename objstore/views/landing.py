"""xpublish plugin: the landing page at ``/`` and a page per dataset at ``/datasets/{id}/page``.

A dataset that cannot be opened is listed as unavailable with the reason; the page still loads.
"""


from collections.abc import Sequence
from typing import Annotated

import xarray as xr
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from xpublish import Dependencies, Plugin, hookimpl

from ..errors import ObjstoreError, scrub
from .http import off_loop
from .pages import PlotForm, card_of, dataset_html, landing_html, unavailable_card
from .plot import prepare, suggest

__all__ = ["LandingPlugin"]

#: pages load images from this server and submit forms to it, and nothing else
CSP = ("default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'; "
       "base-uri 'none'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
           "Cache-Control": "no-cache"}


def _lookup(deps: Dependencies, dataset_id: str) -> xr.Dataset:
    """A dataset by id outside a dataset route: from the provider plugins (xpublish's
    ``get_dataset`` hook), else from the datasets given to ``xpublish.Rest``."""
    ds = deps.plugin_manager().hook.get_dataset(dataset_id=dataset_id)
    if ds is not None:
        return ds
    try:  # the tree dependency takes the id alone (the dataset one may also want the request)
        return deps.datatree(dataset_id=dataset_id).dataset  # type: ignore[call-arg]
    except TypeError:  # a dependency that needs the request: not reachable from here
        raise HTTPException(503, detail="unavailable") from None


class LandingPlugin(Plugin):
    """``/``: the served datasets with thumbnails and snippets; ``/datasets/{id}/page``."""

    name: str = "objstore-landing"
    title: str | None = None  # default: the FastAPI app's title (objstore serve's config title)
    public_url: str | None = None  # the base URL clients use, when behind a proxy
    app_router_prefix: str = ""
    dataset_router_prefix: str = ""
    router_tags: Sequence[str] = ["pages"]

    def _base(self, request: Request) -> str:
        return (self.public_url or str(request.base_url)).rstrip("/")

    def _title(self, request: Request) -> str:
        app_title = getattr(request.app, "title", "")
        return self.title or (app_title if app_title != "FastAPI" else "") or "objstore serve"

    @hookimpl
    def app_router(self, deps: Dependencies) -> APIRouter:
        router = APIRouter(prefix=self.app_router_prefix, tags=list(self.router_tags))

        @router.get("/", response_class=HTMLResponse, name="landing_page")
        async def landing(request: Request) -> HTMLResponse:
            """The landing page (HTML)."""

            def cards() -> list:
                out = []
                for dataset_id in deps.dataset_ids():
                    try:
                        out.append(card_of(dataset_id, _lookup(deps, dataset_id)))
                    except HTTPException as exc:
                        out.append(unavailable_card(dataset_id, str(exc.detail)))
                    except ObjstoreError as exc:
                        out.append(unavailable_card(dataset_id, scrub(str(exc))))
                return out

            page = landing_html(self._title(request), self._base(request),
                                await off_loop(cards))
            return HTMLResponse(page, headers=HEADERS)

        return router

    @hookimpl
    def dataset_router(self, deps: Dependencies) -> APIRouter:
        router = APIRouter(prefix=self.dataset_router_prefix, tags=list(self.router_tags))

        @router.get("/page", response_class=HTMLResponse, name="dataset_page")
        async def page(request: Request, dataset: Annotated[xr.Dataset, Depends(deps.dataset)],
                       var: str | None = None, kind: str | None = None, cmap: str = "viridis",
                       sel: str | None = None) -> HTMLResponse:
            """A dataset's page with its variables and a plot form (HTML, works without JS)."""
            dataset_id = str(dataset.attrs.get("_xpublish_id", ""))

            def build() -> str:
                names = [str(v) for v in dataset.data_vars]
                chosen = var if var is not None else (names[0] if names else "")
                form = PlotForm(chosen, kind or "map", cmap, sel or "")
                if var is None and chosen:  # first visit: a plot that needs no question
                    suggested_kind, suggested_sel = suggest(dataset, chosen)
                    form = PlotForm(chosen, suggested_kind, cmap, str(suggested_sel))
                error = None
                try:
                    prepare(dataset, form.var, form.kind, form.cmap, form.sel)
                except ObjstoreError as exc:
                    error = scrub(str(exc))
                card = card_of(dataset_id, dataset)
                return dataset_html(self._base(request), card, dataset, form, error)

            return HTMLResponse(await off_loop(build), headers=HEADERS)

        return router
