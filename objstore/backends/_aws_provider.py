"""An obstore credential provider for an AWS profile that botocore resolves and refreshes.

It pickles as the profile name (dask workers rebuild botocore's session from their own AWS files
and never receive a secret) and hands obstore each result for a few minutes only: botocore
refreshes keys well before they expire, so asking it again often is cheap and never stale.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["AwsProfileCredentials"]

#: How long obstore keeps one answer; botocore's own refresh starts 10 to 15 minutes before expiry.
TTL = timedelta(minutes=5)


class AwsProfileCredentials:
    """``obstore`` S3 credentials of AWS profile ``profile`` (None: botocore's default chain)."""

    def __init__(self, profile: str | None) -> None:
        self.profile = profile
        self._credentials: Any = None

    def __call__(self) -> dict[str, Any]:
        if self._credentials is None:
            from botocore.exceptions import NoCredentialsError
            from botocore.session import Session

            self._credentials = Session(profile=self.profile).get_credentials()
            if self._credentials is None:
                raise NoCredentialsError()
        frozen = self._credentials.get_frozen_credentials()
        return {"access_key_id": frozen.access_key, "secret_access_key": frozen.secret_key,
                "token": frozen.token, "expires_at": datetime.now(UTC) + TTL}

    def __getstate__(self) -> dict[str, Any]:
        return {"profile": self.profile}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["profile"])  # type: ignore[misc]

    def __eq__(self, other: object) -> bool:  # stores compare equal after pickling
        return isinstance(other, AwsProfileCredentials) and other.profile == self.profile

    def __hash__(self) -> int:
        return hash(self.profile)

    def __repr__(self) -> str:
        return f"AwsProfileCredentials(profile={self.profile!r})"
