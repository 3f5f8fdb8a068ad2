"""Recording a procedure from the form and seeing the follow-up tasks it creates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from venapath.domain.access import local_operator
from venapath.services.demo import load_demo
from venapath.services.registry import Registry


@pytest.fixture(scope="module", autouse=True)
def demo(module_registry: Registry) -> None:
    load_demo(module_registry, follow_up_cohort=False)  # no survival cohort needed


def a_leg_dvt_episode(registry: Registry) -> tuple[str, str]:
    operator = local_operator("test")
    for patient in registry.list_patients(operator, limit=100):
        for episode in registry.episodes_of(patient.id, operator):
            if episode.condition == "leg_dvt" and episode.status == "active":
                return patient.id, episode.id
    raise AssertionError("the demo registry has an active leg DVT episode")


def test_record_a_stent_and_see_its_follow_up_tasks(
    web: TestClient, module_registry: Registry
) -> None:
    patient_id, episode_id = a_leg_dvt_episode(module_registry)
    form = web.get(f"/patients/{patient_id}/procedures/new", params={"episode": episode_id})
    assert form.status_code == 200
    assert 'name="/kind"' in form.text
    key = form.text.split('name="form_key" value="')[1].split('"')[0]
    performed = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    body: dict[str, Any] = {
        "form_key": key,
        "/episode_id": episode_id,
        "/kind": "venous_stent",
        "/performed_at": performed,
        "/treated_segments": ["common_iliac_vein"],
        "/access_side": "left",
    }
    recorded = web.post(f"/patients/{patient_id}/procedures", data=body)
    assert recorded.status_code == 303
    page = web.get(recorded.headers["location"])
    assert page.status_code == 200
    assert "Follow-up tasks this procedure created" in page.text
    assert page.text.count("Mark done") >= 1
    # the same form posted again (a double click) records nothing new
    again = web.post(f"/patients/{patient_id}/procedures", data=body)
    assert again.headers["location"] == recorded.headers["location"]


def test_a_wrong_value_stays_and_is_explained(web: TestClient, module_registry: Registry) -> None:
    patient_id, episode_id = a_leg_dvt_episode(module_registry)
    body = {"/episode_id": episode_id, "/kind": "venous_stent", "/contrast_ml": "lots"}
    page = web.post(f"/patients/{patient_id}/procedures", data=body)
    assert page.status_code == 422
    assert "enter a number" in page.text
    assert 'value="lots"' in page.text
