"""Bearer-JWT verification for CDS Hooks calls (CDS Hooks 2.0.1, "Trusting CDS Clients").

Per the specification: the header names `alg`, `kid` and `typ` (JWT); `none` and HMAC
algorithms are refused; the issuer must be allow-listed; a `jku` header must be on that
issuer's allow-list; `aud` is the exact URL that was called; `exp`, `iat` and `jti` are
required; a `jti` seen before (until its expiry) is a replay and is refused.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import jwt

from venapath.errors import UnauthenticatedError
from venapath.settings import Settings, TrustedIssuer

ALLOWED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"}
)
JWKS_CACHE_SECONDS = 300.0


class TokenRejectedError(UnauthenticatedError):
    """The bearer token is missing or not acceptable; the message says why (no secrets)."""


class ReplayStore(Protocol):
    def remember(self, issuer: str, jti: str, expires_at: float) -> bool:
        """Record a token id; False when it was seen before and has not expired.

        Called from a worker thread (it may block on a database), so it must be thread-safe.
        """
        ...


@dataclass
class MemoryReplayStore:
    """Token ids seen by this process. Several workers need the database-backed store."""

    seen: dict[tuple[str, str], float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def remember(self, issuer: str, jti: str, expires_at: float) -> bool:
        now = time.time()
        key = (issuer, jti)
        with self._lock:  # called from worker threads: check and record as one step
            if len(self.seen) > 10_000:
                self.seen = {k: v for k, v in self.seen.items() if v > now}
            if key in self.seen and self.seen[key] > now:
                return False
            self.seen[key] = expires_at
            return True


JwksLoader = Callable[[str], Awaitable[dict[str, Any]]]


class TokenVerifier:
    def __init__(self, settings: Settings, load_jwks: JwksLoader, replay: ReplayStore) -> None:
        self._issuers = {issuer.iss: issuer for issuer in settings.trusted_issuers}
        self._leeway = settings.jwt_leeway_seconds
        self._load_jwks = load_jwks
        self._replay = replay
        self._cache: dict[str, tuple[float, jwt.PyJWKSet]] = {}
        self._inline: dict[str, jwt.PyJWKSet] = {}
        self._lock = asyncio.Lock()

    async def verify(self, authorization: str | None, audience: str) -> dict[str, Any]:
        """The verified claims, or TokenRejectedError saying what is wrong."""
        token = _bearer(authorization)
        header = _header(token)
        issuer = self._issuer(token)
        keys_url = _keys_url(header, issuer)
        key = await self._key(issuer, keys_url, str(header["kid"]))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[str(header["alg"])],
                audience=audience,
                issuer=issuer.iss,
                leeway=self._leeway,
                options={"require": ["iss", "aud", "exp", "iat", "jti"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejectedError("the token has expired") from None
        except jwt.InvalidAudienceError:
            raise TokenRejectedError(f"the token's aud is not {audience}") from None
        except jwt.MissingRequiredClaimError as error:
            raise TokenRejectedError(f"the token lacks the {error.claim!r} claim") from None
        except jwt.InvalidTokenError as error:
            raise TokenRejectedError(f"the token is not valid: {error}") from None
        # A database write (and its fsync): run it off the event loop, which meanwhile
        # serves other requests.
        fresh = await asyncio.to_thread(
            self._replay.remember, issuer.iss, str(claims["jti"]), float(claims["exp"])
        )
        if not fresh:
            raise TokenRejectedError("the token was already used (jti replay)")
        return claims

    def _issuer(self, token: str) -> TrustedIssuer:
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            raise TokenRejectedError("the token's payload cannot be read") from None
        iss = unverified.get("iss")
        issuer = self._issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise TokenRejectedError("the token's issuer is not trusted")
        return issuer

    async def _key(self, issuer: TrustedIssuer, keys_url: str | None, kid: str) -> Any:
        for refresh in (False, True):
            key_set = await self._key_set(issuer, keys_url, refresh)
            for key in key_set.keys:
                if key.key_id == kid:
                    return key
            if keys_url is None:
                break
        raise TokenRejectedError(f"no key {kid!r} in the issuer's key set")

    async def _key_set(
        self, issuer: TrustedIssuer, keys_url: str | None, refresh: bool
    ) -> jwt.PyJWKSet:
        if keys_url is None:
            inline = self._inline.get(issuer.iss)
            if inline is None:
                inline = self._inline[issuer.iss] = _key_set(issuer.jwks or {})
            return inline
        async with self._lock:
            cached = self._cache.get(keys_url)
            if cached and not refresh and time.monotonic() - cached[0] < JWKS_CACHE_SECONDS:
                return cached[1]
            try:
                key_set = _key_set(await self._load_jwks(keys_url))
            except TokenRejectedError:
                raise
            except Exception:
                raise TokenRejectedError("the issuer's key set could not be fetched") from None
            self._cache[keys_url] = (time.monotonic(), key_set)
            return key_set


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise TokenRejectedError("an Authorization: Bearer token is required")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenRejectedError("the Authorization header must be 'Bearer <JWT>'")
    return token.strip()


def _header(token: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise TokenRejectedError("the token is not a JWT") from None
    alg = header.get("alg")
    if alg not in ALLOWED_ALGORITHMS:
        raise TokenRejectedError(f"algorithm {alg!r} is not accepted (asymmetric only)")
    if header.get("typ") != "JWT":
        raise TokenRejectedError("the token header must say typ 'JWT'")
    if not header.get("kid"):
        raise TokenRejectedError("the token header must name a key (kid)")
    return header


def _keys_url(header: dict[str, Any], issuer: TrustedIssuer) -> str | None:
    jku = header.get("jku")
    if jku is None:
        return str(issuer.jwks_url) if issuer.jwks_url is not None else None
    if not isinstance(jku, str) or jku not in {str(url) for url in issuer.allowed_jku}:
        raise TokenRejectedError("the token's jku is not on the issuer's allow-list")
    return jku


def _key_set(data: dict[str, Any]) -> jwt.PyJWKSet:
    try:
        return jwt.PyJWKSet.from_dict(data)
    except jwt.PyJWKSetError:
        raise TokenRejectedError("the issuer's key set holds no usable key") from None
