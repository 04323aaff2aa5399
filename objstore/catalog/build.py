"""``objstore.catalog.intake(urls)`` and ``objstore.catalog.stac(urls, dir)``: open each cube,
find how a reader reaches it, and write the catalog."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..cube import open_cube
from ..errors import BackendNotInstalledError, CatalogError, CatalogExistsError, ConfigError
from .access import Access, reader_access
from .describe import with_actual_ranges
from .files import read_text, write_text
from .intake_yaml import intake_catalog, intake_source, intake_v2_catalog
from .stac_objects import stac_collection, stac_item

if TYPE_CHECKING:
    import pystac
    import xarray as xr

    from ..profiles import Profile

__all__ = ["require", "refuse_existing", "Entry", "open_entries", "source_of", "intake",
           "intake_text", "stac", "write_stac", "default_name"]


@dataclass
class Entry:
    name: str
    access: Access
    ds: xr.Dataset


def require(*modules: str) -> None:
    """Raise a clear error naming the extra when a catalog library is not installed."""
    import importlib.util

    for module in modules:
        if importlib.util.find_spec(module) is None:
            raise BackendNotInstalledError(
                f"catalogs need the {module!r} package: pip install 'objstore[catalog]'")


def refuse_existing(target: str | os.PathLike[str],
                    profile: str | Profile | None = None) -> None:
    """Refuse to replace a catalog file the user did not ask to replace."""
    if read_text(target, profile) is not None:
        raise CatalogExistsError(
            f"{os.fspath(target)} already exists; refusing to replace it. Pass --overwrite "
            "(overwrite=True) to replace it, or use `objstore publish --catalog` to add one "
            "cube to it")


def default_name(url: str) -> str:
    """A catalog name from the URL's last part: ``s3://b/era5/t2m.zarr`` -> ``t2m``."""
    stem = url.rstrip("/").rsplit("/", 1)[-1]
    stem = re.sub(r"\.zarr$", "", stem, flags=re.IGNORECASE)
    return re.sub(r"\W+", "_", stem).strip("_") or "cube"


def _named(urls: Iterable[str], names: Mapping[str, str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, url in (names or {}).items():
        out[name] = url
    for url in urls:
        if url in out.values():
            continue
        name, n = default_name(url), 2
        while name in out:
            name, n = f"{default_name(url)}_{n}", n + 1
        out[name] = url
    if not out:
        raise ConfigError("no cube to catalog: give at least one URL (or --name NAME=URL)")
    return out


def open_entries(urls: Iterable[str], *, profile: str | Profile | None = None,
                 names: Mapping[str, str] | None = None, private: bool = False) -> list[Entry]:
    """Open each cube (metadata only) and decide how readers reach it."""
    entries = []
    for name, url in _named(urls, names).items():
        ds = open_cube(url, profile)
        entries.append(Entry(name, reader_access(url, profile, private=private), ds))
    return entries


def source_of(entry: Entry, description: str | None = None) -> dict[str, Any]:
    """The intake v1 source for an entry, noting whether it is public."""
    a = entry.access
    src = intake_source(entry.ds, urlpath=a.urlpath, storage_options=a.storage_options or None,
                        engine=a.engine, profile=a.profile, description=description)
    src["metadata"]["url"] = a.url  # where the cube lives (for updates; no secret in a URL)
    src["metadata"]["access"] = "public" if a.public else (
        f"private: objstore profile {a.profile!r}" if a.profile
        else "private: the reader's default objstore profile for this URL")
    return src


def intake(
    urls: Iterable[str], *, profile: str | Profile | None = None,
    names: Mapping[str, str] | None = None, description: str | None = None,
    private: bool = False, format: Literal["v1", "v2"] = "v1",
    output: str | os.PathLike[str] | None = None, overwrite: bool = False,
) -> str:
    """An intake catalog of the cubes at ``urls`` (YAML text; also written to ``output``, a path
    or object-store URL, when given). Public cubes get plain fsspec options; private ones (or all
    with ``private=True``) open through ``engine="objstore"`` with the profile's name. An
    existing ``output`` is replaced only with ``overwrite=True``."""
    if output is not None and not overwrite:
        refuse_existing(output, profile)
    entries = open_entries(urls, profile=profile, names=names, private=private)
    text = intake_text(entries, description=description, format=format)
    if output is not None:
        write_text(output, text, profile)
    return text


def intake_text(entries: list[Entry], *, description: str | None = None,
                format: Literal["v1", "v2"] = "v1") -> str:
    """The catalog YAML for opened entries."""
    require("yaml", *(["intake"] if format == "v2" else []))
    sources = {e.name: source_of(e) for e in entries}
    make = intake_v2_catalog if format == "v2" else intake_catalog
    return make(sources, description=description)


def item_of(entry: Entry, *, read_extents: bool = True) -> pystac.Item:
    a = entry.access
    ds = with_actual_ranges(entry.ds) if read_extents else entry.ds
    return stac_item(ds, item_id=entry.name, href=a.urlpath, open_kwargs=a.open_kwargs,
                     storage_options=a.storage_options or None)


def stac(
    urls: Iterable[str], output_dir: str | os.PathLike[str], *,
    collection_id: str = "cubes", profile: str | Profile | None = None,
    names: Mapping[str, str] | None = None, private: bool = False,
    title: str | None = None, description: str | None = None, overwrite: bool = False,
) -> pystac.Collection:
    """A STAC Collection with one Item per cube, saved under ``output_dir`` (``collection.json``
    and ``ID/ID.json``) and validated against the core STAC schemas shipped with pystac. An
    existing collection there is replaced only with ``overwrite=True``."""
    if not overwrite:
        refuse_existing(Path(output_dir) / "collection.json")
    entries = open_entries(urls, profile=profile, names=names, private=private)
    return write_stac(entries, output_dir, collection_id=collection_id, title=title,
                      description=description)


def write_stac(entries: list[Entry], output_dir: str | os.PathLike[str], *,
               collection_id: str = "cubes", title: str | None = None,
               description: str | None = None) -> pystac.Collection:
    """Save the collection of opened entries under ``output_dir`` and validate it offline."""
    require("pystac", "jsonschema")
    import pystac

    coll = stac_collection([item_of(e) for e in entries], collection_id=collection_id,
                           title=title, description=description)
    coll.normalize_hrefs(str(Path(output_dir).absolute()))
    validate_offline(coll)  # before anything is written
    coll.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    return coll


def validate_offline(coll: pystac.Collection) -> None:
    """Validate the collection and its items against the core STAC schemas that pystac ships.
    The extension schemas (datacube, xarray-assets) live online and are not checked here."""
    import pystac
    from pystac import STACObjectType
    from pystac.validation.stac_validator import JsonSchemaSTACValidator

    v = JsonSchemaSTACValidator()
    version = pystac.get_stac_version()
    objects: list[tuple[pystac.STACObject, STACObjectType]] = [(coll, STACObjectType.COLLECTION)]
    objects += [(i, STACObjectType.ITEM) for i in coll.get_items(recursive=True)]
    for obj, kind in objects:
        try:
            v.validate_core(obj.to_dict(), kind, version, href=obj.get_self_href())
        except pystac.STACValidationError as exc:
            raise CatalogError(f"{obj.get_self_href()} fails the STAC {kind} schema: "
                               f"{str(exc).splitlines()[-1]}") from None
