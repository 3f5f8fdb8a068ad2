"""How a VenaPath job gets an access token from an EHR with no person present: SMART Backend
Services (client credentials with a signed JWT assertion, `private_key_jwt`).

The screening job and the Bulk Data client call `BackendServicesSession.access_token()` (or
the async twin) before each request; a token is reused until a minute before it expires.
VenaPath's public key is registered with the EHR beforehand (docs/smart.md); the private key
never leaves this machine, and no shared secret exists to leak.

The assertion follows SMART App Launch 2.x "Client Authentication: Asymmetric": header `alg`
(RS384 or ES384), `kid`, `typ: JWT` (and optionally `jku`); claims `iss` = `sub` = the client
id, `aud` = the token endpoint URL, `exp` at most five minutes ahead, and a fresh `jti`.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from venapath.errors import InputError, UnauthenticatedError, UnavailableError
from venapath.settings import BackendAlgorithm, BackendServicesSettings

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_ASSERTION_SECONDS = 300
"""SMART: the assertion's `exp` is no more than five minutes in the future."""
RENEW_MARGIN_SECONDS = 60
"""A token this close to expiry is renewed rather than sent and refused mid-job."""


@dataclass(frozen=True)
class BackendClient:
    """One registration of VenaPath at one EHR's token endpoint."""

    client_id: str
    token_url: str
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    key_id: str
    algorithm: BackendAlgorithm = "RS384"
    scope: str = "system/*.rs"
    jku: str | None = None

    def __post_init__(self) -> None:
        check_key_fits(self.private_key, self.algorithm)

    @classmethod
    def from_settings(cls, settings: BackendServicesSettings) -> BackendClient:
        return cls(
            client_id=settings.client_id,
            token_url=str(settings.token_url),
            private_key=load_private_key(settings.private_key_file),
            key_id=settings.key_id,
            algorithm=settings.algorithm,
            scope=settings.scope,
            jku=str(settings.jku) if settings.jku else None,
        )

    def assertion(self, now: float | None = None, lifetime: int = MAX_ASSERTION_SECONDS) -> str:
        """A signed, single-use client assertion for the token endpoint."""
        issued = int(now if now is not None else time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.token_url,
            "exp": issued + min(lifetime, MAX_ASSERTION_SECONDS),
            "iat": issued,
            "jti": uuid.uuid4().hex,
        }
        headers: dict[str, Any] = {"kid": self.key_id, "typ": "JWT"}
        if self.jku:
            headers["jku"] = self.jku
        return jwt.encode(claims, self.private_key, algorithm=self.algorithm, headers=headers)

    def authentication(self, now: float | None = None) -> dict[str, str]:
        """The form fields that authenticate VenaPath at the token endpoint (private_key_jwt)."""
        return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": self.assertion(now)}

    def token_form(self, now: float | None = None) -> dict[str, str]:
        return {"grant_type": "client_credentials", "scope": self.scope, **self.authentication(now)}


def check_key_fits(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, algorithm: BackendAlgorithm
) -> None:
    """RS384 signs with RSA, ES384 with P-384: a mismatch would only fail at the EHR."""
    if algorithm == "RS384" and not isinstance(key, rsa.RSAPrivateKey):
        raise InputError.at("/algorithm", "RS384 needs an RSA private key")
    if algorithm == "ES384" and not (
        isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP384R1)
    ):
        raise InputError.at("/algorithm", "ES384 needs an elliptic-curve P-384 private key")


def load_private_key(path: Path) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    """An unencrypted PEM private key (RSA or elliptic curve); refused naming the setting."""
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        raise InputError.at(
            "/private_key_file", "cannot be read as an unencrypted PEM private key"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise InputError.at("/private_key_file", "must hold an RSA or elliptic-curve key")
    return key


@dataclass(frozen=True)
class AccessToken:
    value: str
    scope: str
    expires_at: float

    def usable(self, now: float | None = None) -> bool:
        return (now if now is not None else time.time()) < self.expires_at - RENEW_MARGIN_SECONDS

    @property
    def authorization(self) -> str:
        """The header value for requests to the EHR: `Bearer ...`."""
        return f"Bearer {self.value}"


def read_token_response(response: httpx.Response, now: float | None = None) -> AccessToken:
    """The token, or a refusal naming the OAuth error code (never the body: it may echo secrets)."""
    if response.status_code >= 400:
        try:
            code = response.json().get("error")
        except (ValueError, AttributeError):
            code = None
        reason = code if isinstance(code, str) and code.isascii() and len(code) < 64 else None
        raise UnauthenticatedError(
            f"the EHR's token endpoint refused VenaPath's client assertion "
            f"({reason or response.status_code})"
        )
    try:
        body = response.json()
        value = body["access_token"]
        token_type = body.get("token_type", "")
        expires_in = int(body.get("expires_in", 300))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise UnavailableError("the EHR's token response is not a usable OAuth answer") from None
    if not isinstance(value, str) or not value or str(token_type).lower() != "bearer":
        raise UnavailableError("the EHR's token response holds no Bearer access token")
    issued = now if now is not None else time.time()
    return AccessToken(value, str(body.get("scope", "")), issued + expires_in)


class BackendServicesSession:
    """Tokens for a synchronous job (the screening command): fetched once, reused until due."""

    def __init__(self, client: BackendClient, http: httpx.Client, timeout_seconds: float = 10):
        self._client = client
        self._http = http
        self._timeout = timeout_seconds
        self._token: AccessToken | None = None

    def access_token(self) -> AccessToken:
        if self._token is None or not self._token.usable():
            try:
                response = self._http.post(
                    self._client.token_url,
                    data=self._client.token_form(),
                    headers={"Accept": "application/json"},
                    timeout=self._timeout,
                )
            except httpx.HTTPError as error:
                raise UnavailableError(
                    f"the EHR's token endpoint could not be reached ({type(error).__name__})"
                ) from None
            self._token = read_token_response(response)
        return self._token


class AsyncBackendServicesSession:
    """The same for asynchronous clients (a Bulk Data export poller)."""

    def __init__(self, client: BackendClient, http: httpx.AsyncClient, timeout_seconds: float = 10):
        self._client = client
        self._http = http
        self._timeout = timeout_seconds
        self._token: AccessToken | None = None

    async def access_token(self) -> AccessToken:
        if self._token is None or not self._token.usable():
            try:
                response = await self._http.post(
                    self._client.token_url,
                    data=self._client.token_form(),
                    headers={"Accept": "application/json"},
                    timeout=self._timeout,
                )
            except httpx.HTTPError as error:
                raise UnavailableError(
                    f"the EHR's token endpoint could not be reached ({type(error).__name__})"
                ) from None
            self._token = read_token_response(response)
        return self._token
