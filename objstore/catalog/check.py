"""``objstore catalog check``: open every entry of a catalog as its reader would, and say which
open and why the others do not.

Public entries carry plain fsspec options (anonymous by construction); private ones open through
``engine="objstore"`` with the reader's own profile of the name they carry.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CatalogError, NotFoundError, ObjstoreError, scrub
from .build import require
from .files import is_local, read_text
from .update import existing_items

if TYPE_CHECKING:
    import xarray as xr

    from ..profiles import Profile

__all__ = ["EntryCheck", "check"]


@dataclass
class EntryCheck:
    name: str
    ok: bool
    access: str  # how the entry opens: "public", "private (profile 'x')", ...
    detail: str  # what opened (sizes, variables), or why it did not


def check(target: str | os.PathLike[str], profile: str | Profile | None = None
          ) -> list[EntryCheck]:
    """Open every entry of the intake catalog (v1 or v2) or STAC collection at ``target``.
    ``profile`` is only for reading the catalog file itself from an object store."""
    require("yaml", "intake", "intake_xarray", "pystac", "xpystac")
    where = os.fspath(target)
    text = read_text(where, profile)
    if text is None:
        raise NotFoundError(f"no catalog at {where}")
    if where.endswith(".json"):
        return _check_stac(where, profile)
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogError(f"{where} is not valid YAML ({str(exc).splitlines()[0]})") from None
    if isinstance(doc, dict) and doc.get("version") == 2:
        return _check_v2(doc)
    if not isinstance(doc, dict) or not isinstance(doc.get("sources"), dict):
        raise CatalogError(f"{where} is neither an intake catalog nor a STAC collection")
    return _check_v1(where, text, doc["sources"])


def _opened(name: str, access: str, open_: Any) -> EntryCheck:
    try:
        ds = open_()
    except ObjstoreError as exc:
        return EntryCheck(name, False, access, scrub(str(exc)))
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return EntryCheck(name, False, access, f"{type(exc).__name__}: {scrub(first)[:300]}")
    return EntryCheck(name, True, access, _summary(ds))


def _summary(ds: xr.Dataset) -> str:
    sizes = ", ".join(f"{k}={v}" for k, v in ds.sizes.items())
    return f"{sizes}; variables: {', '.join(map(str, ds.data_vars)) or 'none'}"


def _access(args: dict[str, Any]) -> str:
    if args.get("engine") == "objstore":
        return f"private (profile {args['profile']!r})" if args.get("profile") else \
            "private (default profile)"
    return "public"


def _check_v1(where: str, text: str, sources: dict[str, Any]) -> list[EntryCheck]:
    """Open the catalog where it is (so ``{{ CATALOG_DIR }}`` means what it says); a copy only
    when it sits on an object store that intake cannot read with objstore's profiles."""
    import intake

    def run(path: str) -> list[EntryCheck]:
        try:
            cat = intake.open_catalog(path)
        except Exception as exc:
            raise CatalogError(f"intake cannot load {where}: {type(exc).__name__}: "
                               f"{scrub(str(exc))[:300]}") from None
        return [_opened(name, _access(dict(src.get("args") or {})),
                        lambda n=name: cat[n].to_dask()) for name, src in sources.items()]

    if is_local(where) or where.startswith(("http://", "https://")):
        return run(where.removeprefix("file://"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "catalog.yaml"
        path.write_text(text)
        return run(str(path))


def _check_v2(doc: dict[str, Any]) -> list[EntryCheck]:
    from intake.readers.entry import Catalog

    try:
        cat = Catalog.from_dict(doc)
    except Exception as exc:
        raise CatalogError(f"intake cannot load the intake 2 catalog: {type(exc).__name__}: "
                           f"{scrub(str(exc))[:300]}") from None
    out = []
    for name in sorted(set(cat.entries) | set(cat.aliases)):
        kwargs = doc.get("entries", {}).get(cat.aliases.get(name, name), {}).get("kwargs", {})
        out.append(_opened(name, _access(kwargs), lambda n=name: cat[n].read()))
    return out


def _check_stac(where: str, profile: str | Profile | None) -> list[EntryCheck]:
    import xarray as xr

    out = []
    for item in existing_items(where, profile):
        asset = item.assets.get("data")
        if asset is None:
            out.append(EntryCheck(item.id, False, "stac", "the item has no 'data' asset"))
            continue
        kwargs = asset.extra_fields.get("xarray:open_kwargs") or {}
        out.append(_opened(item.id, _access(kwargs),
                           lambda a=asset: xr.open_dataset(a, engine="stac")))
    return out
