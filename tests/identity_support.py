"""Callers for tests: an OAuth 2 authorization server's keys and bearer tokens, signed-in
browser sessions for local accounts, and settings that trust them."""

from __future__ import annotations

import json
import re
import time
import uuid
from functools import lru_cache
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

API_ISSUER = "https://auth.test"
API_AUDIENCE = "https://venapath.test"
API_KID = "auth-key-1"
ALL_SCOPES = "system/*.cruds"
TEST_HOSTS = ("testserver",)
PASSWORD = "correct horse battery staple"


@lru_cache(maxsize=1)
def api_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@lru_cache(maxsize=1)
def stranger_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def api_jwks() -> dict[str, Any]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(api_key().public_key()))
    public.update({"kid": API_KID, "use": "sig", "alg": "RS256"})
    return {"keys": [public]}


def api_issuers() -> list[dict[str, Any]]:
    return [{"iss": API_ISSUER, "jwks": api_jwks(), "audience": API_AUDIENCE}]


def identity_settings() -> dict[str, Any]:
    """Settings overrides that make the test issuer trusted and the test host served."""
    return {"api_issuers": api_issuers(), "allowed_hosts": list(TEST_HOSTS)}


def api_token(
    scope: str = ALL_SCOPES,
    *,
    lifetime: int = 600,
    issued_ago: int = 0,
    audience: str = API_AUDIENCE,
    issuer: str = API_ISSUER,
    key: Any = None,
    claims: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
    alg: str = "RS256",
) -> str:
    now = int(time.time()) - issued_ago
    body: dict[str, Any] = {
        "iss": issuer,
        "sub": "integration-engine",
        "client_id": "integration-engine",
        "aud": audience,
        "iat": now,
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex,
        "scope": scope,
        **(claims or {}),
    }
    for name in drop:
        body.pop(name, None)
    signing_key = key if key is not None else api_key()
    headers = {"kid": API_KID, "typ": "at+jwt"}
    return jwt.encode(body, signing_key, algorithm=alg, headers=headers)


def bearer(scope: str = ALL_SCOPES, **options: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_token(scope, **options)}"}


_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    """Post the sign-in form as a browser would (login CSRF cookie and field included)."""
    page = client.get("/auth/login")
    found = _CSRF_FIELD.search(page.text)
    assert found, page.text
    return client.post(
        "/auth/login",
        data={"username": username, "password": password, "csrf_token": found[1], "next": "/"},
        follow_redirects=False,
    )


def session_csrf(client: TestClient) -> str:
    response = client.get("/auth/session")
    assert response.status_code == 200, response.text
    token: str = response.json()["csrf_token"]
    return token
