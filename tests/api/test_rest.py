"""The REST API in process: evaluation, FHIR, scores, knowledge base, and every error shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fhir_fixtures import collection, dvt_record, patient
from paths_support import EXAMPLES

SYNTHEA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "synthea-sample"
PROBLEM = "application/problem+json"
FHIR = "application/fhir+json"


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready").json()
    assert ready["status"] == "ready"
    assert ready["knowledge_version"].startswith("0.")


def test_evaluate_a_yaml_case(client: TestClient) -> None:
    body = (EXAMPLES / "seed-cvt-intracranial-hypotension.yaml").read_bytes()
    response = client.post(
        "/api/v1/evaluate", content=body, headers={"content-type": "application/yaml"}
    )
    assert response.status_code == 200
    result = response.json()
    assert result["urgency"] == "emergency"
    assert result["knowledge_version"]
    assert result["trace"] == []


def test_evaluate_with_trace(client: TestClient) -> None:
    body = (EXAMPLES / "seed-cvt-intracranial-hypotension.yaml").read_bytes()
    response = client.post(
        "/api/v1/evaluate?trace=true", content=body, headers={"content-type": "application/yaml"}
    )
    assert response.json()["trace"]


def test_an_invalid_case_names_the_field(client: TestClient) -> None:
    response = client.post("/api/v1/evaluate", json={"case_id": "x", "patient": {"age_years": -1}})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"][0]["pointer"] == "/patient/age_years"


def test_invalid_json_is_a_422_naming_the_position(client: TestClient) -> None:
    response = client.post(
        "/api/v1/evaluate", content=b'{"case_id": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "line 1" in json.dumps(response.json())


def test_an_unsupported_media_type(client: TestClient) -> None:
    response = client.post("/api/v1/evaluate", content=b"x", headers={"content-type": "text/csv"})
    assert response.status_code == 415
    assert response.headers["content-type"] == PROBLEM


def test_an_oversized_body_is_refused_before_it_is_read(client: TestClient) -> None:
    response = client.post(
        "/api/v1/evaluate", content=b" " * 1_200_000, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["status"] == 413


def test_a_fhir_bundle_returns_a_guidance_response(client: TestClient) -> None:
    response = client.post(
        "/api/v1/fhir/evaluate", json=collection(*dvt_record()), headers={"content-type": FHIR}
    )
    assert response.status_code == 200, response.text
    guidance = response.json()
    assert guidance["resourceType"] == "GuidanceResponse"
    assert guidance["moduleUri"].startswith("urn:venapath:knowledge-base:")
    assert guidance["subject"] == {"reference": "Patient/p1"}
    actions = guidance["contained"][0]["action"]
    assert any(a["code"][0]["coding"][0]["code"] == "anticoagulation" for a in actions)
    assert all(a["documentation"] for a in actions)


def test_the_json_view_shows_the_case_and_the_mapping(client: TestClient) -> None:
    response = client.post(
        "/api/v1/fhir/evaluate?format=assessment", json=collection(*dvt_record())
    )
    view = response.json()
    assert view["case"]["diagnoses"][0]["condition"] == "leg_dvt"
    assert "Condition/dvt" in view["mapping"]["provenance"]["/diagnoses"]
    assert view["mapping"]["closed_lists"] == ["/diagnoses", "/treatment/procedures"]


def test_invalid_fhir_gets_an_operation_outcome_with_the_location(client: TestClient) -> None:
    broken = patient()
    broken["gender"] = 12
    response = client.post("/api/v1/fhir/evaluate", json=collection(broken))
    assert response.status_code == 422
    assert response.headers["content-type"] == FHIR
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "gender" in outcome["issue"][0]["expression"][0]


def test_a_bundle_that_is_not_r4_is_refused(client: TestClient) -> None:
    bundle = collection(patient(), {"resourceType": "MedicationUsage", "id": "m"})
    response = client.post("/api/v1/fhir/evaluate", json=bundle)
    assert response.status_code == 422
    assert "not a FHIR R4 resource type" in response.json()["issue"][0]["diagnostics"]


def test_resources_of_another_patient_are_refused(client: TestClient) -> None:
    record = dvt_record()
    record[1]["subject"] = {"reference": "Patient/someone-else"}
    response = client.post("/api/v1/fhir/evaluate", json=collection(*record))
    assert response.status_code == 422
    assert "someone-else" in response.json()["issue"][0]["diagnostics"]


@pytest.mark.skipif(not SYNTHEA.is_dir(), reason="../shared/data/synthea-sample is not present")
def test_every_synthea_bundle_evaluates_outside_every_pathway(client: TestClient) -> None:
    bundles = sorted((SYNTHEA / "bundles").glob("*.json"))
    assert bundles
    for path in bundles:
        response = client.post(
            "/api/v1/fhir/evaluate?format=assessment",
            content=path.read_bytes(),
            headers={"content-type": FHIR},
        )
        assert response.status_code == 200, response.text
        assessment = response.json()["assessment"]
        assert assessment["pathways"] == []
        assert assessment["errors"] == []
        assert [a["id"] for a in assessment["alerts"]] == ["ENGINE-NO-PATHWAY"]
        assert response.json()["mapping"]["unmapped_codes"], "Synthea codes are reported"


def test_a_score(client: TestClient) -> None:
    items = {"active_cancer": True, "calf_difference_cm": 4.0, "previous_dvt": None}
    response = client.post("/api/v1/scores/wells_dvt", json={"items": items})
    assert response.status_code == 200
    result = response.json()
    assert result["points"] is None  # unknown items make a range, never zero
    assert result["min_points"] < result["max_points"]


def test_a_score_item_of_the_wrong_type_names_the_item(client: TestClient) -> None:
    response = client.post("/api/v1/scores/wells_dvt", json={"items": {"active_cancer": 3}})
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/items/active_cancer"


@pytest.mark.parametrize(
    ("score_id", "item", "value", "expected"),
    [
        ("villalta", "villalta_pain", -1, "out of range: expected a whole number from 0 to 3"),
        ("villalta", "villalta_redness", 7, "out of range: expected a whole number from 0 to 3"),
        ("villalta", "villalta_cramps", 1.5, "expected a whole number"),
        ("koopman", "age_years", -4, "out of range: expected a whole number from 0 to 120"),
        ("koopman", "age_years", 400, "out of range: expected a whole number from 0 to 120"),
        ("wells_dvt", "calf_difference_cm", -3.0, "out of range: expected a number from 0 to 40"),
        ("has_bled", "systolic_bp_mmhg", 12, "out of range: expected a whole number from 40"),
        ("has_bled", "creatinine_umol_l", -80.0, "out of range: expected a number of at least 0"),
        ("has_bled", "systolic_bp_mmhg", 1e30, "out of range: expected a whole number"),
    ],
)
def test_an_out_of_range_score_item_is_422_naming_it(
    client: TestClient, score_id: str, item: str, value: float, expected: str
) -> None:
    """A Villalta item of 7 or an age of -4 is refused, never added up into a score."""
    response = client.post(f"/api/v1/scores/{score_id}", json={"items": {item: value}})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problems = response.json()["errors"]
    assert [p["pointer"] for p in problems] == [f"/items/{item}"]
    assert problems[0]["detail"].startswith(expected)


def test_score_items_at_their_bounds_are_scored(client: TestClient) -> None:
    items = {f"villalta_{name}": 3 for name in ("pain", "cramps", "heaviness")}
    items |= {"villalta_pruritus": 0, "villalta_redness": 2.0}  # 2.0 is the whole number 2
    response = client.post("/api/v1/scores/villalta", json={"items": items})
    assert response.status_code == 200, response.text
    assert response.json()["min_points"] == 11


def test_an_unknown_score_is_404(client: TestClient) -> None:
    assert client.post("/api/v1/scores/nope", json={"items": {}}).status_code == 404


def test_knowledge_base_browsing(client: TestClient) -> None:
    summary = client.get("/api/v1/kb").json()
    assert summary["counts"]["rules"] > 50
    rules = client.get("/api/v1/kb/rules?pathway=safety").json()
    assert rules
    assert all(rule["kind"] == "contraindication" for rule in rules)
    rule = client.get(f"/api/v1/kb/rules/{rules[0]['id']}").json()
    assert rule["citations"]
    assert rule["when"]
    assert client.get("/api/v1/kb/sources").json()
    assert client.get("/api/v1/kb/value-sets").json()
    assert client.get("/api/v1/kb/pathways/leg_dvt").json()["rules"]
    missing = client.get("/api/v1/kb/rules/NOPE-1")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM


def test_an_unknown_path_is_a_problem_document(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


def test_openapi_publishes_the_case_schema(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "Case" in schema["components"]["schemas"]
    assert "/api/v1/evaluate" in schema["paths"]
    assert "/cds-services/{service_id}" in schema["paths"]
