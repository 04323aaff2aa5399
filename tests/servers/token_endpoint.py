"""Local OAuth2 token endpoint for the Google service-account (JWT-bearer) flow.

google-auth's ``service_account.Credentials`` signs a JWT with the service account's private key
and POSTs ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>`` to the
``token_uri`` of the service-account JSON. This server verifies the RS256 signature against the
harness's RSA key(s), records the claims and answers
``{"access_token": "ya29.test-<n>", "expires_in": 3600, "token_type": "Bearer"}``.

Note: google-auth puts ``aud = "https://oauth2.googleapis.com/token"`` in the assertion whatever
``token_uri`` says; both values are accepted.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_TOKEN_AUD = "https://oauth2.googleapis.com/token"

_key_lock = threading.Lock()
_default_key: rsa.RSAPrivateKey | None = None


def default_private_key() -> rsa.RSAPrivateKey:
    """One RSA-2048 key per process (generated lazily), shared by the endpoint and the JSON files."""
    global _default_key
    with _key_lock:
        if _default_key is None:
            _default_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return _default_key


def _b64url_decode(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class JWTError(Exception):
    pass


@dataclass
class TokenEndpoint:
    port: int
    public_keys: list = field(default_factory=list)
    expires_in: int = 3600
    issued_tokens: list[str] = field(default_factory=list)
    assertions: list[dict] = field(default_factory=list)  # verified claims, in order
    rejected: list[str] = field(default_factory=list)  # error descriptions of refused requests
    _httpd: ThreadingHTTPServer | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def token_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    @property
    def request_count(self) -> int:
        return len(self.issued_tokens) + len(self.rejected)

    def reset(self) -> None:
        with self._lock:
            self.issued_tokens.clear()
            self.assertions.clear()
            self.rejected.clear()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # --- grant handling (called from the handler threads)
    def _verify(self, assertion: str) -> dict:
        try:
            h64, p64, s64 = assertion.split(".")
            header = json.loads(_b64url_decode(h64))
            claims = json.loads(_b64url_decode(p64))
            sig = _b64url_decode(s64)
        except Exception as e:  # noqa: BLE001
            raise JWTError(f"malformed JWT: {e}") from e
        if header.get("alg") != "RS256":
            raise JWTError(f"unsupported alg {header.get('alg')!r}")
        signed = f"{h64}.{p64}".encode()
        for pub in self.public_keys:
            try:
                pub.verify(sig, signed, padding.PKCS1v15(), hashes.SHA256())
                break
            except InvalidSignature:
                continue
        else:
            raise JWTError("invalid JWT signature")
        now = time.time()
        if claims.get("exp", 0) < now - 60:
            raise JWTError("JWT expired")
        if claims.get("iat", 0) > now + 300:
            raise JWTError("JWT issued in the future")
        if claims.get("aud") not in (self.token_uri, GOOGLE_TOKEN_AUD):
            raise JWTError(f"bad aud {claims.get('aud')!r}")
        if not claims.get("iss"):
            raise JWTError("missing iss")
        return {"header": header, **claims}

    def _grant(self, form: dict) -> tuple[int, dict]:
        grant = form.get("grant_type", [""])[0]
        if grant != JWT_BEARER_GRANT:
            return 400, {"error": "unsupported_grant_type", "error_description": grant}
        try:
            claims = self._verify(form.get("assertion", [""])[0])
        except JWTError as e:
            with self._lock:
                self.rejected.append(str(e))
            return 400, {"error": "invalid_grant", "error_description": str(e)}
        with self._lock:
            self.assertions.append(claims)
            token = f"ya29.test-{len(self.issued_tokens) + 1}"
            self.issued_tokens.append(token)
        return 200, {"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"}


def _make_handler(ep: TokenEndpoint):
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):  # noqa: N802
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n).decode()
            if self.path.split("?")[0] != "/token":
                return self._send(404, {"error": "not_found"})
            self._send(*ep._grant(parse_qs(body)))

        def do_GET(self):  # noqa: N802 - health check
            self._send(200, {"ok": True})

        def log_message(self, *args):
            pass

    return Handler


def start_token_endpoint(private_keys=None, expires_in: int = 3600) -> TokenEndpoint:
    """Threaded token server on a free 127.0.0.1 port; trusts ``private_keys`` (default: the
    process-wide :func:`default_private_key`)."""
    keys = list(private_keys) if private_keys else [default_private_key()]
    ep = TokenEndpoint(port=0, public_keys=[k.public_key() for k in keys], expires_in=expires_in)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(ep))
    httpd.daemon_threads = True
    ep.port = httpd.server_address[1]
    ep._httpd = httpd
    ep._thread = threading.Thread(target=httpd.serve_forever, name="token-endpoint", daemon=True)
    ep._thread.start()
    return ep


def service_account_info(
    token_uri: str,
    client_email: str = "objstore-test@test-project.iam.gserviceaccount.com",
    project_id: str = "test-project",
    private_key: rsa.RSAPrivateKey | None = None,
) -> dict:
    key = private_key or default_private_key()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": uuid.uuid4().hex,
        "private_key": pem,
        "client_email": client_email,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
        + client_email.replace("@", "%40"),
        "universe_domain": "googleapis.com",
    }


def write_service_account_json(
    path,
    token_uri,
    client_email: str = "objstore-test@test-project.iam.gserviceaccount.com",
    project_id: str = "test-project",
    private_key: rsa.RSAPrivateKey | None = None,
) -> Path:
    """Write a service-account key file whose token_uri is the local endpoint.

    ``token_uri`` may be a string or a :class:`TokenEndpoint`.
    """
    if isinstance(token_uri, TokenEndpoint):
        token_uri = token_uri.token_uri
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    info = service_account_info(token_uri, client_email, project_id, private_key)
    path.write_text(json.dumps(info, indent=2))
    path.chmod(0o600)
    return path
