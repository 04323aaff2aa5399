"""One rig per backend: a fresh bucket on a real server, an authenticated profile, the variables a
user would set for it, and how plain fsspec reaches it. The generic tests take a ``rig``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from objstore.profiles import Profile, S3Profile, Source, SwiftProfile

BACKENDS = ["s3", "swift", "gcs", "azure"]


@dataclass
class Rig:
    backend: str
    scheme: str
    bucket: str
    profile: Profile  # authenticated, built in code
    env: dict[str, str] = field(default_factory=dict)  # what a user exports for ambient access
    plain_options: dict[str, Any] = field(default_factory=dict)  # plain fsspec storage_options
    server: Any = None

    def url(self, key: str) -> str:
        return f"{self.scheme}://{self.bucket}/{key}"

    def plain_url(self, key: str) -> str:
        protocol = {"s3": "s3", "gcs": "gs", "azure": "az", "swift": "swift"}[self.backend]
        return f"{protocol}://{self.bucket}/{key}"


def _s3(server: Any, bucket: str) -> Rig:
    from servers.moto import KEY, SECRET

    server.client().create_bucket(Bucket=bucket)
    profile = S3Profile(name="moto", key=KEY, secret=SECRET, endpoint_url=server.endpoint_url,
                        source=Source(kind="test"))
    env = {"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET,
           "AWS_ENDPOINT_URL": server.endpoint_url, "AWS_DEFAULT_REGION": "us-east-1"}
    plain = {"key": KEY, "secret": SECRET, "endpoint_url": server.endpoint_url}
    return Rig("s3", "s3", bucket, profile, env, plain, server)


def make_rig(backend: str, server: Any, bucket: str) -> Rig:
    """S3 is here; every other backend's maker is ``make`` in ``rigs_<backend>.py``."""
    if backend == "s3":
        return _s3(server, bucket)
    import importlib

    return importlib.import_module(f"rigs_{backend}").make(server, bucket)


def server_port(rig: Rig) -> int:
    """The port of the rig's server (where a proxy in front of it forwards to)."""
    if rig.backend == "s3":
        return int(rig.server.port)
    url = {"gcs": lambda: rig.server.endpoint, "azure": lambda: rig.server.blob_endpoint,
           "swift": lambda: rig.server.storage_url}[rig.backend]()
    return int(urlsplit(url).port)


def profile_via(rig: Rig, url: str) -> Profile:
    """The rig's profile, reaching its server through ``url`` (a proxy in front of it)."""
    if rig.backend in ("s3", "gcs"):
        return rig.profile.model_copy(update={"endpoint_url": url})
    if rig.backend == "azure":
        return rig.profile.model_copy(update={"endpoint_url": f"{url}/{rig.server.account_name}"})
    storage_url, token = rig.server.get_token()
    return SwiftProfile(name="swift-via", storage_url=url + urlsplit(storage_url).path, token=token,
                        source=Source(kind="test"))
