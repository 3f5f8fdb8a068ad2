"""OpenID Connect sign-in (authorization code + PKCE) against a test provider on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import urlparse

import httpx
import pytest
from fastapi.testclient import TestClient

from oidc_provider import CLIENT_ID, OidcTestProvider
from security_settings import production_settings
from venapath.identity.oidc import FLOW_COOKIE, Flow
from venapath.settings import Settings


@pytest.fixture
def provider() -> Iterator[OidcTestProvider]:
    idp = OidcTestProvider()
    yield idp
    idp.close()


@pytest.fixture
def client(
    provider: OidcTestProvider, app_factory: Callable[[Settings], TestClient]
) -> Iterator[TestClient]:
    oidc = {
        "issuer": provider.issuer,
        "client_id": CLIENT_ID,
        "role_claim": "groups",
        "role_mapping": {"vascular": "clinician", "audit": "admin"},
    }
    with app_factory(production_settings(oidc=oidc)) as test_client:
        yield test_client


def _sign_in(
    client: TestClient, tamper: Callable[[TestClient], None] | None = None
) -> httpx.Response:
    start = client.get("/auth/oidc/login", params={"next": "/api/v1/kb"}, follow_redirects=False)
    assert start.status_code == 303, start.text
    at_provider = httpx.get(start.headers["location"], follow_redirects=False)
    assert at_provider.status_code == 302
    back = urlparse(at_provider.headers["location"])
    assert back.path == "/auth/oidc/callback"
    if tamper is not None:
        tamper(client)
    return client.get(f"{back.path}?{back.query}", follow_redirects=False)


def test_a_mapped_user_signs_in_and_gets_the_mapped_role(
    client: TestClient, provider: OidcTestProvider
) -> None:
    done = _sign_in(client)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/api/v1/kb"
    who = client.get("/auth/session").json()
    assert who["roles"] == ["clinician"]
    assert who["method"] == "oidc"
    assert who["subject"] == f"oidc:{provider.issuer}#u-1"
    assert provider.token_requests[0]["code_verifier"]  # PKCE was used


def test_a_user_without_a_mapped_role_is_refused(
    client: TestClient, provider: OidcTestProvider
) -> None:
    provider.user = {"sub": "u-2", "groups": ["kitchen"]}
    refused = _sign_in(client)
    assert refused.status_code == 401
    assert "no VenaPath role" in refused.text
    assert client.get("/auth/session").status_code == 401


def test_a_wrong_nonce_is_refused(client: TestClient, provider: OidcTestProvider) -> None:
    provider.wrong_nonce = True
    assert _sign_in(client).status_code == 401
    assert client.get("/auth/session").status_code == 401


def test_a_changed_pkce_verifier_is_refused_by_the_provider(
    client: TestClient, provider: OidcTestProvider
) -> None:
    def swap_verifier(browser: TestClient) -> None:
        flow = Flow.from_cookie(browser.cookies.get(FLOW_COOKIE, path="/auth/oidc"))
        forged = Flow(flow.state, flow.nonce, "attacker-verifier", flow.next).to_cookie()
        browser.cookies.set(FLOW_COOKIE, forged, domain="testserver.local", path="/auth/oidc")

    assert _sign_in(client, swap_verifier).status_code == 401
    assert provider.token_requests[-1]["code_verifier"] == "attacker-verifier"


def test_a_callback_without_the_flow_cookie_is_refused(client: TestClient) -> None:
    def lose_cookie(browser: TestClient) -> None:
        browser.cookies.clear()

    assert _sign_in(client, lose_cookie).status_code == 401
