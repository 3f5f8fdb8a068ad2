"""A test EHR's signing keys and tokens, made the way CDS Hooks 2.0.1 describes."""

from __future__ import annotations

import json
import time
import uuid
from functools import lru_cache
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "https://ehr.test"
BASE = "https://cds.test"
KID = "ehr-key-1"


@lru_cache(maxsize=1)
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@lru_cache(maxsize=1)
def other_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


def jwks() -> dict[str, Any]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key().public_key()))
    public.update({"kid": KID, "use": "sig", "alg": "RS384"})
    return {"keys": [public]}


def issuer_settings() -> list[dict[str, Any]]:
    return [{"iss": ISSUER, "jwks": jwks()}]


def token(
    audience: str,
    *,
    issuer: str = ISSUER,
    expires_in: int = 300,
    jti: str | None = None,
    alg: str = "RS384",
    key: Any = None,
    kid: str = KID,
    headers: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
) -> str:
    now = int(time.time())
    claims = {
        "iss": issuer,
        "sub": "client-1",
        "aud": audience,
        "exp": now + expires_in,
        "iat": now,
        "jti": jti or uuid.uuid4().hex,
    }
    for name in drop:
        claims.pop(name)
    header = {"kid": kid, "typ": "JWT", **(headers or {})}
    return jwt.encode(claims, key if key is not None else rsa_key(), algorithm=alg, headers=header)
