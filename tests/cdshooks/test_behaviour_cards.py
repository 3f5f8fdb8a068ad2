"""CDS Hooks end to end for issue 14 part 3: a recent intracranial haemorrhage in the chart.

Source of the advice: AHA/ASA 2022 spontaneous ICH guideline (delaying UFH/LMWH 1-2 weeks
after the haemorrhage "might be considered"; a retrievable filter as a bridge "is
reasonable"); contraindication CI-RECENT-ICH-ANTICOAGULATION.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from test_services import PATIENT_VIEW, hook_request

from fhir_fixtures import ICD10, condition, dvt_record
from venapath.cdshooks.prefetch import prefetch_answers


@pytest.fixture(scope="module")
def templates(client: TestClient) -> dict[str, str]:
    return dict(client.get("/cds-services").json()["services"][0]["prefetch"])


def test_a_dvt_weeks_after_a_haemorrhagic_stroke_gets_a_card_that_weighs_anticoagulation(
    client: TestClient, templates: dict[str, str]
) -> None:
    record = [
        *dvt_record(),
        condition(
            "ich",
            ICD10,
            "I61.9",
            "Nontraumatic intracerebral hemorrhage, unspecified",
            onset_hours_ago=24 * 35,
        ),
    ]
    response = client.post(
        PATIENT_VIEW, json=hook_request("patient-view", prefetch_answers(record, templates))
    )
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    text = "\n".join(c["summary"] + "\n" + (c.get("detail") or "") for c in cards)

    assert "CI-RECENT-ICH-ANTICOAGULATION" in text
    assert "AHA-ASA-2022-ICH" in text or "Spontaneous Intracerebral Hemorrhage" in text
    assert "recommended: anticoagulation" not in text
    assert "consider" in text
