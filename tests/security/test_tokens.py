"""Bearer JWTs of machine clients: each bad token refused with a problem that says which."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from identity_support import API_ISSUER, api_token, bearer, stranger_key

READ = "/api/v1/patients"


def _call(client: TestClient, token: str | None, path: str = READ) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.get(path, headers=headers)


def test_a_valid_token_with_the_scope_is_accepted(anonymous: TestClient) -> None:
    assert _call(anonymous, api_token("system/Patient.rs")).status_code == 200


def _forged_alg_none() -> str:
    now = int(time.time())
    claims = {"iss": API_ISSUER, "sub": "x", "aud": "https://venapath.test", "iat": now}
    claims["exp"] = now + 60
    return jwt.encode(claims, key=None, algorithm="none", headers={"kid": "auth-key-1"})


BAD_TOKENS = {
    "expired": (lambda: api_token(issued_ago=900, lifetime=600), 401, "expired"),
    "forged signature": (lambda: api_token(key=stranger_key()), 401, "forged"),
    "alg none": (_forged_alg_none, 401, "forged"),
    "untrusted issuer": (lambda: api_token(issuer="https://evil.example"), 401, "forged"),
    "wrong audience": (lambda: api_token(audience="https://other.example"), 401, "wrong_audience"),
    "over-long-lived": (lambda: api_token(lifetime=10 * 365 * 86400), 401, "over_long_lived"),
    "exp as a string": (
        lambda: api_token(claims={"exp": str(int(time.time()) + 60)}),
        401,
        "malformed",
    ),
    "not yet valid": (
        lambda: api_token(claims={"nbf": int(time.time()) + 600}),
        401,
        "not_yet_valid",
    ),
    "iat in the future": (lambda: api_token(issued_ago=-600), 401, "not_yet_valid"),
    "no sub": (lambda: api_token(drop=("sub",)), 401, "malformed"),
    "not a JWT": (lambda: "not-a-jwt", 401, "malformed"),
    "wrong scope": (lambda: api_token("system/Task.rs"), 403, "wrong_scope"),
    "granular scope": (lambda: api_token("system/Patient.rs?category=x"), 403, "wrong_scope"),
    "patient scope without a patient": (
        lambda: api_token("patient/Patient.rs"),
        403,
        "wrong_scope",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_bad_tokens_are_refused_saying_which(anonymous: TestClient, case: str) -> None:
    make, status, code = BAD_TOKENS[case]
    response = _call(anonymous, make())
    assert response.status_code == status, response.text
    body = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert body["code"] == code
    assert "www-authenticate" in response.headers


def test_a_missing_token_is_401_missing(anonymous: TestClient) -> None:
    response = _call(anonymous, None)
    assert response.status_code == 401
    assert response.json()["code"] == "missing"


def test_fhir_paths_answer_an_operation_outcome(anonymous: TestClient) -> None:
    response = _call(anonymous, None, "/api/v1/fhir/Patient/x/$export-record")
    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"


def test_a_patient_scope_confines_the_caller_to_that_patient(anonymous: TestClient) -> None:
    token = api_token("patient/Patient.rs", claims={"patient": "p-1"})
    response = anonymous.get("/auth/session", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert "patient.read" in response.json()["permissions"]


IMPERSONATION_HEADERS = [
    "X-VenaPath-User",
    "X-Forwarded-User",
    "X-Remote-User",
    "Remote-User",
    "X-User",
    "X-Auth-Request-User",
    "X-Forwarded-Email",
]


@pytest.mark.parametrize("header", IMPERSONATION_HEADERS)
def test_impersonation_headers_are_never_honoured(anonymous: TestClient, header: str) -> None:
    anonymous_read = anonymous.get(READ, headers={header: "dr.alice.chief-of-surgery"})
    assert anonymous_read.status_code == 401
    made = anonymous.post(
        READ, json={"sex": "male"}, headers={**bearer(), header: "dr.alice.chief-of-surgery"}
    )
    assert made.status_code == 201
    audit = anonymous.get(f"/api/v1/audit/patient/{made.json()['id']}", headers=bearer()).json()
    actors = {entry["agent"][0]["who"]["identifier"]["value"] for entry in audit}
    assert actors == {f"{API_ISSUER}#integration-engine"}
