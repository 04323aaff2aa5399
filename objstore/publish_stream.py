"""publish's upload step for a source that must be converted (a NetCDF file, anything xarray
opens, a Dataset, a rechunked zarr folder): no local copy of the cube. The dataset is written
straight to the destination through objstore's write path
(:func:`objstore.cube_write.write_dataset`: chunks go out while dask encodes the next ones), with
a :class:`Recorder` between the write and the store that

* remembers each object's size and MD5 (what the verification step compares the store with),
* does not send an object that the destination already holds identically (resume, overwrite),
* holds back the final documents (root metadata, consolidated metadata), which publish's commit
  step sends after the verification,
* and, ``dry``, sends nothing at all (comparing a source with the cube already there).

Local disk used: none beyond what xarray needs to read the source.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from zarr.abc.store import ByteRequest
from zarr.core.buffer import Buffer, BufferPrototype
from zarr.storage import WrapperStore

from .cube_write import write_dataset
from .cubestore import CubeStore
from .transfer import Item, concurrency_for, same
from .zarr_keys import ZARR_JSON, ZATTRS_JSON, ZGROUP_JSON, ZMETADATA_V2_JSON

if TYPE_CHECKING:
    import xarray as xr
    from zarr.abc.store import Store

    from .api import Resolved

__all__ = ["Recorder", "Streamed", "stream", "final_documents"]

Progress = Callable[[int, int], None]
_HASH_IN_THREAD = 4 * 2**20  # bodies above this are hashed off the event loop


def final_documents(zarr_format: int) -> tuple[str, ...]:
    """The objects publish sends last, in this order (those a write produces)."""
    return (ZGROUP_JSON, ZATTRS_JSON, ZMETADATA_V2_JSON) if zarr_format == 2 else (ZARR_JSON,)


class _WriteBehind:
    """PUTs that go on while the write goes on (a dask task does not wait for its chunks to
    land before encoding the next ones): at most ``limit`` bytes queued, ``n`` requests in
    flight; the first failure stops the write at its next object and is raised by :meth:`drain`."""

    def __init__(self, n: int, limit: int) -> None:
        self.n, self.limit = n, limit
        self.tasks: set[asyncio.Future[None]] = set()
        self.queued = 0
        self.sem: asyncio.Semaphore | None = None
        self.error: Exception | None = None

    async def put(self, store: Store, key: str, value: Buffer, done: Callable[[], None]) -> None:
        size = len(value)
        while self.tasks and self.queued + size > self.limit and self.error is None:
            await asyncio.wait(self.tasks, return_when=asyncio.FIRST_COMPLETED)
        if self.error is not None:
            raise self.error
        if self.sem is None:
            self.sem = asyncio.Semaphore(self.n)
        sem = self.sem
        self.queued += size

        async def go() -> None:
            try:
                async with sem:
                    await _put(store, key, value)
                done()
            except Exception as exc:  # raised by the next put, or by drain()
                self.error = self.error or exc
            finally:
                self.queued -= size

        task = asyncio.ensure_future(go())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def drain(self) -> None:
        while self.tasks:
            await asyncio.wait(set(self.tasks))
        if self.error is not None:
            raise self.error


#: Bytes of streamed objects queued for upload at once (a bigger object takes it alone).
WRITE_BEHIND_BYTES = 64 * 2**20


@dataclass
class _Record:
    known: Mapping[str, Item]
    final: frozenset[str]
    dry: bool
    progress: Progress | None
    behind: _WriteBehind
    objects: dict[str, Item] = field(default_factory=dict)  # everything the write produced
    sent: list[Item] = field(default_factory=list)
    kept: list[Item] = field(default_factory=list)  # already there and identical
    differ: list[str] = field(default_factory=list)  # not sent because dry


class Recorder(WrapperStore["Store"]):
    """A zarr store between a cube write and the destination's store (see the module docstring).

    Deletes are ignored: a publish deletes only what its own steps decide."""

    def __init__(self, store: Store, record: _Record) -> None:
        super().__init__(store)
        self.record = record

    def _with_store(self, store: Store) -> Recorder:
        return type(self)(store, self.record)

    async def set(self, key: str, value: Buffer) -> None:
        rec = self.record
        data = value.to_bytes()
        md5 = (await asyncio.to_thread(_md5, data) if len(data) > _HASH_IN_THREAD
               else _md5(data))
        if key in rec.final:
            rec.objects[key] = Item(key, len(data), data=data, md5=md5)
            return
        item = Item(key, len(data), md5=md5)
        rec.objects[key] = item
        there = rec.known.get(key)
        if there is not None and same(item, there):
            rec.kept.append(item)
        elif rec.dry:
            rec.differ.append(key)
        else:
            await rec.behind.put(self._store, key, value, lambda: self._sent(item))
            return
        if rec.progress is not None:
            rec.progress(1, len(data))

    def _sent(self, item: Item) -> None:
        self.record.sent.append(item)
        if self.record.progress is not None:
            self.record.progress(1, item.size)

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        await self.set(key, value)

    async def get(self, key: str, prototype: BufferPrototype,
                  byte_range: ByteRequest | None = None) -> Buffer | None:
        held = self.record.objects.get(key)
        if held is not None and held.data is not None and byte_range is None:
            return prototype.buffer.from_bytes(held.data)
        return await self._store.get(key, prototype, byte_range)

    async def delete(self, key: str) -> None:
        return None

    async def delete_dir(self, prefix: str) -> None:
        return None


async def _put(store: Store, key: str, value: Buffer) -> None:
    """PUT one streamed object (the one place every streamed upload goes through)."""
    await store.set(key, value)


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@dataclass
class Streamed:
    """What a streamed write produced: every object (final documents with their bytes), what
    was sent, what was already there and identical, and (dry) what differs."""

    objects: dict[str, Item]
    sent: list[Item]
    kept: list[Item]
    differ: list[str]
    final: list[str]  # the final documents produced, in upload order


def stream(ds: xr.Dataset, r: Resolved, *, zarr_format: int, known: Mapping[str, Item],
           dry: bool = False, progress: Progress | None = None) -> Streamed:
    """Write ``ds`` at ``r`` as zarr through objstore's write path, skipping what ``known`` (the
    destination's listing) holds identically and holding back the final documents; ``dry``
    sends nothing. The caller has put publish's marker up (unless ``dry``)."""
    import dask
    from zarr.core.sync import sync

    outer = r.zarr_store()
    inner = outer.inner if isinstance(outer, CubeStore) else outer
    n = getattr(outer, "max_concurrency", None) or concurrency_for(r)
    wanted = final_documents(zarr_format)
    rec = _Record(known, frozenset(wanted), dry, progress, _WriteBehind(n, WRITE_BEHIND_BYTES))
    store = CubeStore(Recorder(inner, rec), max_concurrency=n)
    store.errors = getattr(outer, "errors", None)
    # this process's threads: the record of what was sent lives here (a dask.distributed
    # worker would write through a copy of the store, and its record would be lost)
    try:
        with dask.config.set(scheduler="threads"):
            write_dataset(ds, r, mode="w-", zarr_format=zarr_format, consolidated=True,
                          fresh=True, claimed=True, store=store)
    except BaseException:
        with contextlib.suppress(Exception):  # the write's own error is the one to report
            sync(rec.behind.drain())
        raise
    sync(rec.behind.drain())
    final = [name for name in wanted if name in rec.objects]
    return Streamed(rec.objects, rec.sent, rec.kept, rec.differ, final)
