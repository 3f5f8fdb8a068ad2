"""The patient's check-in: a private link from the coordinator, plain questions, plain advice,
and the call-today task on the coordinator's board at once."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from venapath.domain.access import Role, local_operator
from venapath.services.demo import load_demo
from venapath.services.registry import Registry


@pytest.fixture(scope="module", autouse=True)
def demo(module_registry: Registry) -> None:
    load_demo(module_registry, follow_up_cohort=False)  # no survival cohort needed


def a_venoplasty(registry: Registry) -> tuple[str, str]:
    operator = local_operator("test")
    for patient in registry.list_patients(operator, limit=100):
        for procedure in registry.procedures_of(patient.id, operator):
            if procedure.kind == "venoplasty":
                return patient.id, procedure.id
    raise AssertionError("the demo registry has a venoplasty")


def new_link(web: TestClient, procedure_id: str) -> str:
    page = web.post(f"/procedures/{procedure_id}/check-in-link")
    assert page.status_code == 200
    found = re.search(r'value="http://testserver(/c/[A-Za-z0-9_-]+)"', page.text)
    assert found is not None
    return found.group(1)


def test_a_check_in_that_needs_a_call_reaches_the_board(
    web: TestClient, caller: Any, module_registry: Registry
) -> None:
    patient_id, procedure_id = a_venoplasty(module_registry)
    caller.become(Role.COORDINATOR)
    link = new_link(web, procedure_id)

    caller.become(None)  # the patient has no account: the link is the credential
    form = web.get(link)
    assert form.status_code == 200
    assert "How are you since your procedure?" in form.text
    assert "DEMO-" not in form.text  # nothing of the record is shown
    done = web.post(link, data={"symptom_response": "none", "symptoms_back_within_hours": "true"})
    assert done.status_code == 200
    assert "Call your care team today" in done.text or "Call emergency services now" in done.text

    caller.become(Role.COORDINATOR)
    board = web.get("/worklist").text
    call_today = board.split('id="h-call_today"')[1].split("</section>")[0]
    assert patient_id in call_today


def test_a_used_link_says_so_and_shows_nothing(
    web: TestClient, caller: Any, module_registry: Registry
) -> None:
    _, procedure_id = a_venoplasty(module_registry)
    caller.become(Role.COORDINATOR)
    link = new_link(web, procedure_id)
    caller.become(None)
    assert web.post(link, data={"symptom_response": "marked"}).status_code == 200
    again = web.get(link)
    assert again.status_code == 410
    assert "already been used" in again.text
    assert web.post(link, data={"symptom_response": "marked"}).status_code == 410


def test_an_unknown_link_is_refused(web: TestClient, caller: Any) -> None:
    caller.become(None)
    page = web.get("/c/" + "x" * 43)
    assert page.status_code == 404
    assert "not valid" in page.text


def test_a_wrong_answer_is_shown_in_words(
    web: TestClient, caller: Any, module_registry: Registry
) -> None:
    _, procedure_id = a_venoplasty(module_registry)
    caller.become(Role.COORDINATOR)
    link = new_link(web, procedure_id)
    caller.become(None)
    page = web.post(link, data={"improvement_lasted_days": "a week"})
    assert page.status_code == 422
    assert "number of days" in page.text
    assert 'value="a week"' in page.text
    assert web.get(link).status_code == 200  # the link was not spent by the refused answer


def test_a_researcher_cannot_create_links(
    web: TestClient, caller: Any, module_registry: Registry
) -> None:
    _, procedure_id = a_venoplasty(module_registry)
    caller.become(Role.RESEARCHER)
    assert web.post(f"/procedures/{procedure_id}/check-in-link").status_code == 403
