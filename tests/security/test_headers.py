"""Transport: security headers on every answer, HSTS over https, the Host allow-list,
no API documentation in production unless enabled."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from identity_support import bearer
from security_settings import production_settings
from venapath.settings import Settings


def test_security_headers_on_answers_and_refusals(anonymous: TestClient) -> None:
    for response in (
        anonymous.get("/health"),
        anonymous.get("/api/v1/patients"),  # a 401 refusal
        anonymous.get("/api/v1/patients", headers=bearer()),  # patient data
        anonymous.get("/no-such-page"),
    ):
        headers = response.headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"
        assert headers["strict-transport-security"].startswith("max-age=")


def test_frame_ancestors_are_configurable_for_ehr_embedding(
    app_factory: Callable[[Settings], TestClient],
) -> None:
    settings = production_settings(frame_ancestors=["https://ehr.example.org"])
    with app_factory(settings) as client:
        response = client.get("/health")
    assert "frame-ancestors https://ehr.example.org" in response.headers["content-security-policy"]
    assert "x-frame-options" not in response.headers


def test_an_unknown_host_is_refused(anonymous: TestClient) -> None:
    response = anonymous.get("/health", headers={"host": "attacker.example"})
    assert response.status_code == 400
    assert response.json()["title"] == "Invalid host"


def test_no_api_documentation_in_production_unless_enabled(
    anonymous: TestClient, app_factory: Callable[[Settings], TestClient]
) -> None:
    assert anonymous.get("/openapi.json").status_code == 404
    assert anonymous.get("/docs").status_code == 404
    with app_factory(production_settings(docs_enabled=True)) as client:
        assert client.get("/openapi.json").status_code == 200


def test_docs_are_served_from_local_assets_without_inline_script(
    app_factory: Callable[[Settings], TestClient],
) -> None:
    with app_factory(production_settings(docs_enabled=True)) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sources
        assert all(source.startswith("/") for source in sources), sources
        assert "<script>" not in page.text
        for source in sources:
            asset = client.get(source)
            assert asset.status_code == 200, source
            assert asset.content
