"""The served datasets: each opened lazily through ``open_cube`` (or xarray for NetCDF), kept with
its state, and served as unavailable (with the reason) when it fails to open."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..api import resolve
from ..cube import open_cube
from ..errors import ObjstoreError, scrub
from .config import DatasetSpec, ServeConfig

if TYPE_CHECKING:
    import xarray as xr

    from ..api import Resolved

__all__ = ["Entry", "Datasets", "Unavailable", "UnknownDataset", "served_view"]

log = logging.getLogger("objstore.serve")

NETCDF_SUFFIXES = (".nc", ".nc4", ".netcdf", ".h5", ".hdf5")
#: encoding keys that describe values (kept); compressors, filters and codecs are not re-served
KEPT_ENCODING = ("dtype", "_FillValue", "scale_factor", "add_offset", "units", "calendar")
RETRY_AFTER_S = 30.0


class UnknownDataset(LookupError):
    pass


class Unavailable(Exception):
    """The dataset exists in the config but cannot be opened now; ``reason`` holds no secret."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def served_view(ds: xr.Dataset, dataset_id: str, *, title: str | None = None,
                description: str | None = None) -> xr.Dataset:
    """``ds`` with encodings any zarr format can write: compressors, filters, codecs and chunk
    hints of the source are dropped (the endpoints pick their own), value encodings kept. The
    config's title and description, where given, are the dataset's (pages and catalogs show them)."""
    out = ds.copy()
    for var in out.variables.values():
        var.encoding = {k: v for k, v in var.encoding.items() if k in KEPT_ENCODING}
        if var.dtype.kind in "OUS":
            var.encoding.pop("dtype", None)
        if var.chunks is None and var.shape:  # in memory: one chunk, as the path guard assumes
            var.encoding["chunks"] = var.shape
    given = {k: v for k, v in (("title", title), ("description", description)) if v}
    out.attrs = {**out.attrs, **given, "_xpublish_id": dataset_id}
    return out


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ObjstoreError):
        text = str(exc)
    else:
        first = str(exc).splitlines()[0] if str(exc) else ""
        text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return scrub(text)[:500]


@dataclass(eq=False)
class Entry:
    """One dataset and its state: ``closed`` (not tried yet), ``ok`` or ``unavailable``."""

    spec: DatasetSpec
    state: str = "closed"
    reason: str = ""
    source: xr.Dataset | None = None  # as opened
    served: xr.Dataset | None = None  # encodings translated
    resolved: Resolved | None = None
    kind: str = "zarr"  # or "netcdf"
    tried_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    extras: dict[str, Any] = field(default_factory=dict)  # per-dataset caches of the plugins

    def open(self) -> None:
        """Open the dataset (no data is read beyond metadata and index coordinates)."""
        spec = self.spec
        self.tried_at = time.monotonic()
        try:
            r = resolve(spec.url, spec.profile)
            if r.url.key.lower().rstrip("/").endswith(NETCDF_SUFFIXES):
                ds, kind = _open_netcdf(r, spec.open), "netcdf"
            else:
                kwargs = {"chunks": {}, **spec.open}
                ds, kind = open_cube(spec.url, spec.profile, **kwargs), "zarr"
        except Exception as exc:  # noqa: BLE001  (served as unavailable, the server keeps running)
            self.state, self.reason = "unavailable", _reason(exc)
            self.tried_at = time.monotonic()
            self.source = self.served = None
            log.warning("dataset %s unavailable: %s", spec.id, self.reason)
            return
        self.resolved, self.kind, self.source = r, kind, ds
        self.served = served_view(ds, spec.id, title=spec.title, description=spec.description)
        self.state, self.reason = "ok", ""
        self.extras.clear()
        log.info("dataset %s opened from %s", spec.id, scrub(spec.url))

    def dataset(self) -> xr.Dataset:
        """The served dataset, opening it first if needed; Unavailable with the reason."""
        if self.state == "unavailable":
            self._retry_later()
        else:
            with self.lock:
                if self.state == "closed":
                    self.open()
        if self.state != "ok" or self.served is None:
            raise Unavailable(self.reason)
        return self.served


    def _retry_later(self) -> None:
        """Open again in the background once RETRY_AFTER_S have passed; requests meanwhile get
        the last reason at once instead of waiting for a backend that may be down."""
        if time.monotonic() - self.tried_at <= RETRY_AFTER_S or not self.lock.acquire(False):
            return
        self.tried_at = time.monotonic()

        def reopen() -> None:
            try:
                self.open()
            finally:
                self.lock.release()

        threading.Thread(target=reopen, name=f"objstore-reopen-{self.spec.id}",
                         daemon=True).start()


def _open_netcdf(r: Resolved, kwargs: dict[str, Any]) -> xr.Dataset:
    import xarray as xr

    kwargs = {"chunks": {}, **kwargs}
    if r.backend.on_disk:
        return xr.open_dataset(r.path, **kwargs)
    kwargs.setdefault("engine", "h5netcdf")
    return xr.open_dataset(r.fs.open(r.path, "rb"), **kwargs)


class Datasets:
    """The datasets of a config, by id; :meth:`reload` adds, removes and replaces them."""

    def __init__(self, config: ServeConfig) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, Entry] = {s.id: Entry(s) for s in config.datasets}

    def ids(self) -> list[str]:
        return list(self._entries)

    def entries(self) -> list[Entry]:
        return list(self._entries.values())

    def entry(self, dataset_id: str) -> Entry:
        try:
            return self._entries[dataset_id]
        except KeyError:
            raise UnknownDataset(dataset_id) from None

    def dataset(self, dataset_id: str) -> xr.Dataset:
        return self.entry(dataset_id).dataset()

    def open_all(self) -> dict[str, str]:
        """Open every dataset not yet open; ``{id: ""}`` for those that opened, else the reason."""
        out = {}
        for e in self.entries():
            try:
                e.dataset()
                out[e.spec.id] = ""
            except Unavailable as exc:
                out[e.spec.id] = exc.reason
        return out

    def reload(self, config: ServeConfig) -> dict[str, list[str]]:
        """Serve ``config``'s datasets: keep unchanged ones open, add new, drop removed."""
        with self._lock:
            old = self._entries
            new: dict[str, Entry] = {}
            changed = []
            for s in config.datasets:
                if s.id in old and old[s.id].spec == s:
                    new[s.id] = old[s.id]
                else:
                    new[s.id] = Entry(s)
                    if s.id in old:
                        changed.append(s.id)
            self._entries = new
        added = [i for i in new if i not in old]
        removed = [i for i in old if i not in new]
        log.info("reloaded: added %s, removed %s, changed %s", added, removed, changed)
        return {"added": added, "removed": removed, "changed": changed}
