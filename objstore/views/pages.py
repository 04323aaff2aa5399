"""Server-rendered HTML: the landing page and one page per dataset. Plain HTML and CSS, no
JavaScript; every value from a dataset (names, attributes) is escaped, every URL part quoted."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from ..transfer import human_bytes
from .plot import KINDS, suggest
from .snippets import snippets

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["Card", "card_of", "unavailable_card", "landing_html", "dataset_html", "plot_url"]

MAX_TEXT = 400
THUMB = {"width": 360, "height": 220, "dpi": 60}
COMMON_CMAPS = ("viridis", "plasma", "inferno", "magma", "cividis", "coolwarm", "RdBu_r",
                "Spectral_r", "YlGnBu", "Blues", "Reds", "Greys", "terrain", "twilight")

CSS = """
:root { --ink: #1d2430; --muted: #5b6576; --line: #d8dde6; --accent: #1f6feb; --bg: #f6f8fb; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif;
       color: var(--ink); background: var(--bg); }
header { background: #17324d; color: #fff; padding: 18px 32px; }
header h1 { margin: 0; font-size: 22px; } header p { margin: 4px 0 0; color: #c9d6e3; }
header a { color: #fff; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 32px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 20px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px;
        display: grid; grid-template-columns: 180px 1fr; gap: 16px; }
.card img, .thumb-missing { width: 180px; height: 110px; object-fit: contain;
        border: 1px solid var(--line); border-radius: 4px; background: #fff; }
.thumb-missing { display: flex; align-items: center; justify-content: center; color: var(--muted); }
.card h2 { margin: 0 0 4px; font-size: 18px; }
h2 a, h1 a { color: var(--accent); text-decoration: none; }
.meta { color: var(--muted); font-size: 13px; margin: 2px 0; }
.vars { margin: 6px 0; padding: 0; list-style: none; font-size: 13px; }
.vars li { display: inline-block; background: #eef3fb; border-radius: 4px; padding: 1px 6px;
           margin: 2px 4px 2px 0; }
details { grid-column: 1 / -1; } summary { cursor: pointer; color: var(--accent); }
pre { background: #0f1722; color: #e6edf3; padding: 10px 12px; border-radius: 6px;
      overflow-x: auto; font-size: 12.5px; margin: 6px 0 10px; }
.unavailable { color: #9a3412; }
table { border-collapse: collapse; width: 100%; background: #fff; font-size: 14px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
form { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px;
       display: flex; flex-wrap: wrap; gap: 12px; align-items: end; }
label { display: flex; flex-direction: column; font-size: 13px; color: var(--muted); }
input, select, button { font: inherit; padding: 4px 6px; }
button { background: var(--accent); color: #fff; border: 0; border-radius: 4px; padding: 6px 14px; }
.error { background: #fff1f0; border: 1px solid #f5c2c0; padding: 8px 12px; border-radius: 6px; }
.plot img { max-width: 100%; border: 1px solid var(--line); background: #fff; margin-top: 12px; }
section { margin: 22px 0; }
"""


def e(value: object) -> str:
    """Escaped text, shortened to :data:`MAX_TEXT` characters."""
    text = str(value)
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    return html.escape(text, quote=True)


def q(value: object, safe: str = "") -> str:
    """A quoted URL path part, escaped for an attribute."""
    return html.escape(quote(str(value), safe=safe), quote=True)


@dataclass
class Card:
    """What the landing page shows of one dataset."""

    id: str
    title: str = ""
    description: str = ""
    dims: dict[str, int] = field(default_factory=dict)
    variables: list[tuple[str, str]] = field(default_factory=list)  # (name, "dims [units]")
    nbytes: int = 0
    thumb: str | None = None
    error: str | None = None


def plot_url(prefix: str, var: str, kind: str, cmap: str, selection: str,
             size: dict[str, int] | None = None, fmt: str | None = None) -> str:
    """The plot route for these parts, relative to ``prefix`` (``datasets/ID/`` or ``""``)."""
    url = f"{prefix}plot/{quote(var, safe='')}/{quote(kind, safe='')}/{quote(cmap, safe='')}"
    if selection:
        url += "/" + quote(selection, safe="/=:,")
    params = dict(size or {})
    if fmt:
        params["format"] = fmt  # type: ignore[assignment]
    return url + ("?" + urlencode(params) if params else "")


def card_of(dataset_id: str, ds: xr.Dataset) -> Card:
    attrs = ds.attrs
    plottable = [str(v) for v in ds.data_vars if ds[v].ndim >= 1 and ds[v].dtype.kind in "iuf"]
    thumb = None
    if plottable:
        kind, sel = suggest(ds, plottable[0])
        thumb = plot_url(f"datasets/{quote(dataset_id, safe='')}/", plottable[0], kind,
                         "viridis", str(sel), THUMB)
    variables = []
    for name in ds.data_vars:
        units = ds[name].attrs.get("units")
        dims = ", ".join(str(d) for d in ds[name].dims)
        variables.append((str(name), f"({dims})" + (f" [{units}]" if units else "")))
    return Card(id=dataset_id, title=str(attrs.get("title") or dataset_id),
                description=str(attrs.get("description") or attrs.get("summary") or ""),
                dims={str(k): int(v) for k, v in ds.sizes.items()}, variables=variables,
                nbytes=int(ds.nbytes), thumb=thumb)


def unavailable_card(dataset_id: str, reason: str) -> Card:
    return Card(id=dataset_id, title=dataset_id, error=reason or "unavailable")


def _page(title: str, header: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{e(title)}</title><style>{CSS}</style></head>"
            f"<body><header>{header}</header><main>{body}</main></body></html>\n")


def _snippets_html(base_url: str, dataset_id: str) -> str:
    parts = [f"<p class=meta>{e(label)}</p><pre><code>{e(code)}</code></pre>"
             for label, code in snippets(base_url, dataset_id).items()]
    return "".join(parts)


def _card_html(base_url: str, c: Card) -> str:
    page = f"datasets/{q(c.id)}/page"
    if c.error is not None:
        return (f'<article class="card" data-dataset="{e(c.id)}"><div class="thumb-missing">'
                f"unavailable</div><div><h2>{e(c.title)}</h2><p class=meta>id <code>{e(c.id)}"
                f"</code></p><p class=unavailable>{e(c.error)}</p></div></article>")
    thumb = (f'<a href="{page}"><img src="{e(c.thumb)}" alt="{e("plot of " + c.title)}" '
             f'loading="lazy" width="180" height="110"></a>' if c.thumb
             else '<div class="thumb-missing">no plot</div>')
    dims = " · ".join(f"{e(k)}: {v}" for k, v in c.dims.items())
    names = "".join(f'<li title="{e(info)}">{e(name)}</li>' for name, info in c.variables[:24])
    more = f"<li>+{len(c.variables) - 24} more</li>" if len(c.variables) > 24 else ""
    desc = f"<p>{e(c.description)}</p>" if c.description else ""
    return (f'<article class="card" data-dataset="{e(c.id)}">{thumb}<div>'
            f'<h2><a href="{page}">{e(c.title)}</a></h2>'
            f"<p class=meta>id <code>{e(c.id)}</code> · {human_bytes(c.nbytes)}</p>{desc}"
            f"<p class=meta>{dims}</p><ul class=vars>{names}{more}</ul></div>"
            f"<details><summary>Open it in Python: zarr, kerchunk, intake, STAC</summary>"
            f"{_snippets_html(base_url, c.id)}</details></article>")


def landing_html(title: str, base_url: str, cards: list[Card]) -> str:
    """The landing page: every served dataset with a thumbnail and access snippets."""
    header = (f"<h1>{e(title)}</h1><p>{len(cards)} dataset{'s' if len(cards) != 1 else ''} "
              f'served · <a href="docs">API</a> · <a href="datasets">ids as JSON</a></p>')
    body = ('<div class="cards">' + "".join(_card_html(base_url, c) for c in cards) + "</div>"
            if cards else "<p>No datasets are served.</p>")
    return _page(title, header, body)


@dataclass
class PlotForm:
    """The plot form's values (from the query string, or suggested)."""

    var: str
    kind: str
    cmap: str
    sel: str


def dataset_html(base_url: str, card: Card, ds: xr.Dataset, form: PlotForm,
                 error: str | None) -> str:
    """A dataset's page: attributes, variables, the plot form and its picture."""
    header = (f'<p><a href="../../">← all datasets</a></p><h1>{e(card.title)}</h1>'
              f"<p>id <code>{e(card.id)}</code> · {human_bytes(card.nbytes)} · "
              + " · ".join(f"{e(k)}: {v}" for k, v in card.dims.items()) + "</p>")
    desc = f"<p>{e(card.description)}</p>" if card.description else ""
    rows = "".join(
        f"<tr><td><code>{e(n)}</code></td><td>{e(', '.join(str(d) for d in ds[n].dims))}</td>"
        f"<td>{e(ds[n].attrs.get('long_name', ''))}</td><td>{e(ds[n].attrs.get('units', ''))}"
        f"</td><td>{e(ds[n].dtype)}</td></tr>" for n in ds.data_vars)
    variables = ("<section><h2>Variables</h2><table><tr><th>name</th><th>dimensions</th>"
                 f"<th>long name</th><th>units</th><th>type</th></tr>{rows}</table></section>")
    attrs = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in ds.attrs.items()
                    if not str(k).startswith("_"))
    attrs_html = f"<section><h2>Attributes</h2><table>{attrs}</table></section>" if attrs else ""
    section = ("<section class=plot><h2>Plot</h2>" + _form_html(ds, form)
               + _result_html(form, error) + "</section>")
    access = f"<section><h2>Open it in Python</h2>{_snippets_html(base_url, card.id)}</section>"
    return _page(card.title, header, desc + section + _diagnostics_html(ds, form.var)
                 + variables + attrs_html + access)


def _diagnostics_html(ds: xr.Dataset, var: str) -> str:
    """Ready group-by links for ``var`` along its date dimensions."""
    import xarray as xr

    if var not in ds.data_vars:
        return ""
    da = ds[var]
    dates = [str(d) for d in da.dims if d in da.indexes and (
        da.indexes[d].dtype.kind == "M" or isinstance(da.indexes[d], xr.CFTimeIndex))]
    links = []
    for dim in dates:
        for part, action, fmt in (("month", "mean", "json"), ("season", "mean", "netcdf"),
                                  ("year", "max", "zarr")):
            url = (f"groupby/{quote(var, safe='')}/{quote(dim, safe='')}.{part}/{action}"
                   + ("" if fmt == "json" else f"?format={fmt}"))
            links.append(f'<li><a href="{e(url)}">{e(var)}: {action} by {e(dim)}.{part} '
                         f"({fmt})</a></li>")
    if not links:
        return ""
    return ("<section><h2>Diagnostics</h2><p class=meta>Computed on the server: "
            "<code>groupby/VAR/COORD/ACTION/SELECTION</code>, see the API docs.</p>"
            f"<ul>{''.join(links)}</ul></section>")


def _form_html(ds: xr.Dataset, form: PlotForm) -> str:
    def options(values: list[str], chosen: str) -> str:
        return "".join(f'<option value="{e(v)}"{" selected" if v == chosen else ""}>{e(v)}'
                       "</option>" for v in values)

    cmaps = "".join(f'<option value="{e(c)}"></option>' for c in COMMON_CMAPS)
    names = [str(v) for v in ds.data_vars]
    return ('<form method="get" action="page">'
            f'<label>variable <select name="var">{options(names, form.var)}'
            f'</select></label><label>kind <select name="kind">{options(list(KINDS), form.kind)}'
            f'</select></label><label>colormap <input name="cmap" list="cmaps" size="12" '
            f'value="{e(form.cmap)}"><datalist id="cmaps">{cmaps}</datalist></label>'
            f'<label>selection <input name="sel" size="40" value="{e(form.sel)}" '
            f'placeholder="time=2020-01-15/lat=30:60 or time=[0]"></label>'
            "<button type=submit>Plot</button></form>")


def _result_html(form: PlotForm, error: str | None) -> str:
    if error is not None:
        return f'<p class="error">{e(error)}</p>'
    png = plot_url("", form.var, form.kind, form.cmap, form.sel)
    svg = plot_url("", form.var, form.kind, form.cmap, form.sel, fmt="svg")
    return (f'<div><img src="{e(png)}" alt="{e("plot of " + form.var)}" width="800" '
            f'height="500"></div><p class=meta>This picture: <a href="{e(png)}">PNG</a> · '
            f'<a href="{e(svg)}">SVG</a></p>')
