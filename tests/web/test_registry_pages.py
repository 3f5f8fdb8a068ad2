"""Worklist and patient pages over the demo registry: what each role sees, a task marked
done from the page, and every page view of patient data audited through the door."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from venapath.domain.access import Role, local_operator
from venapath.services.demo import load_demo
from venapath.services.registry import Registry


@pytest.fixture(scope="module", autouse=True)
def demo(module_registry: Registry) -> None:
    load_demo(module_registry, follow_up_cohort=False)  # no survival cohort needed


def first_patient_id(registry: Registry) -> str:
    return registry.list_patients(local_operator("test"), limit=1)[0].id


def test_the_worklist_shows_calls_tasks_episodes_and_check_ins(web: TestClient) -> None:
    page = web.get("/worklist")
    assert page.status_code == 200
    html = page.text
    for heading in ("Call today", "Overdue", "Active episodes by urgency", "Check-ins"):
        assert heading in html
    assert "DEMO-" in html  # pseudonyms, never names
    assert 'class="clock"' in html  # open time windows tick


def test_a_coordinator_marks_a_task_done_with_a_note(
    web: TestClient, caller: Any, module_registry: Registry
) -> None:
    caller.become(Role.COORDINATOR)
    page = web.get("/worklist").text
    form = re.search(r'action="/tasks/([^/]+)/done".*?name="version" value="(\d+)"', page, re.S)
    assert form is not None
    task_id, version = form.groups()
    done = web.post(
        f"/tasks/{task_id}/done", data={"version": version, "note": "Called, booked the scan"}
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/worklist"
    assert f"/tasks/{task_id}/done" not in web.get("/worklist").text
    # a stale version is refused in words, not overwritten
    again = web.post(f"/tasks/{task_id}/done", data={"version": version})
    assert again.status_code == 409
    assert "Traceback" not in again.text


def test_the_patient_page_shows_the_timeline_and_is_audited(
    web: TestClient, module_registry: Registry
) -> None:
    patient_id = first_patient_id(module_registry)
    page = web.get(f"/patients/{patient_id}")
    assert page.status_code == 200
    assert "Timeline" in page.text
    since = datetime.now(UTC) - timedelta(minutes=5)
    events = list(module_registry.audit.export(local_operator("auditor"), since, patient_id))
    reads = [e for e in events if "clinician-1" in str(e)]
    assert reads, "viewing a patient's page leaves audit entries naming the patient"


def test_a_researcher_sees_no_worklist_and_no_patient(
    web: TestClient, caller: Any, module_registry: Registry
) -> None:
    patient_id = first_patient_id(module_registry)
    caller.become(Role.RESEARCHER)
    assert web.get("/worklist").status_code == 403
    refused = web.get(f"/patients/{patient_id}")
    assert refused.status_code == 403
    assert "DEMO-" not in refused.text


def test_an_unknown_patient_is_a_404_page(web: TestClient) -> None:
    page = web.get("/patients/no-such-patient")
    assert page.status_code == 404
    assert "Not found" in page.text


def test_the_worklist_pages_and_refuses_a_bad_page_number(web: TestClient) -> None:
    first = web.get("/worklist").text
    assert "Page 1: up to 50 rows of each list" in first
    assert 'rel="prev"' not in first
    later = web.get("/worklist?page=2")
    assert later.status_code == 200
    assert "Page 2:" in later.text
    assert 'href="/worklist" rel="prev"' in later.text
    for bad in ("0", "two", "-1", "10001"):
        answer = web.get(f"/worklist?page={bad}")
        assert answer.status_code == 422, bad
        assert "page must be a whole number" in answer.text
        assert "Traceback" not in answer.text
