"""The evaluate page: a form generated from the case format, a result that follows it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from venapath.domain.access import Role
from venapath.services.case_input import load_case_file
from venapath.web.case_form import values_from_case

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "cases"


def form_body(values: dict[str, list[str]]) -> dict[str, list[str]]:
    return values


def test_the_form_is_generated_from_the_facts_the_rules_read(web: TestClient) -> None:
    page = web.get("/evaluate")
    assert page.status_code == 200
    html = page.text
    # fields that settle facts read by rules are there, named by JSON pointer
    for pointer in ("/exam/gcs", "/patient/pregnant", "/imaging/thrombosed_segments/0/segment"):
        assert f'name="{pointer}"' in html
    # tri-state booleans offer "unknown", which is the default
    assert re.search(r'name="/patient/pregnant" value=""\s+checked', html)
    assert 'hx-post="/evaluate/result"' in html


def test_an_example_case_through_the_form_gives_the_engine_result(web: TestClient) -> None:
    case = load_case_file(EXAMPLES / "leg-dvt-iliofemoral-candidate.yaml")
    response = web.post("/evaluate/result", data=form_body(values_from_case(case)))
    assert response.status_code == 200
    html = response.text
    assert "Recommendations" in html
    assert "knowledge" in html
    assert "DVT-" in html  # rule ids are shown with every recommendation


def test_a_changed_fact_changes_the_recommendation(web: TestClient) -> None:
    case = load_case_file(EXAMPLES / "leg-dvt-iliofemoral-candidate.yaml")
    values = values_from_case(case)
    before = web.post("/evaluate/result", data=form_body(values)).text
    values["/bleeding_risk/active_bleeding"] = ["true"]
    after = web.post("/evaluate/result", data=form_body(values)).text
    assert before != after
    assert "Contraindications found" in after


def test_a_wrong_value_is_shown_next_to_its_field_and_kept(web: TestClient) -> None:
    response = web.post("/evaluate", data={"/exam/gcs": "twenty", "/exam/systolic_bp_mmhg": "41"})
    assert response.status_code == 422
    html = response.text
    assert "enter a whole number" in html
    assert 'value="twenty"' in html  # what the user typed stays
    assert 'value="41"' in html
    assert 'aria-invalid="true"' in html


def test_an_out_of_range_value_is_refused_by_the_case_format(web: TestClient) -> None:
    response = web.post("/evaluate", data={"/exam/gcs": "22"})
    assert response.status_code == 422
    assert "less than or equal to 15" in response.text


def test_add_an_entry_without_javascript(web: TestClient) -> None:
    response = web.post("/evaluate", data={"add_row": "/diagnoses"})
    assert 'name="/diagnoses/1/condition"' in response.text


def test_anonymous_visitors_are_sent_to_sign_in(web: TestClient, caller) -> None:  # type: ignore[no-untyped-def]
    caller.become(None)
    response = web.get("/evaluate", headers={"Accept": "text/html"})  # as a browser asks
    assert response.status_code == 303
    assert response.headers["location"] == "/auth/login?next=%2Fevaluate"
    assert web.get("/evaluate").status_code == 401  # a script gets problem+json, not a page


def test_a_researcher_may_not_evaluate_patient_data(web: TestClient, caller) -> None:  # type: ignore[no-untyped-def]
    caller.become(Role.RESEARCHER)
    response = web.get("/evaluate", headers={"Accept": "text/html"})
    assert response.status_code == 403
    assert "Not allowed" in response.text
    assert "Traceback" not in response.text


def test_save_an_assessment_to_the_record_and_open_it_again(
    web: TestClient, module_registry: Any
) -> None:
    from venapath.domain.access import local_operator
    from venapath.domain.records import PatientIn

    operator = local_operator("test")
    patient = module_registry.create_patient(PatientIn(pseudonym="WEB-EVAL-1"), operator)
    form = web.get("/evaluate", params={"patient": patient.id})
    assert "Save to the patient" in form.text
    case = load_case_file(EXAMPLES / "leg-dvt-iliofemoral-candidate.yaml")
    body = {**values_from_case(case), "patient_id": [patient.id], "save": ["1"]}
    saved = web.post("/evaluate", data=body)
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/patients/{patient.id}"
    stored = module_registry.assessments_of(patient.id, operator)
    assert len(stored) == 1
    reopened = web.get("/evaluate", params={"assessment": stored[0].id})
    assert reopened.status_code == 200
    assert 'value="122"' in reopened.text  # the stored case fills the form (systolic BP)
    assert "Recommendations" in reopened.text
