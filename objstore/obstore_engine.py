"""The obstore I/O engine: zarr's ``ObjectStore`` over obstore's Rust stores, built from the same
storage options the fsspec engine gets (see :func:`objstore.perf.engine` for when it is used).

* **S3** (``s3://``): an ``obstore.store.S3Store`` from the s3fs options (keys or anonymous;
  endpoint, region, requester pays; an AWS profile or the ambient chain through boto3).
* **Azure** (``az://``): an ``obstore.store.AzureStore`` from the connection string the Azure
  adapter always builds (``AccountName``, ``AccountKey``, ``SharedAccessSignature``,
  ``BlobEndpoint``, ``DefaultEndpointsProtocol``, ``EndpointSuffix``, ``UseDevelopmentStorage``).
  The key or SAS is handed over as a *credential provider*, not as config: object_store reads
  ``AZURE_STORAGE_*`` variables too, and an ``AZURE_STORAGE_ACCOUNT_KEY`` in the environment would
  otherwise beat a profile's SAS; a provider beats every variable, so the profile you chose is the
  one used.
* **GCS** is not offered (:data:`objstore.perf.GCS_NOT_OFFERED` says why).

The translations are each backend's (``Backend.obstore_problem`` / ``obstore_store``, in
:mod:`objstore.backends._obstore`); this module wraps what they build.

obstore's exceptions become the builtin ones fsspec raises (:func:`_translate`), which objstore's
boundary maps to its own; their text is scrubbed of secrets, and no repr shows a key or SAS.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from . import backends
from .errors import ConfigError, scrub
from .obstore_checksums import ChecksummedObjectStore, SinglePutObjectStore
from .perf import GCS_NOT_OFFERED, problem

if TYPE_CHECKING:
    from zarr.abc.store import Store

__all__ = ["obstore_store", "problem", "ObstoreStore", "UncheckedObstoreStore", "GCS_NOT_OFFERED",
           "translated_errors"]



# ------------------------------------------------------------------------------ stores
def obstore_store(protocol: str, path: str, options: Mapping[str, Any], n: int,
                  read_only: bool = False, checksums: bool = True) -> Store:
    """zarr's ``ObjectStore`` over an obstore store for ``protocol``, with a connection pool of
    ``n`` idle connections per host; :class:`~objstore.errors.ConfigError` if obstore cannot do
    exactly what ``options`` say. ``checksums=False``: no MD5 metadata written or compared."""
    why = problem(protocol, options)
    if why:
        raise ConfigError(why)
    backend = backends.for_protocol(protocol)
    inner = backend.obstore_store(path, options, n, checked=checksums)
    if not checksums:
        return UncheckedObstoreStore(inner, read_only=read_only)
    store = ObstoreStore(inner, read_only=read_only)
    store.etags = backend.obstore_etags(path, options)
    return store


# ------------------------------------------------------------------------------ exceptions
def _translate(exc: BaseException) -> BaseException:
    """obstore's exceptions as the builtin ones fsspec raises (which objstore maps to its own)."""
    if not type(exc).__module__.startswith("obstore"):
        return exc
    name = type(exc).__name__
    text = scrub((str(exc).splitlines() or [name])[0])
    # "... Server returned non-2xx status code: 403 Forbidden: <?xml ...": keep up to the status
    text = re.sub(r"(status code: \d{3}[^:]*):.*", r"\1", text)
    if name in ("PermissionDeniedError", "UnauthenticatedError"):
        return PermissionError(text)
    if name == "NotFoundError":
        return FileNotFoundError(text)
    if name == "AlreadyExistsError":
        return FileExistsError(text)
    return OSError(text)


@contextmanager
def translated_errors() -> Iterator[None]:
    """Re-raise obstore's exceptions as the builtin ones (:func:`_translate`); others as they are."""
    try:
        yield
    except Exception as exc:
        new = _translate(exc)
        if new is exc:
            raise
        raise new from None


def _translating(cls: type, name: str = "ObstoreStore") -> type:
    """A subclass of zarr's ``ObjectStore`` whose calls raise builtin exceptions."""

    def wrap(name: str) -> Any:
        method = getattr(cls, name)

        async def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            with translated_errors():
                return await method(self, *args, **kwargs)

        call.__name__ = name
        return call

    def wrap_iter(name: str) -> Any:
        method = getattr(cls, name)

        async def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            with translated_errors():
                async for item in method(self, *args, **kwargs):
                    yield item

        call.__name__ = name
        return call

    ns: dict[str, Any] = {n: wrap(n) for n in ("get", "get_partial_values", "exists", "set",
                                               "set_if_not_exists", "delete", "delete_dir",
                                               "getsize")}
    ns.update({n: wrap_iter(n) for n in ("list", "list_prefix", "list_dir")})
    ns["__module__"] = __name__
    ns["__qualname__"] = name
    return type(name, (cls,), ns)


#: zarr's ``ObjectStore`` raising builtin exceptions, its objects MD5-checked (obstore_checksums);
#: picklable: a module-level class.
ObstoreStore = _translating(ChecksummedObjectStore)
#: the same without the MD5 checks (a profile's ``checksums = false``)
UncheckedObstoreStore = _translating(SinglePutObjectStore, "UncheckedObstoreStore")
