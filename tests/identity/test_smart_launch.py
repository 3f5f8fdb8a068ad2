"""SMART App Launch end to end against the loopback test EHR (tests/smart_ehr.py).

The browser is played by hand: VenaPath's TestClient keeps VenaPath's cookies, and a plain
httpx call visits the EHR's authorization endpoint, exactly where a browser would go.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from fastapi.testclient import TestClient
from pydantic import SecretStr

from jwt_support import BASE, issuer_settings
from smart_ehr import CLIENT_ID, PATIENT_ID, LoopbackEhr, running_ehr
from venapath.api.app import create_app
from venapath.cdshooks.feedback import MemoryFeedbackStore
from venapath.cdshooks.prefetch import TYPE_BY_KEY, prefetch_templates
from venapath.fhir.requirements import feed_for_rules
from venapath.identity.smart import read_scopes
from venapath.kb.model import KnowledgeBase
from venapath.services.registry import Registry
from venapath.settings import SmartSettings, load_settings

CALLBACK = "http://testserver/smart/callback"
TOKEN_KEY = SecretStr(base64.urlsafe_b64encode(bytes(range(32))).decode())
"""A production token key for the tests (32 bytes, base64url)."""


@pytest.fixture(scope="module")
def ehr() -> Iterator[LoopbackEhr]:
    with running_ehr() as test_ehr:
        test_ehr.redirect_uris.add(CALLBACK)
        yield test_ehr


@pytest.fixture(autouse=True)
def _ehr_behaves(ehr: LoopbackEhr) -> Iterator[None]:
    yield
    ehr.deny_consent = False
    ehr.refuse_code = False
    ehr.fhir_user = "Practitioner/dr-okafor"
    ehr.forge_id_token = False
    ehr.pkce_methods = ("S256",)


def smart_settings(ehr: LoopbackEhr) -> SmartSettings:
    return SmartSettings(
        client_id=CLIENT_ID,
        issuers=(ehr.fhir_base,),
        standalone_iss=ehr.fhir_base,
        launch_url="https://venapath.test/smart/launch",
    )


@pytest.fixture(scope="module")
def app_client(
    kb: KnowledgeBase, module_registry: Registry, ehr: LoopbackEhr
) -> Iterator[TestClient]:
    settings = load_settings(env="development", allowed_hosts=["testserver"])
    app = create_app(
        settings,
        kb=kb,
        feedback=MemoryFeedbackStore(),
        registry=module_registry,
        smart=smart_settings(ehr),
    )
    with TestClient(app) as client:
        yield client


@pytest.fixture
def browser(app_client: TestClient) -> TestClient:
    """A fresh browser each test: no cookies from the one before."""
    app_client.cookies.clear()
    return app_client


def to_ehr_and_back(browser: TestClient, launch_params: dict[str, str]) -> httpx.Response:
    """/smart/launch -> the EHR's authorize endpoint -> /smart/callback; the callback answer."""
    started = browser.get("/smart/launch", params=launch_params, follow_redirects=False)
    assert started.status_code == 302, started.text
    at_ehr = httpx.get(started.headers["location"], follow_redirects=False)
    assert at_ehr.status_code == 302, at_ehr.text
    return browser.get(at_ehr.headers["location"], follow_redirects=False)


def assert_evaluated_patient(browser: TestClient, kb: KnowledgeBase) -> None:
    page = browser.get("/smart/app")
    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "no-store"
    assert f"Patient <strong>{PATIENT_ID}</strong>" in page.text
    assert kb.version in page.text
    assert "<script" not in page.text
    body = browser.get("/smart/app/assessment").json()
    assessment = body["assessment"]
    assert body["patient"] == PATIENT_ID
    assert assessment["knowledge_version"] == kb.version
    assert any(p["id"] == "cvt_acute" and p["status"] == "applies" for p in assessment["pathways"])
    assert assessment["recommendations"], "the CVT patient gets recommendations"
    for rec in assessment["recommendations"]:
        assert rec["rule_id"] in page.text
        assert rec["citations"]
        assert all(c["evidence"] for c in rec["citations"])
    assert body["mapping"]["resources_read"]["Condition"] == 1


def test_ehr_launch_ends_in_the_evaluated_patient(
    browser: TestClient, ehr: LoopbackEhr, kb: KnowledgeBase
) -> None:
    launch = ehr.new_launch()
    done = to_ehr_and_back(browser, {"iss": ehr.fhir_base, "launch": launch})
    assert done.status_code == 302, done.text
    assert done.headers["location"].endswith("/smart/app")
    cookie = done.headers["set-cookie"]
    assert "venapath_smart_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/smart" in cookie

    asked = ehr.authorize_requests[-1]
    assert asked["launch"] == launch
    assert asked["aud"] == ehr.fhir_base
    assert asked["code_challenge_method"] == "S256"
    assert asked["scope"].split()[:3] == ["launch", "openid", "fhirUser"]
    assert_evaluated_patient(browser, kb)
    # the EHR's FHIR server was read with the access token, for the launch patient only
    assert any(f"patient={PATIENT_ID}" in url for url in ehr.fhir_requests)


def test_the_access_token_never_reaches_the_browser(browser: TestClient, ehr: LoopbackEhr) -> None:
    done = to_ehr_and_back(browser, {"iss": ehr.fhir_base, "launch": ehr.new_launch()})
    page = browser.get("/smart/app")
    data = browser.get("/smart/app/assessment")
    seen_by_browser = [done.text, str(done.headers), page.text, data.text, str(browser.cookies)]
    for token in ehr.issued_tokens():
        assert not any(token in text for text in seen_by_browser)


def test_standalone_launch_asks_the_ehr_for_a_patient(
    browser: TestClient, ehr: LoopbackEhr, kb: KnowledgeBase
) -> None:
    done = to_ehr_and_back(browser, {})
    assert done.status_code == 302, done.text
    asked = ehr.authorize_requests[-1]
    assert "launch" not in asked
    assert asked["scope"].split()[:3] == ["launch/patient", "openid", "fhirUser"]
    assert_evaluated_patient(browser, kb)


def test_read_scopes_come_from_the_rules_like_the_prefetch(
    browser: TestClient, ehr: LoopbackEhr, kb: KnowledgeBase
) -> None:
    to_ehr_and_back(browser, {"iss": ehr.fhir_base, "launch": ehr.new_launch()})
    requested = {s for s in ehr.authorize_requests[-1]["scope"].split() if "/" in s}
    prefetched = {TYPE_BY_KEY[key] for key in prefetch_templates(kb)}
    assert requested == {f"patient/{t}.rs" for t in prefetched}
    assert sorted(requested) == read_scopes(feed_for_rules(kb).resource_types)


# ------------------------------------------------------------------------- refusals


def refused(response: httpx.Response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert words in response.json()["detail"]


def test_a_wrong_iss_is_refused(browser: TestClient) -> None:
    answer = browser.get(
        "/smart/launch", params={"iss": "https://attacker.example/fhir", "launch": "x"}
    )
    refused(answer, 403, "not registered")


def test_a_malformed_iss_names_the_field(browser: TestClient) -> None:
    answer = browser.get("/smart/launch", params={"iss": "javascript:alert(1)", "launch": "x"})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["pointer"] == "/iss"


def test_a_forged_state_is_refused(browser: TestClient, ehr: LoopbackEhr) -> None:
    browser.get(
        "/smart/launch",
        params={"iss": ehr.fhir_base, "launch": ehr.new_launch()},
        follow_redirects=False,
    )
    refused(browser.get("/smart/callback", params={"state": "forged", "code": "c"}), 403, "state")


def test_a_state_from_another_browser_is_refused(browser: TestClient, ehr: LoopbackEhr) -> None:
    started = browser.get(
        "/smart/launch",
        params={"iss": ehr.fhir_base, "launch": ehr.new_launch()},
        follow_redirects=False,
    )
    back = httpx.get(started.headers["location"], follow_redirects=False).headers["location"]
    browser.cookies.clear()  # the redirect arrives in a browser that did not start the launch
    refused(browser.get(back), 403, "another browser")


def test_a_state_is_used_once(browser: TestClient, ehr: LoopbackEhr) -> None:
    started = browser.get(
        "/smart/launch",
        params={"iss": ehr.fhir_base, "launch": ehr.new_launch()},
        follow_redirects=False,
    )
    back = httpx.get(started.headers["location"], follow_redirects=False).headers["location"]
    assert browser.get(back, follow_redirects=False).status_code == 302
    refused(browser.get(back), 403, "used")


def test_denied_consent_is_refused_clearly(browser: TestClient, ehr: LoopbackEhr) -> None:
    ehr.deny_consent = True
    refused(
        to_ehr_and_back(browser, {"iss": ehr.fhir_base, "launch": ehr.new_launch()}),
        403,
        "access_denied",
    )


def test_a_token_error_is_refused_clearly(browser: TestClient, ehr: LoopbackEhr) -> None:
    ehr.refuse_code = True
    answer = to_ehr_and_back(browser, {"iss": ehr.fhir_base, "launch": ehr.new_launch()})
    refused(answer, 403, "invalid_grant")
    refused(browser.get("/smart/app"), 403, "no SMART launch")


def test_a_forged_id_token_is_refused(browser: TestClient, ehr: LoopbackEhr) -> None:
    ehr.forge_id_token = True
    answer = to_ehr_and_back(browser, {"iss": ehr.fhir_base, "launch": ehr.new_launch()})
    refused(answer, 401, "id_token was refused")


def test_an_ehr_without_pkce_s256_is_refused(browser: TestClient, ehr: LoopbackEhr) -> None:
    ehr.pkce_methods = ("plain",)
    answer = browser.get("/smart/launch", params={"iss": ehr.fhir_base, "launch": "x"})
    refused(answer, 403, "PKCE")


def test_a_patient_user_cannot_open_the_clinician_view(
    browser: TestClient, ehr: LoopbackEhr
) -> None:
    ehr.fhir_user = "Patient/p1"
    answer = to_ehr_and_back(browser, {"iss": ehr.fhir_base, "launch": ehr.new_launch()})
    refused(answer, 403, "practitioners only")


def test_a_card_for_another_patient_is_refused(browser: TestClient, ehr: LoopbackEhr) -> None:
    launch = ehr.new_launch(app_context=json.dumps({"patient": "someone-else"}))
    refused(
        to_ehr_and_back(browser, {"iss": ehr.fhir_base, "launch": launch}), 403, "another patient"
    )


def test_a_callback_without_a_code_names_the_field(browser: TestClient, ehr: LoopbackEhr) -> None:
    started = browser.get(
        "/smart/launch",
        params={"iss": ehr.fhir_base, "launch": ehr.new_launch()},
        follow_redirects=False,
    )
    state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
    answer = browser.get("/smart/callback", params={"state": state})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["pointer"] == "/code"


def test_no_launch_no_patient(browser: TestClient) -> None:
    refused(browser.get("/smart/app"), 403, "no SMART launch")
    browser.cookies.set("venapath_smart_session", "guessed", path="/smart")
    refused(browser.get("/smart/app/assessment"), 403, "unknown SMART session")


def test_an_http_fhir_base_is_refused_in_production(
    kb: KnowledgeBase, module_registry: Registry, ehr: LoopbackEhr
) -> None:
    settings = load_settings(
        trusted_issuers=issuer_settings(), public_base_url=BASE, allowed_hosts=["testserver"]
    )
    app = create_app(
        settings,
        kb=kb,
        feedback=MemoryFeedbackStore(),
        registry=module_registry,
        smart=smart_settings(ehr).model_copy(update={"token_key": TOKEN_KEY}),
    )
    with TestClient(app) as production:
        answer = production.get("/smart/launch", params={"iss": ehr.fhir_base, "launch": "x"})
    refused(answer, 403, "FHIR base must be https")


def test_an_unreachable_ehr_answers_503_in_production(
    kb: KnowledgeBase, module_registry: Registry
) -> None:
    unreachable = "https://127.0.0.1:9/fhir"
    settings = load_settings(
        trusted_issuers=issuer_settings(), public_base_url=BASE, allowed_hosts=["testserver"]
    )
    app = create_app(
        settings,
        kb=kb,
        feedback=MemoryFeedbackStore(),
        registry=module_registry,
        smart=SmartSettings(client_id=CLIENT_ID, issuers=(unreachable,), token_key=TOKEN_KEY),
    )
    with TestClient(app) as production:
        answer = production.get("/smart/launch", params={"iss": unreachable, "launch": "x"})
    refused(answer, 503, "could not be read")
    assert answer.headers["retry-after"]


def test_smart_launch_off_without_a_client_id(kb: KnowledgeBase, module_registry: Registry) -> None:
    app = create_app(
        load_settings(env="development", allowed_hosts=["testserver"]),
        kb=kb,
        feedback=MemoryFeedbackStore(),
        registry=module_registry,
        smart=SmartSettings(),
    )
    with TestClient(app) as client:
        answer = client.get("/smart/launch", params={"iss": "https://ehr.test/fhir"})
    refused(answer, 404, "not set up")


# ------------------------------------------------- confidential asymmetric client


def test_a_confidential_client_signs_its_code_exchange(
    kb: KnowledgeBase, module_registry: Registry, ehr: LoopbackEhr, tmp_path: Path
) -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    pem = tmp_path / "venapath-app.pem"
    pem.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    stranger = json.loads(
        jwt.algorithms.ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP384R1()).public_key())
    )
    smart = smart_settings(ehr).model_copy(
        update={"private_key_file": pem, "key_id": "vp-app-1", "algorithm": "ES384"}
    )
    app = create_app(
        load_settings(env="development", allowed_hosts=["testserver"]),
        kb=kb,
        feedback=MemoryFeedbackStore(),
        registry=module_registry,
        smart=smart,
    )
    try:
        with TestClient(app) as confidential:
            ehr.app_jwks = {"keys": [{**public, "kid": "vp-app-1"}]}
            before = ehr.verified_app_assertions
            done = to_ehr_and_back(confidential, {"iss": ehr.fhir_base, "launch": ehr.new_launch()})
            assert done.status_code == 302, done.text
            assert ehr.verified_app_assertions == before + 1
            assert confidential.get("/smart/app").status_code == 200

            ehr.app_jwks = {"keys": [{**stranger, "kid": "vp-app-1"}]}  # another key registered
            confidential.cookies.clear()
            answer = to_ehr_and_back(
                confidential, {"iss": ehr.fhir_base, "launch": ehr.new_launch()}
            )
            refused(answer, 403, "invalid_client")
    finally:
        ehr.app_jwks = None
