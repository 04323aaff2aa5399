"""Make a GCS bucket public: ``allUsers`` as ``roles/storage.objectViewer`` in the bucket's IAM
policy, where the server supports it (the GCS emulator accepts the call and enforces nothing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import CredentialsError, RemoteError, scrub
from .base import PublicResult

if TYPE_CHECKING:
    from ..api import Resolved

GCS_READER_ROLE = "roles/storage.objectViewer"


def make_public(r: Resolved) -> PublicResult:
    fs: Any = r.fs
    bucket = r.url.bucket
    try:
        policy = fs.call("GET", "b/{}/iam", bucket, json_out=True)
        bindings = [b for b in policy.get("bindings", []) if isinstance(b, dict)]
        for b in bindings:
            if b.get("role") == GCS_READER_ROLE:
                if "allUsers" not in b.setdefault("members", []):
                    b["members"].append("allUsers")
                break
        else:
            bindings.append({"role": GCS_READER_ROLE, "members": ["allUsers"]})
        policy["bindings"] = bindings
        fs.call("PUT", "b/{}/iam", bucket, json=policy)
    except (PermissionError, CredentialsError):
        raise
    except Exception as exc:
        raise RemoteError(f"cannot make gs://{bucket} public: setting its IAM policy failed "
                          f"({type(exc).__name__}: {scrub(str(exc))[:200]})") from None
    return PublicResult(r.backend.public_url(r), f"GCS IAM: allUsers as {GCS_READER_ROLE}")




def make_private(r: Resolved) -> None:
    """Remove ``allUsers`` from every binding of the bucket's IAM policy."""
    fs: Any = r.fs
    policy = fs.call("GET", "b/{}/iam", r.url.bucket, json_out=True)
    for binding in policy.get("bindings", []):
        binding["members"] = [m for m in binding.get("members", []) if m != "allUsers"]
    fs.call("PUT", "b/{}/iam", r.url.bucket, json=policy)
