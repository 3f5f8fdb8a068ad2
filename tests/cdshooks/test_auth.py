"""JWT verification per CDS Hooks 2.0.1: what is accepted and every way a token is refused."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from jwt_support import BASE, ISSUER, issuer_settings, jwks, other_key, token
from venapath.cdshooks.auth import MemoryReplayStore, TokenRejectedError, TokenVerifier
from venapath.settings import load_settings

AUDIENCE = f"{BASE}/cds-services/venapath-patient-view"


def _verifier(issuers: list[dict[str, Any]] | None = None) -> TokenVerifier:
    settings = load_settings(trusted_issuers=issuers or issuer_settings(), public_base_url=BASE)
    fetched: list[str] = []

    async def load(url: str) -> dict[str, Any]:
        fetched.append(url)
        return jwks()

    return TokenVerifier(settings, load, MemoryReplayStore())


def _verify(verifier: TokenVerifier, header: str | None, audience: str = AUDIENCE) -> Any:
    return asyncio.run(verifier.verify(header, audience))


def test_a_valid_token_is_accepted() -> None:
    claims = _verify(_verifier(), f"Bearer {token(AUDIENCE)}")
    assert claims["iss"] == ISSUER


def test_a_replayed_token_is_refused() -> None:
    verifier = _verifier()
    header = f"Bearer {token(AUDIENCE)}"
    _verify(verifier, header)
    with pytest.raises(TokenRejectedError, match="replay"):
        _verify(verifier, header)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "Bearer token is required"),
        ("Basic abc", "must be 'Bearer"),
        ("Bearer not-a-jwt", "not a JWT"),
    ],
)
def test_missing_or_malformed_headers(header: str | None, message: str) -> None:
    with pytest.raises(TokenRejectedError, match=message):
        _verify(_verifier(), header)


def test_expired_token() -> None:
    with pytest.raises(TokenRejectedError, match="expired"):
        _verify(_verifier(), f"Bearer {token(AUDIENCE, expires_in=-600)}")


def test_wrong_audience() -> None:
    other = f"{BASE}/cds-services/venapath-order-sign"
    with pytest.raises(TokenRejectedError, match="aud"):
        _verify(_verifier(), f"Bearer {token(other)}")


def test_untrusted_issuer() -> None:
    with pytest.raises(TokenRejectedError, match="issuer is not trusted"):
        _verify(_verifier(), f"Bearer {token(AUDIENCE, issuer='https://evil.test')}")


def test_forged_signature() -> None:
    forged = token(AUDIENCE, alg="ES384", key=other_key())
    with pytest.raises(TokenRejectedError, match="not valid"):
        _verify(_verifier(), f"Bearer {forged}")


def _part(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_hmac_is_refused_even_with_the_public_key_as_secret() -> None:
    secret = json.dumps(jwks()).encode()
    signing_input = (
        f"{_part({'alg': 'HS256', 'typ': 'JWT', 'kid': 'ehr-key-1'})}.{_part({'iss': ISSUER})}"
    )
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{base64.urlsafe_b64encode(signature).decode().rstrip('=')}"
    with pytest.raises(TokenRejectedError, match="asymmetric only"):
        _verify(_verifier(), f"Bearer {forged}")


def test_alg_none_is_refused() -> None:
    unsigned = f"{_part({'alg': 'none', 'typ': 'JWT', 'kid': 'x'})}.{_part({'iss': ISSUER})}."
    with pytest.raises(TokenRejectedError, match="asymmetric only"):
        _verify(_verifier(), f"Bearer {unsigned}")


@pytest.mark.parametrize("claim", ["jti", "iat", "exp"])
def test_required_claims(claim: str) -> None:
    with pytest.raises(TokenRejectedError, match=claim):
        _verify(_verifier(), f"Bearer {token(AUDIENCE, drop=(claim,))}")


def test_jku_must_be_on_the_issuers_allow_list() -> None:
    forged = token(AUDIENCE, headers={"jku": "https://evil.test/jwks"})
    with pytest.raises(TokenRejectedError, match="jku"):
        _verify(_verifier(), f"Bearer {forged}")


def test_an_allowed_jku_is_fetched_and_used() -> None:
    jku = "https://ehr.test/.well-known/jwks.json"
    verifier = _verifier([{"iss": ISSUER, "allowed_jku": [jku]}])
    assert _verify(verifier, f"Bearer {token(AUDIENCE, headers={'jku': jku})}")["iss"] == ISSUER


def test_unknown_key_id() -> None:
    with pytest.raises(TokenRejectedError, match="no key"):
        _verify(_verifier(), f"Bearer {token(AUDIENCE, kid='rotated-away')}")


def test_typ_must_be_jwt() -> None:
    with pytest.raises(TokenRejectedError, match="typ"):
        _verify(_verifier(), f"Bearer {token(AUDIENCE, headers={'typ': 'at+jwt'})}")


def test_the_memory_replay_store_accepts_an_id_once_across_threads() -> None:
    store = MemoryReplayStore()
    expires = time.time() + 60
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: store.remember("iss", "jti", expires), range(64)))
    assert results.count(True) == 1
