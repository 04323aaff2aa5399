"""Add (or replace) one cube's entry in an intake catalog and in the STAC collection beside it
(``catalog.yaml`` -> ``catalog-stac/collection.json``), locally or on an object store; with
``public=True`` the catalog files are made world-readable and the https URL is proven to work."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..api import resolve
from ..boundary import mapped_errors
from ..errors import PublicReadError, scrub
from ..public import _make_public, public_url
from .build import Entry, item_of, open_entries, require, source_of, validate_offline
from .files import is_local, read_text, write_text
from .intake_yaml import intake_catalog, read_sources
from .stac_objects import stac_collection

if TYPE_CHECKING:
    import pystac

    from ..profiles import Profile

__all__ = ["CatalogUpdate", "add_to_catalog", "stac_folder", "existing_items"]


@dataclass
class CatalogUpdate:
    catalog: str  # the intake catalog written
    stac: str  # its STAC collection.json
    name: str  # the entry's name
    replaced: bool  # an entry of that name was there before
    public: bool  # the entry opens anonymously
    public_url: str | None = None  # the catalog's https URL, when made public
    stac_public_url: str | None = None


def stac_folder(catalog: str) -> str:
    """Where the STAC collection beside an intake catalog lives."""
    parent, _, leaf = catalog.rstrip("/").rpartition("/")
    stem = leaf.rsplit(".", 1)[0] if "." in leaf else leaf
    return f"{parent}/{stem}-stac" if parent else f"{stem}-stac"


def add_to_catalog(
    catalog: str | os.PathLike[str], cube_url: str, profile: str | Profile | None = None, *,
    name: str | None = None, public: bool = False, description: str | None = None,
) -> CatalogUpdate:
    """Put the entry for the cube at ``cube_url`` into ``catalog`` (created if missing; other
    entries are kept) and into the STAC collection beside it."""
    require("yaml", "pystac", "jsonschema")
    target = os.fspath(catalog)
    entry = open_entries([] if name else [cube_url], profile=profile,
                         names={name: cube_url} if name else None)[0]
    text = read_text(target, profile)
    sources, old_description = read_sources(text, target) if text else ({}, None)
    entry.name = _free_name(sources, entry)
    replaced = entry.name in sources
    sources[entry.name] = source_of(entry)
    write_text(target, intake_catalog(sources, description=old_description or description),
               profile)
    folder = stac_folder(target)
    written = _update_stac(folder, entry, profile)
    update = CatalogUpdate(target, f"{folder}/collection.json", entry.name, replaced,
                           entry.access.public)
    if public and not is_local(target):
        update.public_url, update.stac_public_url = _make_files_public(
            target, [target] + written, profile)
    return update


def _free_name(sources: dict[str, Any], entry: Entry) -> str:
    """The entry's name, unless the catalog has it for another cube: then ``name_2``, ..."""
    name, n = entry.name, 2
    while name in sources and (sources[name].get("metadata") or {}).get("url", entry.access.url) \
            != entry.access.url:
        name, n = f"{entry.name}_{n}", n + 1
    return name


def _update_stac(folder: str, entry: Entry, profile: str | Profile | None) -> list[str]:
    """Rewrite the collection in ``folder`` with ``entry``'s item added or replaced; returns the
    files written."""
    import pystac

    items = [i for i in existing_items(f"{folder}/collection.json", profile)
             if i.id != entry.name]
    coll_text = read_text(f"{folder}/collection.json", profile)
    old = json.loads(coll_text) if coll_text else {}
    coll = stac_collection(items + [item_of(entry)], collection_id=old.get("id") or
                           Path(folder).name.removesuffix("-stac") or "cubes",
                           title=old.get("title"), description=old.get("description"))
    with tempfile.TemporaryDirectory() as tmp:
        coll.normalize_hrefs(tmp)
        validate_offline(coll)
        coll.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
        written = []
        for path in sorted(Path(tmp).rglob("*.json")):
            rel = path.relative_to(tmp).as_posix()
            write_text(f"{folder}/{rel}", path.read_text(), profile)
            written.append(f"{folder}/{rel}")
    return written


def existing_items(collection: str, profile: str | Profile | None) -> list[pystac.Item]:
    """The items of the STAC collection file at ``collection`` (a path or URL), read with
    objstore (or anonymously over https), without their links."""
    import pystac

    text = read_text(collection, profile)
    if not text:
        return []
    folder = collection.rstrip("/").rpartition("/")[0] or "."
    items = []
    for link in json.loads(text).get("links", []):
        if link.get("rel") != "item":
            continue
        rel = str(link["href"]).removeprefix("./")
        item_text = read_text(f"{folder}/{rel}", profile)
        if item_text:
            d: dict[str, Any] = json.loads(item_text)
            d["links"] = [k for k in d.get("links", []) if k.get("rel") not in
                          ("root", "parent", "collection", "self")]
            items.append(pystac.Item.from_dict(d))
    return items


def _make_files_public(catalog: str, files: list[str],
                       profile: str | Profile | None) -> tuple[str, str]:
    """Make the catalog files world-readable; return the https URLs of the catalog and of its
    STAC collection, after reading the catalog back anonymously."""
    import fsspec

    parent = catalog.rstrip("/").rpartition("/")[0]
    r = resolve(parent, profile)
    with mapped_errors(r):
        paths = [resolve(f, profile).path for f in files]
        _make_public(r, s3_objects=paths)
        url = public_url(resolve(catalog, profile))
        stac_url = public_url(resolve(f"{stac_folder(catalog)}/collection.json", profile))
    try:
        fsspec.filesystem("http", skip_instance_cache=True).cat_file(url)
    except Exception as exc:
        raise PublicReadError(f"{catalog} was made public, but an anonymous reader cannot read "
                              f"{url} ({type(exc).__name__}: {scrub(str(exc))[:200]})") from None
    return url, stac_url
