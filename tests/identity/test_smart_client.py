"""The SMART client's pure parts: issuer and endpoint checks, the authorization URL, the user."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest

from venapath.domain.access import Role
from venapath.errors import InputError
from venapath.identity.smart import (
    Pkce,
    SmartConfiguration,
    SmartLaunchRefusedError,
    TokenResponse,
    authorization_url,
    check_endpoint,
    check_issuer,
    launch_principal,
)

EHR = "https://ehr.example.org/fhir/r4"


def test_a_registered_issuer_is_accepted_without_its_trailing_slash() -> None:
    assert check_issuer(EHR + "/", [EHR], require_https=True) == EHR


@pytest.mark.parametrize(
    ("iss", "error", "words"),
    [
        ("https://evil.example.org/fhir/r4", SmartLaunchRefusedError, "not registered"),
        ("http://ehr.example.org/fhir/r4", SmartLaunchRefusedError, "must be https"),
        ("ftp://ehr.example.org/fhir", InputError, "absolute http(s) URL"),
        (EHR + "?x=1", InputError, "absolute http(s) URL"),
    ],
)
def test_other_issuers_are_refused(iss: str, error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        check_issuer(iss, [EHR, "http://ehr.example.org/fhir/r4"], require_https=True)


def test_http_endpoints_are_refused_outside_development() -> None:
    with pytest.raises(SmartLaunchRefusedError, match="token endpoint must be https"):
        check_endpoint("http://ehr.example.org/token", "token endpoint", require_https=True)
    check_endpoint("http://127.0.0.1:8080/token", "token endpoint", require_https=False)


def test_the_authorization_url_carries_pkce_state_and_audience() -> None:
    pkce = Pkce.new()
    url = authorization_url(
        SmartConfiguration(
            authorization_endpoint="https://ehr.example.org/authorize?tenant=a",
            token_endpoint="https://ehr.example.org/token",
        ),
        client_id="vp",
        redirect_uri="https://vp.example.org/smart/callback",
        scope="launch openid fhirUser",
        state="s",
        audience=EHR,
        pkce=pkce,
        launch="L1",
    )
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["tenant"] == "a"  # the endpoint's own parameters are kept
    assert query["aud"] == EHR
    assert query["launch"] == "L1"
    assert query["code_challenge_method"] == "S256"
    expected = base64.urlsafe_b64encode(hashlib.sha256(pkce.verifier.encode()).digest())
    assert query["code_challenge"] == expected.rstrip(b"=").decode()
    assert pkce.verifier not in url
    assert 43 <= len(pkce.verifier) <= 128


def claims(fhir_user: str) -> dict[str, object]:
    return {"iss": "https://ehr.example.org", "sub": "u1", "fhirUser": fhir_user}


def test_a_practitioner_launch_is_a_clinician_confined_to_the_patient() -> None:
    token = TokenResponse(access_token="t", token_type="Bearer", patient="p1")
    principal = launch_principal(claims(f"{EHR}/Practitioner/u1"), token, session_id="s")
    assert principal.roles == frozenset({Role.CLINICIAN})
    assert principal.method == "smart"
    assert principal.patient_id == "p1"
    assert principal.subject == "https://ehr.example.org#u1"


@pytest.mark.parametrize("fhir_user", ["Patient/p1", "RelatedPerson/r1", "u1"])
def test_other_users_are_refused(fhir_user: str) -> None:
    token = TokenResponse(access_token="t", token_type="Bearer", patient="p1")
    with pytest.raises(SmartLaunchRefusedError, match="practitioners only"):
        launch_principal(claims(fhir_user), token, session_id="s")


def test_a_launch_without_a_patient_is_refused() -> None:
    token = TokenResponse(access_token="t", token_type="Bearer")
    with pytest.raises(SmartLaunchRefusedError, match="no patient"):
        launch_principal(claims("Practitioner/u1"), token, session_id="s")


def test_a_patient_id_that_is_not_a_fhir_id_is_not_accepted() -> None:
    with pytest.raises(ValueError, match="patient"):
        TokenResponse(access_token="t", token_type="Bearer", patient="p1&_include=*")
