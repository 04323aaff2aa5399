"""One backend behind one latency proxy, described by a plain JSON-able ``spec`` dict.

The parent (a benchmark script) makes the spec with :func:`make_spec` (it creates the bucket or
container); a child process measuring one client gets the spec on its command line and builds what
it needs from it: the objstore profile, the plain fsspec options, the zarr+obstore peer, the
floor's URLs. Every endpoint in a spec is the proxy's, so the proxy counts every request.

Credentials are the emulators' test credentials (moto's ``testing``, Azurite's published
development key, a Swift token of the throw-away test server, anonymous GCS).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

SCHEMES = {"s3": "s3", "swift": "swift", "azure": "az", "gcs": "gs"}
#: Backends where the zarr+obstore peer runs (obstore has no Swift store; its GCS client speaks
#: the XML API, which the GCS emulator does not serve).
PEER_BACKENDS = ("s3", "azure")
NO_PEER = {"swift": "obstore has no Swift store",
           "gcs": "obstore's GCS client speaks the XML API, which gcp-storage-emulator lacks"}


# ------------------------------------------------------------------------------- parent side
def make_spec(sv: Any, backend: str, delay: float) -> dict[str, Any]:
    """A spec for ``backend`` behind the ``delay`` ms proxy, with a new bucket or container."""
    px = sv.proxy(backend, delay)
    name = f"b{uuid.uuid4().hex[:10]}"
    spec: dict[str, Any] = {"backend": backend, "name": name, "delay_ms": delay}
    if backend == "s3":
        sv.moto.client().create_bucket(Bucket=name)
        spec.update(endpoint=px.url, key="testing", secret="testing")
    elif backend == "swift":
        from servers._util import http_request

        real_url, token = sv.swift.get_token()
        spec.update(endpoint=f"{px.url}/v1/{real_url.rstrip('/').rsplit('/', 1)[-1]}",
                    token=token)
        http_request("PUT", f"{spec['endpoint']}/{name}", headers={"X-Auth-Token": token})
    elif backend == "azure":
        from servers.azurite import create_container

        create_container(sv.azurite, name)
        spec.update(endpoint=f"{px.url}/{sv.azurite.account_name}",
                    account_name=sv.azurite.account_name, account_key=sv.azurite.account_key)
    else:
        sv.gcs.create_bucket(name)
        spec.update(endpoint=px.url)
    return spec


def empty(sv: Any, spec: dict[str, Any]) -> None:
    """Delete everything in the spec's bucket or container (straight to the server)."""
    backend, name = spec["backend"], spec["name"]
    if backend == "s3":
        sv.moto.reset()
        sv.moto.client().create_bucket(Bucket=name)
    elif backend == "swift":
        from servers._util import http_request

        sv.swift.reset()
        real_url, token = sv.swift.get_token()
        http_request("PUT", f"{real_url}/{name}", headers={"X-Auth-Token": token})
    elif backend == "azure":
        from azure.storage.blob import BlobServiceClient

        svc = BlobServiceClient.from_connection_string(sv.azurite.connection_string)
        for c in list(svc.list_containers()):
            svc.delete_container(c.name)
        svc.create_container(name)
    else:
        sv.gcs.reset(keep_buckets=True)


# ------------------------------------------------------------------------------- child side
def url(spec: dict[str, Any], key: str) -> str:
    return f"{SCHEMES[spec['backend']]}://{spec['name']}/{key}"


def profile(spec: dict[str, Any], checksums: bool = True) -> Any:
    """The objstore profile for the spec (objstore's default engine for the backend);
    ``checksums=False``: a profile's ``checksums = false`` (no MD5 computed or compared)."""
    from objstore.profiles import AzureProfile, GCSProfile, S3Profile, SwiftProfile

    b = spec["backend"]
    if b == "s3":
        return S3Profile(name="bench", key=spec["key"], secret=spec["secret"],
                         endpoint_url=spec["endpoint"], checksums=checksums)
    if b == "swift":
        return SwiftProfile(name="bench", storage_url=spec["endpoint"], token=spec["token"],
                            checksums=checksums)
    if b == "azure":
        return AzureProfile(name="bench", account_name=spec["account_name"],
                            account_key=spec["account_key"], endpoint_url=spec["endpoint"],
                            checksums=checksums)
    return GCSProfile(name="bench", endpoint_url=spec["endpoint"], anonymous=True, project="test",
                      checksums=checksums)


def plain_options(spec: dict[str, Any]) -> dict[str, Any] | None:
    """The plain fsspec storage options (s3fs, adlfs, gcsfs); None on Swift (no plain fsspec
    filesystem for Swift's own API). adlfs runs without its listings cache, without which a
    consolidated ``to_zarr`` writes empty metadata (benchmarks/README.md)."""
    b = spec["backend"]
    if b == "s3":
        return {"key": spec["key"], "secret": spec["secret"], "endpoint_url": spec["endpoint"]}
    if b == "azure":
        return {"connection_string": (
            f"DefaultEndpointsProtocol=http;AccountName={spec['account_name']};"
            f"AccountKey={spec['account_key']};BlobEndpoint={spec['endpoint']};"),
            "use_listings_cache": False}
    if b == "gcs":
        return {"endpoint_url": spec["endpoint"], "token": "anon", "project": "test"}
    return None


def peer_store(spec: dict[str, Any], prefix: str) -> Any:
    """zarr's ``ObjectStore`` over obstore's S3Store / AzureStore at ``prefix``, as their docs
    show them; None where the peer cannot run (:data:`NO_PEER`)."""
    from zarr.storage import ObjectStore

    b = spec["backend"]
    if b == "s3":
        from obstore.store import S3Store

        return ObjectStore(S3Store(spec["name"], prefix=prefix, endpoint=spec["endpoint"],
                                   region="us-east-1", access_key_id=spec["key"],
                                   secret_access_key=spec["secret"],
                                   virtual_hosted_style_request=False,
                                   client_options={"allow_http": True}))
    if b == "azure":
        from obstore.store import AzureStore

        return ObjectStore(AzureStore(spec["name"], prefix=prefix,
                                      account_name=spec["account_name"],
                                      account_key=spec["account_key"], endpoint=spec["endpoint"],
                                      client_options={"allow_http": True}))
    return None


def floor_requests(spec: dict[str, Any], keys: list[str]) -> tuple[list[str], list[str],
                                                                    dict[str, Any],
                                                                    dict[str, Any]]:
    """``(upload URLs, download URLs, upload kwargs, download kwargs)`` for ``floor.py``'s raw
    client: the same objects as ``keys``, the cheapest request each backend offers."""
    import floor

    b, ep, name = spec["backend"], spec["endpoint"], spec["name"]
    if b == "s3":
        sign = floor.botocore_signer(ep, spec["key"], spec["secret"])
        urls = [f"{ep}/{name}/{k}" for k in keys]
        return urls, urls, {"sign": sign}, {"sign": sign}
    if b == "swift":
        hdr = {"X-Auth-Token": spec["token"]}
        urls = [f"{ep}/{name}/{k}" for k in keys]
        return urls, urls, {"headers": hdr}, {"headers": hdr}
    if b == "azure":
        from azure.storage.blob import ContainerSasPermissions, generate_container_sas

        now = dt.datetime.now(dt.UTC)
        sas = generate_container_sas(  # once: signing costs nothing per request
            account_name=spec["account_name"], container_name=name,
            account_key=spec["account_key"],
            permission=ContainerSasPermissions(read=True, write=True, create=True),
            start=now - dt.timedelta(minutes=5), expiry=now + dt.timedelta(hours=2))
        urls = [f"{ep}/{name}/{k}?{sas}" for k in keys]
        return urls, urls, {"headers": {"x-ms-blob-type": "BlockBlob"}}, {}
    from urllib.parse import quote

    up = [f"{ep}/upload/storage/v1/b/{name}/o?uploadType=media&name={quote(k, safe='')}"
          for k in keys]
    down = [f"{ep}/download/storage/v1/b/{name}/o/{quote(k, safe='')}?alt=media" for k in keys]
    return up, down, {"method": "POST",
                      "headers": {"Content-Type": "application/octet-stream"}}, {}
