"""End to end: the real `venapath serve` on loopback, called over HTTP like an EHR would.

The server runs in production mode (JWT required, a trusted test issuer); a small FHIR
server stub on loopback answers the queries the service makes when the EHR sends no prefetch.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from fhir_fixtures import dvt_record, medication_request, searchset
from jwt_support import BASE, issuer_settings, token
from server_support import VENAPATH, free_port, wait_until_ready
from venapath.cdshooks.prefetch import prefetch_answers

pytestmark = pytest.mark.slow


class _StubServer(ThreadingHTTPServer):
    # The service sends its seven prefetch queries at once; the default listen backlog of 5
    # drops the extra connection attempts, which then time out.
    request_queue_size = 64


class FhirStub:
    """Answers FHIR searches for one patient from a record; remembers what it was asked."""

    def __init__(self, record: list[dict[str, Any]]) -> None:
        self.record = record
        self.requests: list[tuple[str, str | None]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stub.requests.append((self.path, self.headers.get("Authorization")))
                body = json.dumps(stub.answer(self.path)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return

        self.server = _StubServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/fhir"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path: str) -> dict[str, Any]:
        resource_path = urlsplit(path).path.removeprefix("/fhir/")
        resource_type, _, resource_id = resource_path.partition("/")
        found = [r for r in self.record if r["resourceType"] == resource_type]
        if resource_id:
            return found[0]
        return searchset(*found)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    environment = {
        **os.environ,
        "VENAPATH_ENV": "production",
        "VENAPATH_PUBLIC_BASE_URL": BASE,
        "VENAPATH_TRUSTED_ISSUERS": json.dumps(issuer_settings()),
        "VENAPATH_DATA_DIR": str(tmp_path_factory.mktemp("data")),
        # A loaded CI machine can be slow to answer; the stub is local, so allow more time.
        "VENAPATH_FHIR_TIMEOUT_SECONDS": "5",
        "VENAPATH_ALLOWED_HOSTS": json.dumps(["127.0.0.1"]),
    }
    log = tmp_path_factory.mktemp("log") / "server.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [str(VENAPATH), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=environment,
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=tmp_path_factory.mktemp("cwd"),
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process, log)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert "JWT verification is OFF" not in log.read_text()
    assert "Patient/p1" not in log.read_text(), "patient identifiers must not reach the log"


def _auth(path: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(BASE + path)}"}


def _call(server: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(server + path, json=body, headers=_auth(path), timeout=10)


def _hook(hook: str, **extra: Any) -> dict[str, Any]:
    context = {"userId": "Practitioner/1", "patientId": "p1", **extra.pop("context", {})}
    return {
        "hook": hook,
        "hookInstance": "0f4a6a3b-9d3a-4cf4-9f0a-6b5b6c1c2d3e",
        "context": context,
        **extra,
    }


def test_discovery_needs_and_accepts_a_token(server: str) -> None:
    assert httpx.get(f"{server}/cds-services").status_code == 401
    response = httpx.get(f"{server}/cds-services", headers=_auth("/cds-services"))
    assert response.status_code == 200
    assert len(response.json()["services"]) == 3


def test_a_forged_or_expired_token_is_refused(server: str) -> None:
    path = "/cds-services"
    expired = {"Authorization": f"Bearer {token(BASE + path, expires_in=-600)}"}
    assert httpx.get(server + path, headers=expired).status_code == 401
    wrong_audience = {"Authorization": f"Bearer {token('https://elsewhere.test' + path)}"}
    assert httpx.get(server + path, headers=wrong_audience).status_code == 401


def test_patient_view_with_prefetch(server: str) -> None:
    discovery = httpx.get(f"{server}/cds-services", headers=_auth("/cds-services")).json()
    templates = discovery["services"][0]["prefetch"]
    prefetch = prefetch_answers(dvt_record(), templates)
    response = _call(
        server, "/cds-services/venapath-patient-view", _hook("patient-view", prefetch=prefetch)
    )
    assert response.status_code == 200, response.text
    assert response.json()["cards"][0]["source"]["topic"]["code"] == "leg_dvt"


def test_patient_view_without_prefetch_queries_the_fhir_server(server: str) -> None:
    stub = FhirStub(dvt_record())
    try:
        body = _hook("patient-view", fhirServer=stub.url)
        response = _call(server, "/cds-services/venapath-patient-view", body)
        assert response.status_code == 200, response.text
        assert response.json()["cards"][0]["source"]["topic"]["code"] == "leg_dvt"
        assert stub.requests, "the service should have queried the FHIR server"
        assert all(auth is None for _, auth in stub.requests)
        assert any(path.startswith("/fhir/Condition?patient=p1") for path, _ in stub.requests)
    finally:
        stub.close()


def test_an_access_token_is_never_sent_to_a_plain_http_fhir_server(server: str) -> None:
    stub = FhirStub(dvt_record())
    try:
        body = _hook(
            "patient-view",
            fhirServer=stub.url,
            fhirAuthorization={
                "access_token": "opaque-token",
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": "patient/*.read",
                "subject": "venapath",
            },
        )
        response = _call(server, "/cds-services/venapath-patient-view", body)
        assert response.status_code == 400, response.text
        assert "https" in response.text
        assert not stub.requests, "the token must not have been sent"
    finally:
        stub.close()


def test_unreachable_fhir_server_is_412(server: str) -> None:
    body = _hook("patient-view", fhirServer=f"http://127.0.0.1:{free_port()}/fhir")
    response = _call(server, "/cds-services/venapath-patient-view", body)
    assert response.status_code == 412
    assert response.json()["resourceType"] == "OperationOutcome"


def test_order_sign_and_feedback(server: str) -> None:
    stub = FhirStub(dvt_record(platelets=55))
    try:
        order = medication_request("draft-9", "8410", "alteplase", status="draft")
        body = _hook("order-sign", fhirServer=stub.url, context={"draftOrders": searchset(order)})
        response = _call(server, "/cds-services/venapath-order-sign", body)
        assert response.status_code == 200, response.text
        critical = [c for c in response.json()["cards"] if c["indicator"] == "critical"]
        assert critical
    finally:
        stub.close()
    path = "/cds-services/venapath-order-sign/feedback"
    feedback = {
        "feedback": [
            {
                "card": critical[0]["uuid"],
                "outcome": "overridden",
                "overrideReason": {"reason": critical[0]["overrideReasons"][0]},
                "outcomeTimestamp": "2026-11-20T09:05:00Z",
            }
        ]
    }
    first = _call(server, path, feedback)
    again = _call(server, path, feedback)
    assert first.json() == {"received": 1, "stored": 1}
    assert again.json() == {"received": 1, "stored": 0}


def test_a_replayed_token_is_refused(server: str) -> None:
    headers = _auth("/cds-services")
    assert httpx.get(f"{server}/cds-services", headers=headers).status_code == 200
    assert httpx.get(f"{server}/cds-services", headers=headers).status_code == 401


def test_rest_api_over_http(server: str) -> None:
    assert httpx.get(f"{server}/health").json() == {"status": "ok"}
    # Production serves no API documentation unless VENAPATH_DOCS_ENABLED says so.
    assert httpx.get(f"{server}/openapi.json").status_code == 404
    oversized = httpx.post(
        f"{server}/api/v1/evaluate",
        content=b"x" * 3_000_000,
        headers={"content-type": "application/json"},
    )
    assert oversized.status_code == 413
