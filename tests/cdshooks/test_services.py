"""CDS Hooks services in process: discovery, the three hooks, prefetch rules, feedback, JWT."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_fixtures import (
    RXNORM,
    cvt_intracranial_hypotension_record,
    dvt_record,
    medication_request,
    searchset,
)
from jwt_support import BASE, token
from venapath.cdshooks.models import SUMMARY_LIMIT
from venapath.cdshooks.prefetch import prefetch_answers

PATIENT_VIEW = "/cds-services/venapath-patient-view"
ORDER_SIGN = "/cds-services/venapath-order-sign"
ORDER_SELECT = "/cds-services/venapath-order-select"
ALTEPLASE = ("8410", "alteplase")


def hook_request(hook: str, prefetch: dict[str, Any] | None, **context: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": hook,
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/example", "patientId": "p1", **context},
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


@pytest.fixture(scope="module")
def templates(client: TestClient) -> dict[str, str]:
    return dict(client.get("/cds-services").json()["services"][0]["prefetch"])


def test_discovery_lists_three_services_with_generated_prefetch(client: TestClient) -> None:
    services = client.get("/cds-services").json()["services"]
    assert {s["hook"] for s in services} == {"patient-view", "order-select", "order-sign"}
    prefetch = services[0]["prefetch"]
    assert prefetch["patient"] == "Patient/{{context.patientId}}"
    assert prefetch["conditions"] == "Condition?patient={{context.patientId}}"
    assert "http://loinc.org|777-3" in prefetch["observations"]  # platelets: read by a rule
    assert {"medicationRequests", "procedures"} <= set(prefetch)


def test_patient_view_with_a_leg_dvt_shows_a_cited_pathway_card(
    client: TestClient, templates: dict[str, str]
) -> None:
    body = hook_request("patient-view", prefetch_answers(dvt_record(), templates))
    response = client.post(PATIENT_VIEW, json=body)
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    assert cards
    card = cards[0]
    assert card["uuid"]
    assert len(card["summary"]) <= SUMMARY_LIMIT
    assert card["source"]["topic"]["code"] == "leg_dvt"
    assert "Knowledge version" in card["detail"]
    assert "*Evidence:*" in card["detail"]
    assert card["indicator"] in ("info", "warning", "critical")


def test_patient_view_for_the_seed_cvt_case_is_an_emergency(
    client: TestClient, templates: dict[str, str]
) -> None:
    record = cvt_intracranial_hypotension_record()
    cards = client.post(
        PATIENT_VIEW, json=hook_request("patient-view", prefetch_answers(record, templates))
    ).json()["cards"]
    topics = {card["source"]["topic"]["code"] for card in cards if card["source"].get("topic")}
    assert {"cvt_acute", "intracranial_hypotension"} <= topics


def test_a_patient_without_venous_disease_gets_no_cards(
    client: TestClient, templates: dict[str, str]
) -> None:
    record = [dvt_record()[0]]
    response = client.post(
        PATIENT_VIEW, json=hook_request("patient-view", prefetch_answers(record, templates))
    )
    assert response.json() == {"cards": [], "systemActions": []}


def test_order_sign_thrombolytic_with_low_platelets_is_critical(
    client: TestClient, templates: dict[str, str]
) -> None:
    order = medication_request("draft-1", ALTEPLASE[0], ALTEPLASE[1], status="draft")
    body = hook_request(
        "order-sign",
        prefetch_answers(dvt_record(platelets=60), templates),
        draftOrders=searchset(order),
    )
    response = client.post(ORDER_SIGN, json=body)
    assert response.status_code == 200, response.text
    critical = [c for c in response.json()["cards"] if c["indicator"] == "critical"]
    assert critical, response.json()
    card = critical[0]
    assert card["overrideReasons"]
    assert card["selectionBehavior"] == "at-most-one"
    action = card["suggestions"][0]["actions"][0]
    assert action == {
        "type": "delete",
        "description": "Remove MedicationRequest/draft-1",
        "resourceId": ["MedicationRequest/draft-1"],
    }
    assert "CI-SIR-PLATELETS-LOW" in card["detail"]


def test_order_sign_without_data_warns_that_checks_are_open(client: TestClient) -> None:
    order = medication_request("draft-1", ALTEPLASE[0], ALTEPLASE[1], status="draft")
    empty = dict.fromkeys(client.get("/cds-services").json()["services"][0]["prefetch"])
    body = hook_request("order-sign", empty, draftOrders=searchset(order))
    cards = client.post(ORDER_SIGN, json=body).json()["cards"]
    assert any(c["indicator"] == "warning" and "need data" in c["summary"] for c in cards)


def test_order_select_checks_only_the_selected_orders(
    client: TestClient, templates: dict[str, str]
) -> None:
    order = medication_request("draft-1", ALTEPLASE[0], ALTEPLASE[1], status="draft")
    prefetch = prefetch_answers(dvt_record(platelets=60), templates)
    body = hook_request(
        "order-select",
        prefetch,
        draftOrders=searchset(order),
        selections=["MedicationRequest/other"],
    )
    assert client.post(ORDER_SELECT, json=body).json()["cards"] == []
    body["context"]["selections"] = ["MedicationRequest/draft-1"]
    assert client.post(ORDER_SELECT, json=body).json()["cards"]


def test_an_unrecognised_order_gets_no_card(client: TestClient, templates: dict[str, str]) -> None:
    order = medication_request("draft-1", "197361", "amlodipine 5 MG Oral Tablet", status="draft")
    order["medicationCodeableConcept"]["coding"][0]["system"] = RXNORM
    body = hook_request(
        "order-sign", prefetch_answers(dvt_record(), templates), draftOrders=searchset(order)
    )
    assert client.post(ORDER_SIGN, json=body).json()["cards"] == []


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        (PATIENT_VIEW, {"hook": "patient-view"}, 400, "context"),
        (PATIENT_VIEW, hook_request("order-sign", {}), 400, "answers hook"),
        (
            "/cds-services/nope",
            hook_request("patient-view", {}),
            404,
            "CDS service 'nope' does not exist",
        ),
        (ORDER_SIGN, hook_request("order-sign", {}), 400, "draftOrders"),
    ],
)
def test_bad_requests_are_4xx_operation_outcomes(
    client: TestClient, path: str, body: dict[str, Any], status: int, words: str
) -> None:
    response = client.post(path, json=body)
    assert response.status_code == status
    assert response.json()["resourceType"] == "OperationOutcome"
    assert words in str(response.json())


def test_missing_context_field_is_named(client: TestClient) -> None:
    body = hook_request("patient-view", {})
    del body["context"]["patientId"]
    response = client.post(PATIENT_VIEW, json=body)
    assert response.status_code == 400
    assert "context.patientId is required" in response.json()["issue"][0]["diagnostics"]


def test_invalid_json_is_400(client: TestClient) -> None:
    response = client.post(PATIENT_VIEW, content=b"{", headers={"content-type": "application/json"})
    assert response.status_code == 400


def test_missing_prefetch_without_a_fhir_server_is_412(client: TestClient) -> None:
    response = client.post(PATIENT_VIEW, json=hook_request("patient-view", {"patient": None}))
    assert response.status_code == 412
    assert "no fhirServer" in response.json()["issue"][0]["diagnostics"]


def test_a_prefetched_patient_must_be_the_context_patient(
    client: TestClient, templates: dict[str, str]
) -> None:
    prefetch = prefetch_answers(dvt_record(), templates)
    prefetch["patient"]["id"] = "p2"
    response = client.post(PATIENT_VIEW, json=hook_request("patient-view", prefetch))
    assert response.status_code == 400


def _signed_alteplase_card(client: TestClient, templates: dict[str, str]) -> str:
    """The uuid of a critical card order-sign issued (alteplase, platelets 60)."""
    order = medication_request("draft-1", ALTEPLASE[0], ALTEPLASE[1], status="draft")
    prefetch = prefetch_answers(dvt_record(platelets=60), templates)
    body = hook_request("order-sign", prefetch, draftOrders=searchset(order))
    cards = client.post(ORDER_SIGN, json=body).json()["cards"]
    return str(next(c["uuid"] for c in cards if c["indicator"] == "critical"))


def test_feedback_is_stored_once(client: TestClient, templates: dict[str, str]) -> None:
    item = {
        "card": _signed_alteplase_card(client, templates),
        "outcome": "overridden",
        "overrideReason": {"reason": {"code": "benefit-outweighs-risk"}},
        "outcomeTimestamp": "2026-11-20T09:00:00Z",
    }
    path = f"{ORDER_SIGN}/feedback"
    assert client.post(path, json={"feedback": [item]}).json() == {"received": 1, "stored": 1}
    assert client.post(path, json={"feedback": [item]}).json() == {"received": 1, "stored": 0}


def test_feedback_on_a_card_never_issued_is_404_naming_the_card(
    client: TestClient, templates: dict[str, str]
) -> None:
    known = _signed_alteplase_card(client, templates)
    unknown = "0b3c6a38-3d28-4d26-9e6e-8ad3d0b6b1d1"
    items = [
        {"card": card, "outcome": "overridden", "outcomeTimestamp": "2026-11-20T09:00:00Z"}
        for card in (known, unknown)
    ]
    response = client.post(f"{ORDER_SIGN}/feedback", json={"feedback": items})
    assert response.status_code == 404
    issue = response.json()["issue"][0]
    assert unknown in issue["diagnostics"]
    assert "venapath-order-sign" in issue["diagnostics"]
    assert issue["expression"] == ["/feedback/1/card"]
    # Nothing was half-written: the known card's item is stored by the next, valid post.
    again = client.post(f"{ORDER_SIGN}/feedback", json={"feedback": items[:1]})
    assert again.json() == {"received": 1, "stored": 1}


def test_feedback_names_the_service_that_issued_the_card(
    client: TestClient, templates: dict[str, str]
) -> None:
    card = _signed_alteplase_card(client, templates)
    item = {"card": card, "outcome": "overridden", "outcomeTimestamp": "2026-11-20T09:00:00Z"}
    response = client.post(f"{ORDER_SELECT}/feedback", json={"feedback": [item]})
    assert response.status_code == 404
    assert card in response.json()["issue"][0]["diagnostics"]


def test_feedback_accepted_needs_the_suggestions(client: TestClient) -> None:
    item = {"card": "c", "outcome": "accepted", "outcomeTimestamp": "2026-11-20T09:00:00Z"}
    response = client.post(f"{ORDER_SIGN}/feedback", json={"feedback": [item]})
    assert response.status_code == 400
    assert "acceptedSuggestions" in str(response.json())


def test_without_a_token_the_secured_service_answers_401(secured: TestClient) -> None:
    response = secured.get("/cds-services")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_valid_token_for_the_exact_url_is_accepted(secured: TestClient) -> None:
    header = {"Authorization": f"Bearer {token(f'{BASE}/cds-services')}"}
    assert secured.get("/cds-services", headers=header).status_code == 200


def test_a_token_for_another_service_is_refused(secured: TestClient) -> None:
    header = {"Authorization": f"Bearer {token(f'{BASE}/cds-services/venapath-order-sign')}"}
    response = secured.post(PATIENT_VIEW, json=hook_request("patient-view", {}), headers=header)
    assert response.status_code == 401
