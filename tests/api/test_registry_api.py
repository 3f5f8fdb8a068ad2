"""The registry over HTTP: records, worklist, errors naming fields, FHIR export and import."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle

NOW = datetime.now(UTC).replace(microsecond=0)
MRNS = count(1)


def _post(client: TestClient, path: str, body: dict[str, Any], status: int = 201) -> Any:
    response = client.post(f"/api/v1{path}", json=body)
    assert response.status_code == status, response.text
    return response.json()


def _record(client: TestClient) -> dict[str, Any]:
    patient = _post(
        client, "/patients", {"sex": "male", "birth_year": 1975, "mrn": f"H-{next(MRNS)}"}
    )
    episode = _post(
        client,
        "/episodes",
        {
            "patient_id": patient["id"],
            "condition": "leg_dvt",
            "segments": ["common_iliac_vein", "external_iliac_vein"],
            "side": "left",
            "onset_at": (NOW - timedelta(days=5)).isoformat(),
            "diagnosed_at": (NOW - timedelta(days=4)).isoformat(),
            "provocation": "unprovoked",
            "anticoagulation_planned_end": (NOW + timedelta(days=180)).date().isoformat(),
        },
    )
    procedure = _post(
        client,
        "/procedures",
        {
            "episode_id": episode["id"],
            "kind": "venous_stent",
            "performed_at": (NOW - timedelta(days=3)).isoformat(),
            "operator": "Dr Vein",
            "access_vein": "popliteal_vein",
            "access_side": "left",
            "sheath_french": 10,
            "treated_segments": ["common_iliac_vein"],
            "devices": [{"device_class": "stent", "size": "14 mm x 90 mm"}],
            "thrombolysis": {
                "agent": "alteplase",
                "total_dose": 20,
                "dose_unit": "mg",
                "duration_hours": 24,
            },
            "contrast_ml": 80,
            "fluoroscopy_minutes": 22.5,
            "thrombus_removed_percent": 95,
            "residual_stenosis_percent": 10,
            "complications": [{"description": "access-site haematoma", "sir_class": "A"}],
            "checklist": {
                "haemostasis_by_pressure": True,
                "monitoring_hours": 4,
                "discharge_anticoagulant": "rivaroxaban",
            },
        },
    )
    outcome = _post(
        client,
        "/outcomes",
        {
            "episode_id": episode["id"],
            "measure": "villalta",
            "score": 4,
            "venous_ulcer": False,
            "assessed_at": NOW.isoformat(),
        },
    )
    return {"patient": patient, "episode": episode, "procedure": procedure, "outcome": outcome}


def test_a_record_end_to_end(client: TestClient) -> None:
    made = _record(client)
    patient_id = made["patient"]["id"]
    assert "mrn" not in made["patient"]
    assert made["procedure"]["lysis_success"] is True
    tasks = client.get(f"/api/v1/patients/{patient_id}/tasks").json()
    protocols = {t["protocol_id"] for t in tasks}
    assert protocols == {"iliac-stent-duplex", "anticoagulation-review", "villalta-after-dvt"}
    worklist = client.get("/api/v1/worklist", params={"as_of": NOW.date().isoformat()}).json()
    mine = [w for w in worklist if w["task"]["patient_id"] == patient_id]
    assert [w["task"]["step_id"] for w in mine] == ["duplex-24-hours"]
    assert mine[0]["state"] == "overdue"
    audit = client.get(f"/api/v1/audit/procedure/{made['procedure']['id']}").json()
    assert (
        audit[0]["agent"][0]["who"]["identifier"]["value"] == "https://auth.test#integration-engine"
    )
    assert audit[0]["meta"]["profile"][0].endswith("IHE.BasicAudit.PatientCreate")


def test_errors_name_the_field(client: TestClient) -> None:
    response = client.post("/api/v1/episodes", json={"patient_id": "ghost", "condition": "leg_dvt"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/patient_id"
    made = _record(client)
    late = _post(
        client,
        "/check-ins",
        {
            "procedure_id": made["procedure"]["id"],
            "submitted_at": (NOW - timedelta(days=4)).isoformat(),
        },
        status=422,
    )
    assert late["errors"][0]["pointer"] == "/submitted_at"
    negative = client.post(
        "/api/v1/procedures",
        json={
            "episode_id": made["episode"]["id"],
            "kind": "catheter_directed_thrombolysis",
            "performed_at": NOW.isoformat(),
            "thrombolysis": {"agent": "urokinase", "total_dose": -1, "dose_unit": "IU"},
        },
    )
    assert negative.status_code == 422
    assert "thrombolysis" in str(negative.json()["errors"])
    assert client.get("/api/v1/patients/nobody").status_code == 404
    stale = client.patch(
        f"/api/v1/patients/{made['patient']['id']}", json={"version": 7, "birth_year": 1990}
    )
    assert stale.status_code == 409
    assert stale.json()["errors"][0]["pointer"] == "/version"
    bad_day = client.get("/api/v1/worklist", params={"as_of": "2026-02-30"})
    assert bad_day.status_code == 422


def test_export_is_valid_fhir_and_imports_to_the_same_record(client: TestClient) -> None:
    made = _record(client)
    patient_id = made["patient"]["id"]
    check_in = _post(
        client,
        "/check-ins",
        {
            "procedure_id": made["procedure"]["id"],
            "submitted_at": NOW.isoformat(),
            "symptom_response": "marked",
        },
    )
    assert check_in["advice"] == "routine"
    exported = client.get(f"/api/v1/fhir/Patient/{patient_id}/$export-record")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/fhir+json")
    bundle = exported.json()
    Bundle.model_validate(bundle)  # R4B validation of every resource
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert kinds == {
        "Patient",
        "Condition",
        "Procedure",
        "Observation",
        "CarePlan",
        "Task",
        "GuidanceResponse",
    }
    assert '"mrn"' not in exported.text  # the MRN never leaves

    # The same pseudonym cannot be imported twice; after renaming it, the copy is equal.
    assert client.post("/api/v1/fhir/$import-record", json=bundle).status_code == 409
    renamed = exported.text.replace(made["patient"]["pseudonym"], "IMPORTED-COPY-1")
    imported = client.post(
        "/api/v1/fhir/$import-record",
        content=renamed,
        headers={"content-type": "application/json"},
    )
    assert imported.status_code == 201, imported.text
    copy_id = imported.json()["patient_id"]
    again = client.get(f"/api/v1/fhir/Patient/{copy_id}/$export-record").json()
    assert _shape(again) == _shape(bundle)


def _shape(bundle: dict[str, Any]) -> list[tuple[str, str]]:
    """Resource types with their dates and codes: ids differ between copies, nothing else."""
    shape = []
    for entry in bundle["entry"]:
        resource = entry["resource"]
        when = (
            resource.get("performedDateTime")
            or resource.get("effectiveDateTime")
            or resource.get("recordedDate")
            or str(resource.get("executionPeriod", ""))
            or resource.get("occurrenceDateTime", "")
        )
        code = str(resource.get("code", {}).get("coding", [{}])[0].get("code", ""))
        shape.append((resource["resourceType"], f"{when}|{code}|{resource.get('status', '')}"))
    return sorted(shape)


def test_import_refuses_foreign_bundles(client: TestClient) -> None:
    foreign = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": {"resourceType": "Patient", "id": "x"}}],
    }
    response = client.post("/api/v1/fhir/$import-record", json=foreign)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert "record extension" in response.text
