"""intake catalog entries from an opened dataset (no I/O), and the catalog's YAML text.

The v1 format (``sources:`` with ``driver: zarr``) is what intake 0.7 and intake 2 both read;
intake 2 hands the entry to intake-xarray's zarr driver, which passes ``engine`` and other
arguments on to ``xr.open_dataset``. That is how a private entry opens through
``engine="objstore"`` with only a profile name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import CatalogError
from .describe import plain, time_range

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["intake_source", "intake_catalog", "intake_v2_catalog", "read_sources"]


def intake_source(
    ds: xr.Dataset, *, urlpath: str, driver: str = "zarr",
    storage_options: dict[str, Any] | None = None, engine: str | None = None,
    profile: str | None = None, description: str | None = None,
    extra_args: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One intake v1 ``sources:`` entry for ``ds``: driver, description, args (``urlpath``,
    ``storage_options`` or ``engine``/``profile``, ``consolidated``) and metadata (dims,
    variables, time range)."""
    args: dict[str, Any] = {"urlpath": urlpath}
    if storage_options:
        args["storage_options"] = storage_options
    if engine:
        args["engine"] = engine
    if profile:
        args["profile"] = profile
    args["consolidated"] = True
    args.update(extra_args or {})
    text = description or ds.attrs.get("title") or ds.attrs.get("summary") or ""
    meta: dict[str, Any] = {
        "dims": {str(k): int(v) for k, v in ds.sizes.items()},
        "variables": {str(n): _variable(ds, str(n)) for n in ds.data_vars},
        "coords": [str(c) for c in ds.coords],
    }
    if (tr := time_range(ds)) is not None:
        meta["time_range"] = list(tr)
    for key in ("title", "institution", "source", "license", "Conventions"):
        if isinstance(ds.attrs.get(key), str):
            meta.setdefault("attrs", {})[key] = ds.attrs[key]
    return {"driver": driver, "description": str(text), "args": args, "metadata": meta}


def _variable(ds: xr.Dataset, name: str) -> dict[str, Any]:
    var = ds[name]
    out: dict[str, Any] = {"dims": [str(d) for d in var.dims], "dtype": str(var.dtype)}
    for key in ("units", "long_name", "standard_name"):
        if key in var.attrs:
            out[key] = plain(var.attrs[key])
    return out


def intake_catalog(sources: dict[str, dict[str, Any]], *, description: str | None = None) -> str:
    """The YAML text of an intake v1 catalog holding ``sources``."""
    import yaml

    doc: dict[str, Any] = {}
    if description:
        doc["description"] = description
    doc["metadata"] = {"version": 1}
    doc["sources"] = sources
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, allow_unicode=True)


def read_sources(text: str, where: str = "the catalog") -> tuple[dict[str, dict[str, Any]],
                                                                   str | None]:
    """The ``sources`` and description of an intake v1 catalog's YAML text."""
    import yaml

    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise CatalogError(f"{where} is not valid YAML ({str(exc).splitlines()[0]})") from None
    if isinstance(doc, dict) and (doc.get("version") == 2 or "entries" in doc):
        raise CatalogError(f"{where} is an intake 2 catalog; objstore adds entries to intake v1 "
                           "catalogs (the format both intake 0.7 and 2 read): give another file")
    if not isinstance(doc, dict) or not isinstance(doc.get("sources", {}), dict):
        raise CatalogError(f"{where} is not an intake v1 catalog (no 'sources:' mapping)")
    return dict(doc.get("sources") or {}), doc.get("description")


def intake_v2_catalog(sources: dict[str, dict[str, Any]], *,
                      description: str | None = None) -> str:
    """The same entries in intake 2's native format (``intake.readers``)."""
    import yaml
    from intake.readers import XArrayDatasetReader, datatypes
    from intake.readers.entry import Catalog

    cat = Catalog(metadata={"description": description} if description else {})
    for name, src in sources.items():
        args = dict(src["args"])
        url = args.pop("urlpath")
        options = args.pop("storage_options", None)
        data = datatypes.Zarr(url, storage_options=options, metadata=src.get("metadata"))
        kwargs = {"engine": "zarr", "chunks": {}, **args}
        reader = XArrayDatasetReader(data, metadata={"description": src.get("description", ""),
                                                     **src.get("metadata", {})}, **kwargs)
        cat[name] = reader
    return yaml.safe_dump(cat.to_dict(), sort_keys=False)
