"""OpenID Connect sign-in for staff: authorization code flow with PKCE (S256), against the
hospital's provider (`VENAPATH_OIDC`).

The flow state (state, nonce, PKCE verifier, where to go next) rides in a short-lived
HttpOnly cookie scoped to /auth/oidc, so any worker can finish the flow. The ID token is
verified with PyJWT against the provider's JWKS: asymmetric signature, `iss`, `aud` = our
client id, `exp`, `iat` and the `nonce` we sent. Roles come from the configured claim through
`role_mapping`; a user with no mapped role is refused (deny by default).
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from venapath.domain.access import Role
from venapath.identity.sessions import SignedIn
from venapath.identity.tokens import ALLOWED_ALGORITHMS
from venapath.settings import OidcProvider

DISCOVERY_CACHE_SECONDS = 300.0
FLOW_COOKIE = "venapath_oidc"
FLOW_SECONDS = 600


class OidcError(Exception):
    """The sign-in could not be completed; the message is safe to show and to log."""


@dataclass(frozen=True)
class Flow:
    state: str
    nonce: str
    verifier: str
    next: str

    def to_cookie(self) -> str:
        """URL-safe base64 of a JSON list: a cookie value that needs no quoting."""
        text = json.dumps([self.state, self.nonce, self.verifier, self.next])
        return base64.urlsafe_b64encode(text.encode()).decode()

    @classmethod
    def from_cookie(cls, value: str | None) -> Flow:
        try:
            text = base64.urlsafe_b64decode((value or "").encode()).decode()
            state, nonce, verifier, target = json.loads(text)
            return cls(str(state), str(nonce), str(verifier), str(target))
        except (ValueError, TypeError, UnicodeDecodeError):
            raise OidcError("the sign-in took too long or was started elsewhere") from None


class OidcClient:
    def __init__(self, provider: OidcProvider, client: httpx.AsyncClient, timeout: float) -> None:
        self.provider = provider
        self.client = client
        self.timeout = timeout
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._jwks: jwt.PyJWKSet | None = None

    async def metadata(self) -> dict[str, Any]:
        if self._metadata and time.monotonic() - self._metadata[0] < DISCOVERY_CACHE_SECONDS:
            return self._metadata[1]
        issuer = str(self.provider.issuer).rstrip("/")
        data = await self._get_json(f"{issuer}/.well-known/openid-configuration")
        if data.get("issuer", "").rstrip("/") != issuer:
            raise OidcError("the provider's discovery document names another issuer")
        self._metadata = (time.monotonic(), data)
        return data

    async def start(self, redirect_uri: str, target: str) -> tuple[str, Flow]:
        """The provider's authorization URL and the flow to keep in the cookie."""
        metadata = await self.metadata()
        flow = Flow(generate_token(32), generate_token(32), generate_token(64), target)
        url = add_params_to_uri(
            metadata["authorization_endpoint"],
            [
                ("response_type", "code"),
                ("client_id", self.provider.client_id),
                ("redirect_uri", redirect_uri),
                ("scope", self.provider.scope),
                ("state", flow.state),
                ("nonce", flow.nonce),
                ("code_challenge", create_s256_code_challenge(flow.verifier)),
                ("code_challenge_method", "S256"),
            ],
        )
        return url, flow

    async def finish(self, flow: Flow, state: str, code: str, redirect_uri: str) -> SignedIn:
        if not state or state != flow.state:
            raise OidcError("the sign-in answer does not match the sign-in that was started")
        metadata = await self.metadata()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": self.provider.client_id,
            "code_verifier": flow.verifier,
        }
        if self.provider.client_secret:
            form["client_secret"] = self.provider.client_secret
        try:
            response = await self.client.post(
                metadata["token_endpoint"], data=form, timeout=self.timeout
            )
        except httpx.HTTPError:
            raise OidcError("the sign-in provider could not be reached") from None
        if response.status_code != 200:
            raise OidcError("the sign-in provider refused the authorization code")
        id_token = response.json().get("id_token")
        if not isinstance(id_token, str):
            raise OidcError("the sign-in provider sent no ID token")
        claims = await self._verify(id_token, metadata, flow.nonce)
        return self._signed_in(claims)

    async def _verify(self, id_token: str, metadata: dict[str, Any], nonce: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(id_token)
            if header.get("alg") not in ALLOWED_ALGORITHMS:
                raise OidcError("the ID token is not signed with an accepted algorithm")
            key = await self._key(metadata, str(header.get("kid", "")))
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key=key,
                algorithms=[str(header["alg"])],
                audience=self.provider.client_id,
                issuer=str(self.provider.issuer).rstrip("/"),
                options={"require": ["iss", "aud", "exp", "iat", "sub", "nonce"]},
            )
        except jwt.InvalidTokenError as error:
            raise OidcError(f"the ID token is not valid: {error}") from None
        if claims.get("nonce") != nonce:
            raise OidcError("the ID token's nonce does not match the sign-in")
        return claims

    async def _key(self, metadata: dict[str, Any], kid: str) -> Any:
        for refresh in (False, True):
            if self._jwks is None or refresh:
                self._jwks = jwt.PyJWKSet.from_dict(await self._get_json(metadata["jwks_uri"]))
            for key in self._jwks.keys:
                if key.key_id == kid:
                    return key
        raise OidcError("the ID token names a key the provider does not publish")

    def _signed_in(self, claims: dict[str, Any]) -> SignedIn:
        values = claims.get(self.provider.role_claim)
        names = [values] if isinstance(values, str) else values if isinstance(values, list) else []
        roles = frozenset(
            Role(self.provider.role_mapping[str(name)])
            for name in names
            if str(name) in self.provider.role_mapping
        )
        if not roles:
            raise OidcError("your account has no VenaPath role; ask an administrator")
        issuer = str(self.provider.issuer).rstrip("/")
        display = claims.get("name") or claims.get("email") or claims["sub"]
        return SignedIn(
            subject=f"oidc:{issuer}#{claims['sub']}"[:300],
            display=str(display)[:200],
            roles=roles,
            method="oidc",
        )

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = await self.client.get(url, timeout=self.timeout)
            response.raise_for_status()
            data: dict[str, Any] = response.json()
            return data
        except (httpx.HTTPError, ValueError):
            raise OidcError("the sign-in provider could not be reached") from None
