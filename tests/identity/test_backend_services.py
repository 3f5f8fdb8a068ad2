"""SMART Backend Services: VenaPath's signed client assertion against the test EHR's token endpoint."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)

from smart_ehr import BACKEND_CLIENT_ID, LoopbackEhr, running_ehr
from venapath.errors import InputError, UnauthenticatedError, UnavailableError
from venapath.identity.backend_services import (
    AsyncBackendServicesSession,
    BackendClient,
    BackendServicesSession,
)
from venapath.settings import BackendServicesSettings

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP384R1())


def public_jwk(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, kid: str) -> dict[str, object]:
    algorithm = (
        jwt.algorithms.RSAAlgorithm
        if isinstance(key, rsa.RSAPrivateKey)
        else jwt.algorithms.ECAlgorithm
    )
    jwk = json.loads(algorithm.to_jwk(key.public_key()))
    jwk["kid"] = kid
    return dict(jwk)


@pytest.fixture(scope="module")
def ehr() -> Iterator[LoopbackEhr]:
    with running_ehr() as test_ehr:
        test_ehr.backend_jwks = {
            "keys": [public_jwk(RSA_KEY, "vp-rsa-1"), public_jwk(EC_KEY, "vp-ec-1")]
        }
        yield test_ehr


def client_for(ehr: LoopbackEhr, algorithm: str = "RS384") -> BackendClient:
    if algorithm == "ES384":
        return BackendClient(BACKEND_CLIENT_ID, ehr.token_url, EC_KEY, "vp-ec-1", "ES384")
    return BackendClient(BACKEND_CLIENT_ID, ehr.token_url, RSA_KEY, "vp-rsa-1", "RS384")


@pytest.mark.parametrize("algorithm", ["RS384", "ES384"])
def test_a_job_gets_a_token_with_a_signed_assertion(ehr: LoopbackEhr, algorithm: str) -> None:
    with httpx.Client() as http:
        token = BackendServicesSession(client_for(ehr, algorithm), http).access_token()
    assert token.value in ehr.issued_tokens()
    assert token.scope == "system/*.rs"
    assert token.authorization == f"Bearer {token.value}"
    sent = ehr.token_requests[-1]
    assert sent["grant_type"] == "client_credentials"
    assert "client_secret" not in sent


def test_the_assertion_follows_smart_asymmetric_client_authentication(ehr: LoopbackEhr) -> None:
    now = time.time()
    assertion = client_for(ehr).assertion(now=now, lifetime=3600)
    header = jwt.get_unverified_header(assertion)
    assert header == {"alg": "RS384", "kid": "vp-rsa-1", "typ": "JWT"}
    claims = jwt.decode(
        assertion, RSA_KEY.public_key(), algorithms=["RS384"], audience=ehr.token_url
    )
    assert claims["iss"] == claims["sub"] == BACKEND_CLIENT_ID
    assert claims["exp"] - claims["iat"] == 300  # never more than five minutes, whatever asked
    assert (
        claims["jti"]
        != jwt.decode(
            client_for(ehr).assertion(now=now),
            RSA_KEY.public_key(),
            algorithms=["RS384"],
            audience=ehr.token_url,
        )["jti"]
    )


def test_a_token_is_reused_until_it_is_nearly_due(ehr: LoopbackEhr) -> None:
    with httpx.Client() as http:
        session = BackendServicesSession(client_for(ehr), http)
        before = len(ehr.token_requests)
        first = session.access_token()
        assert session.access_token() is first
    assert len(ehr.token_requests) == before + 1


def test_the_async_session_gets_a_token(ehr: LoopbackEhr) -> None:
    async def fetch() -> str:
        async with httpx.AsyncClient() as http:
            return (await AsyncBackendServicesSession(client_for(ehr), http).access_token()).value

    assert asyncio.run(fetch()) in ehr.issued_tokens()


def test_an_unregistered_key_is_refused(ehr: LoopbackEhr) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    client = BackendClient(BACKEND_CLIENT_ID, ehr.token_url, stranger, "vp-rsa-1")
    with httpx.Client() as http, pytest.raises(UnauthenticatedError, match="invalid_client"):
        BackendServicesSession(client, http).access_token()


def test_an_unreachable_token_endpoint_is_unavailable() -> None:
    client = BackendClient(BACKEND_CLIENT_ID, "http://127.0.0.1:9/token", RSA_KEY, "vp-rsa-1")
    with httpx.Client() as http, pytest.raises(UnavailableError, match="could not be reached"):
        BackendServicesSession(client, http, timeout_seconds=1).access_token()


def test_a_key_that_does_not_fit_the_algorithm_is_refused() -> None:
    with pytest.raises(InputError, match="P-384"):
        BackendClient(BACKEND_CLIENT_ID, "https://ehr.test/token", RSA_KEY, "k", "ES384")
    with pytest.raises(InputError, match="RSA"):
        BackendClient(BACKEND_CLIENT_ID, "https://ehr.test/token", EC_KEY, "k", "RS384")


def test_settings_load_a_pem_key(tmp_path: Path, ehr: LoopbackEhr) -> None:
    pem = tmp_path / "venapath-backend.pem"
    pem.write_bytes(EC_KEY.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    settings = BackendServicesSettings(
        client_id=BACKEND_CLIENT_ID,
        token_url=ehr.token_url,
        private_key_file=pem,
        key_id="vp-ec-1",
        algorithm="ES384",
    )
    with httpx.Client() as http:
        token = BackendServicesSession(BackendClient.from_settings(settings), http).access_token()
    assert token.value in ehr.issued_tokens()
    missing = settings.model_copy(update={"private_key_file": tmp_path / "absent.pem"})
    with pytest.raises(InputError, match="PEM"):
        BackendClient.from_settings(missing)
