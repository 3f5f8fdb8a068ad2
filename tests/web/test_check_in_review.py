"""The care team's review of a submitted check-in: opened from the worklist and from the
patient's timeline, shows the answers, the advice the patient was shown, the task it raised
and when; refused to researchers and patients; every view audited."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_check_in import a_venoplasty, new_link

from principal_support import make_principal
from venapath.domain.access import Role, local_operator
from venapath.domain.records import CheckInIn
from venapath.errors import RefusedError
from venapath.services.demo import load_demo
from venapath.services.registry import Registry


@pytest.fixture(scope="module", autouse=True)
def demo(module_registry: Registry) -> None:
    load_demo(module_registry, follow_up_cohort=False)  # no survival cohort needed


HTML = {"Accept": "text/html"}


def submitted_by_link(
    web: TestClient, caller: Any, procedure_id: str, answers: dict[str, str]
) -> None:
    caller.become(Role.COORDINATOR)
    link = new_link(web, procedure_id)
    caller.become(None)
    assert web.post(link, data=answers).status_code == 200


def review_links(html: str) -> list[str]:
    return re.findall(r'href="(/check-ins/[0-9a-f-]{36})"', html)


def test_a_coordinator_opens_a_week_s_check_in_from_the_worklist(
    web: TestClient, caller: Any, module_registry: Registry
) -> None:
    patient_id, procedure_id = a_venoplasty(module_registry)
    answers = {
        "symptom_response": "none",
        "symptoms_back_within_hours": "true",
        "comment": "Headache came back the same evening",
    }
    submitted_by_link(web, caller, procedure_id, answers)

    caller.become(Role.COORDINATOR)
    board = web.get("/worklist").text
    week = board.split('id="h-checkins"')[1].split("</section>")[0]
    links = review_links(week)
    assert links, "each of the week's check-ins links to its review"
    pages = [web.get(link) for link in links]
    assert all(page.status_code == 200 for page in pages)
    page = next(p.text for p in pages if "Headache came back the same evening" in p.text)

    assert (
        "The patient&#39;s answers" in page
        or "The patient&#x27;s answers" in page
        or "The patient's answers" in page
    )
    assert "No change" in page  # symptom response, in the words the patient saw
    answered = page.split("Did your old symptoms come back")[1].split("</dd>")[0]
    assert "Yes" in answered
    fever = page.split("pain or burning when you pass urine?")[1].split("</dd>")[0]
    assert "not answered (unknown)" in fever  # unknown is not "no"
    shown = page.split('id="h-shown"')[1].split("</section>")[0]
    assert "Call your care team today" in shown or "Call emergency services now" in shown
    task = page.split('id="h-task"')[1].split("</section>")[0]
    assert "None:" not in task
    assert "Urgent:" in task
    assert "Submitted " in page
    assert "UTC" in page
    assert f'href="/patients/{patient_id}"' in page


def test_a_routine_check_in_says_it_raised_no_task(
    web: TestClient, caller: Any, module_registry: Registry
) -> None:
    _patient_id, procedure_id = a_venoplasty(module_registry)
    operator = local_operator("test")
    out = module_registry.record_check_in(
        CheckInIn(
            procedure_id=procedure_id,
            submitted_at=datetime.now(UTC),
            symptom_response="marked",
            symptoms_back_within_hours=False,
            fever_or_urinary_symptoms=False,
        ),
        operator,
    )
    caller.become(Role.CLINICIAN)
    page = web.get(f"/check-ins/{out.id}")
    assert page.status_code == 200
    if out.urgent_task_id is None:
        assert "None: nothing the patient reported needed a call." in page.text
    else:  # an urgent rule still waiting for an answer asks for a call (unknown is not "no")
        assert "Urgent:" in page.text


def test_the_patient_timeline_links_each_check_in_to_its_review(
    web: TestClient, caller: Any, module_registry: Registry
) -> None:
    patient_id, _ = a_venoplasty(module_registry)
    operator = local_operator("test")
    check_ins = module_registry.check_ins_of(patient_id, operator)
    assert check_ins
    caller.become(Role.COORDINATOR)
    timeline = web.get(f"/patients/{patient_id}").text.split('id="h-timeline"')[1]
    assert {f"/check-ins/{c.id}" for c in check_ins} <= set(review_links(timeline))
    for c in check_ins:  # the entry's title, filled from the catalogue message
        assert f'href="/check-ins/{c.id}">Check-in: {c.advice.replace("_", " ")}</a>' in timeline
    assert '<span class="tag">check-in</span>' in timeline


@pytest.mark.parametrize("role", [Role.RESEARCHER, Role.ADMIN])
def test_roles_without_patient_read_are_refused(
    web: TestClient, caller: Any, module_registry: Registry, role: Role
) -> None:
    patient_id, _ = a_venoplasty(module_registry)
    check_in = module_registry.check_ins_of(patient_id, local_operator("test"))[0]
    caller.become(role)
    page = web.get(f"/check-ins/{check_in.id}", headers=HTML)
    assert page.status_code == 403
    assert "Not allowed" in page.text
    assert check_in.advice_text not in page.text
    assert "DEMO-" not in page.text


def test_a_patient_with_a_check_in_link_cannot_open_the_review(
    web: TestClient, caller: Any, module_registry: Registry
) -> None:
    """The link's holder may answer once; reviewing is the care team's (no session, no page)."""
    patient_id, procedure_id = a_venoplasty(module_registry)
    check_in = module_registry.check_ins_of(patient_id, local_operator("test"))[0]
    caller.become(Role.COORDINATOR)
    link = new_link(web, procedure_id)
    caller.become(None)
    assert web.get(link).status_code == 200
    page = web.get(f"/check-ins/{check_in.id}")
    assert page.status_code in (303, 401)
    assert check_in.advice_text not in page.text


def test_the_registry_refuses_a_patient_principal(module_registry: Registry) -> None:
    """A patient (their own record, even) has no review page: CHECK_IN_SUBMIT only."""
    patient_id, _ = a_venoplasty(module_registry)
    check_in = module_registry.check_ins_of(patient_id, local_operator("test"))[0]
    with pytest.raises(RefusedError):
        module_registry.check_in_review(check_in.id, make_principal("patient", patient_id))


def test_an_unknown_check_in_is_a_404_page(web: TestClient, caller: Any) -> None:
    caller.become(Role.CLINICIAN)
    page = web.get("/check-ins/00000000-0000-0000-0000-000000000000", headers=HTML)
    assert page.status_code == 404
    assert "Not found" in page.text


def test_each_view_is_audited_as_a_read_of_the_check_in(
    web: TestClient, caller: Any, module_registry: Registry
) -> None:
    patient_id, _ = a_venoplasty(module_registry)
    operator = local_operator("test")
    check_in = module_registry.check_ins_of(patient_id, operator)[0]
    before = module_registry.audit.events_of(operator, "check_in", check_in.id)
    caller.become(Role.COORDINATOR)
    assert web.get(f"/check-ins/{check_in.id}").status_code == 200
    after = module_registry.audit.events_of(operator, "check_in", check_in.id)
    # events_of audits itself (a query entry); the page view is the one read entry
    reads = [e for e in after[len(before) :] if e["action"] == "R"]
    assert len(reads) == 1
    assert reads[0]["outcome"] == "0"
    assert "coordinator-1" in str(reads[0]["agent"])
    assert patient_id in str(reads[0]["entity"])
