"""botocore's credential failures, said the way a user can act on them.

botocore resolves an AWS profile's credentials at the first request (and again when they near
expiry), so a failing ``credential_process``, an SSO session that needs a login, or a
``source_profile`` that does not exist surface as botocore exceptions from inside s3fs. Each
becomes one :class:`~objstore.errors.CredentialsError` or :class:`~objstore.errors.ConfigError`
naming the AWS profile and the next step.
"""

from __future__ import annotations

from botocore import exceptions as bx

from ..errors import ConfigError, CredentialsError, ObjstoreError, scrub

__all__ = ["credential_error"]


def credential_error(exc: BaseException, profile: str | None, where: str) -> ObjstoreError | None:
    """The objstore error for ``exc`` raised while resolving AWS credentials, else None.

    ``profile`` is the AWS profile name (None: botocore's default chain); ``where`` names the URL
    and objstore profile for the message."""
    aws = f"AWS profile {profile!r}" if profile else "the default AWS credentials"
    login = f"aws sso login --profile {profile}" if profile else "aws sso login"
    text = scrub(str(exc).splitlines()[0] if str(exc) else type(exc).__name__).rstrip(".")
    if isinstance(exc, (bx.SSOError, bx.TokenRetrievalError)):
        return CredentialsError(f"{where}: {aws} needs a fresh SSO login ({text}): run `{login}`")
    if isinstance(exc, bx.CredentialRetrievalError):
        return CredentialsError(f"{where}: {aws} could not get credentials ({text}): check its "
                                "credential_process or role settings in the AWS config file")
    if isinstance(exc, bx.RefreshWithMFAUnsupportedError):
        return CredentialsError(f"{where}: {aws} asks for an MFA code, which cannot be typed here: "
                                "use a profile without mfa_serial, or session credentials")
    if isinstance(exc, (bx.InvalidConfigError, bx.ProfileNotFound, bx.PartialCredentialsError)):
        return ConfigError(f"{where}: {aws}: {text}; fix the AWS config or credentials file")
    return None
