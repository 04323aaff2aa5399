"""Google Cloud Storage from the environment, as the profile ``gcs-env``.

``GOOGLE_APPLICATION_CREDENTIALS`` (a service-account JSON file), ``STORAGE_EMULATOR_HOST`` (a custom
endpoint, ``host:port`` or a URL), ``GOOGLE_CLOUD_PROJECT`` (the project). Without
``GOOGLE_APPLICATION_CREDENTIALS`` the profile is anonymous: objstore never probes the GCE metadata
server unless a profile says ``google_default = true``. The file is checked when the profile is
used, not here, so that ``objstore profiles`` still lists everything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..backends.env import GCS, TABLES
from ..profiles import Profile, Source
from ._validate import make_profile

__all__ = ["load", "ENV_PROFILE"]

ENV_PROFILE = TABLES["gcs"][0]


def load(env: Mapping[str, str]) -> list[Profile]:
    f: dict[str, Any] = {"backend": "gcs"}
    used = []
    for v in GCS:
        value = env.get(v.name, "").strip()
        if value and not (v.name == "STORAGE_EMULATOR_HOST" and value == "default"):  # gcsfs: unset
            f[v.field] = value
            used.append(v.name)
    if not used:
        return []
    if "endpoint_url" in f and "://" not in f["endpoint_url"]:
        f["endpoint_url"] = "http://" + f["endpoint_url"]
    if "token_file" not in f:
        f["anonymous"] = True  # an emulator or public data: no credentials, no metadata probe
    return [make_profile(ENV_PROFILE, f, Source(kind="env", location=", ".join(used)))]
