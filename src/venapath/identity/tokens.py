"""OAuth 2 bearer JWTs for machine clients of the REST API (RFC 9068 access tokens with
SMART v2 scopes), from the authorization servers in `VENAPATH_API_ISSUERS`.

Checked, in order, each failure naming itself (`TokenProblemError.code`):
`missing`/`malformed` (no `Bearer` JWT), `forged` (asymmetric `alg` only, a `kid`, a trusted
`iss`, a key from that issuer's JWKS, a valid signature), `wrong_audience`, `expired`,
`not_yet_valid` (`nbf`, or `iat` in the future), `over_long_lived` (`exp - iat` above
`VENAPATH_MAX_TOKEN_LIFETIME_SECONDS`), and `malformed` for a NumericDate that is not a
number (RFC 7519 section 2). The CDS Hooks JWT rules (cdshooks/auth.py) are separate.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import jwt

from venapath.domain.access import Principal, Role
from venapath.identity.scopes import grant_for
from venapath.settings import ApiIssuer, Settings

ALLOWED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"}
)
ACCEPTED_TYPES = frozenset({"jwt", "at+jwt", "application/at+jwt"})
JWKS_CACHE_SECONDS = 300.0
NUMERIC_DATES = ("exp", "iat", "nbf")

JwksLoader = Callable[[str], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class TokenProblemError(Exception):
    """Why a bearer token was not accepted; `status` 401, or 403 for a valid token that may
    not be used (no patient for patient scopes)."""

    code: str
    detail: str
    status: int = 401

    def __str__(self) -> str:
        return self.detail


class BearerVerifier:
    def __init__(self, settings: Settings, load_jwks: JwksLoader) -> None:
        self._issuers = {issuer.iss: issuer for issuer in settings.api_issuers}
        self._default_audience = settings.api_audience
        self._leeway = settings.jwt_leeway_seconds
        self._max_lifetime = settings.max_token_lifetime_seconds
        self._load_jwks = load_jwks
        self._cache: dict[str, tuple[float, jwt.PyJWKSet]] = {}
        self._lock = asyncio.Lock()

    async def principal(self, authorization: str, client_address: str | None) -> Principal:
        """The verified caller behind an `Authorization: Bearer` header, or TokenProblemError."""
        token = _bearer(authorization)
        header = _header(token)
        issuer = self._issuer(token)
        key = await self._key(issuer, str(header["kid"]))
        claims = self._claims(token, key, str(header["alg"]), issuer)
        return _principal(issuer, claims, client_address)

    def _claims(self, token: str, key: Any, alg: str, issuer: ApiIssuer) -> dict[str, Any]:
        audience = issuer.audience or self._default_audience
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=audience,
                issuer=issuer.iss,
                leeway=self._leeway,
                options={"require": ["iss", "aud", "exp", "iat", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenProblemError("expired", "the token has expired") from None
        except jwt.InvalidAudienceError:
            raise TokenProblemError(
                "wrong_audience", f"the token's aud is not {audience}"
            ) from None
        except jwt.ImmatureSignatureError:
            raise TokenProblemError("not_yet_valid", "the token is not valid yet (nbf)") from None
        except jwt.InvalidSignatureError:
            raise TokenProblemError("forged", "the token's signature does not verify") from None
        except jwt.MissingRequiredClaimError as error:
            raise TokenProblemError(
                "malformed", f"the token lacks the {error.claim!r} claim"
            ) from None
        except jwt.InvalidTokenError as error:
            raise TokenProblemError("malformed", f"the token is not valid: {error}") from None
        self._check_times(claims)
        return claims

    def _check_times(self, claims: dict[str, Any]) -> None:
        for name in NUMERIC_DATES:
            value = claims.get(name)
            if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise TokenProblemError("malformed", f"the token's {name} is not a NumericDate")
        now = time.time()
        if claims["iat"] > now + self._leeway:
            raise TokenProblemError("not_yet_valid", "the token's iat is in the future")
        if claims["exp"] - claims["iat"] > self._max_lifetime:
            raise TokenProblemError(
                "over_long_lived",
                f"the token lives longer than {self._max_lifetime} s (exp - iat)",
            )

    def _issuer(self, token: str) -> ApiIssuer:
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            raise TokenProblemError("malformed", "the token's payload cannot be read") from None
        iss = unverified.get("iss")
        issuer = self._issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise TokenProblemError("forged", "the token's issuer is not trusted")
        return issuer

    async def _key(self, issuer: ApiIssuer, kid: str) -> Any:
        for refresh in (False, True):
            key_set = await self._key_set(issuer, refresh)
            for key in key_set.keys:
                if key.key_id == kid:
                    return key
            if issuer.jwks_url is None:
                break
        raise TokenProblemError("forged", "the token names a key its issuer does not publish")

    async def _key_set(self, issuer: ApiIssuer, refresh: bool) -> jwt.PyJWKSet:
        cache_key = issuer.iss
        cached = self._cache.get(cache_key)
        if issuer.jwks_url is None:
            if cached is None:
                cached = (time.monotonic(), _key_set(issuer.jwks or {}))
                self._cache[cache_key] = cached
            return cached[1]
        async with self._lock:
            cached = self._cache.get(cache_key)
            if cached and not refresh and time.monotonic() - cached[0] < JWKS_CACHE_SECONDS:
                return cached[1]
            try:
                key_set = _key_set(await self._load_jwks(str(issuer.jwks_url)))
            except TokenProblemError:
                raise
            except Exception:
                raise TokenProblemError(
                    "forged", "the issuer's key set could not be fetched"
                ) from None
            self._cache[cache_key] = (time.monotonic(), key_set)
            return key_set


def _principal(issuer: ApiIssuer, claims: dict[str, Any], client: str | None) -> Principal:
    scope = claims.get("scope")
    if isinstance(scope, list):  # some servers send `scp` style lists under `scope`
        scope = " ".join(str(s) for s in scope)
    grant = grant_for(scope if isinstance(scope, str) else "")
    patient = claims.get("patient")
    if grant.patient_context and not isinstance(patient, str):
        raise TokenProblemError(
            "wrong_scope", "patient/ scopes need the patient in context (patient claim)", 403
        )
    subject = str(claims["sub"])
    return Principal(
        subject=f"{issuer.iss}#{subject}"[:300],
        display=str(claims.get("client_id") or subject)[:200],
        roles=frozenset({Role.SERVICE}),
        method="bearer",
        client_address=client,
        patient_id=patient if grant.patient_context and isinstance(patient, str) else None,
        granted=grant.permissions,
    )


def cds_client_principal(issuer: str, user_id: str | None, client: str | None) -> Principal:
    """The caller of a CDS service: the EHR whose CDS Hooks JWT was verified
    (cdshooks/auth.py), for the audit. `display` is the user the EHR says is at the chart
    (`context.userId`): the EHR's word, shown as such. No permission comes with it."""
    return Principal(
        subject=f"cds:{issuer}"[:300],
        display=(user_id or "user not named")[:200],
        roles=frozenset({Role.SERVICE}),
        method="cds-hooks",
        client_address=client,
    )


def _bearer(authorization: str) -> str:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenProblemError("malformed", "the Authorization header must be 'Bearer <JWT>'")
    return token.strip()


def _header(token: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise TokenProblemError("malformed", "the token is not a JWT") from None
    if header.get("alg") not in ALLOWED_ALGORITHMS:
        raise TokenProblemError("forged", "the token's algorithm is not accepted (asymmetric only)")
    typ = header.get("typ")
    if typ is not None and str(typ).lower() not in ACCEPTED_TYPES:
        raise TokenProblemError("malformed", "the token header's typ must be JWT or at+jwt")
    if not header.get("kid"):
        raise TokenProblemError("malformed", "the token header must name a key (kid)")
    return header


def _key_set(data: dict[str, Any]) -> jwt.PyJWKSet:
    try:
        return jwt.PyJWKSet.from_dict(data)
    except jwt.PyJWKSetError:
        raise TokenProblemError("forged", "the issuer's key set holds no usable key") from None
