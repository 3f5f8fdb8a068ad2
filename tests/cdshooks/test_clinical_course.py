"""CDS Hooks end to end: the clinical course read from the chart (issue 14, part 5).

Source of the advice: AHA 2024 CVT scientific statement (endovascular therapy for
deterioration despite maximal medical therapy) and Siddiqui 2015 (185 thrombectomy cases);
rules CVT-EVT-DETERIORATION-MT and -CDT, whose safety facts (therapeutic dose, herniation)
are checked with `provided`: unknown leaves the option on the card, provisional, naming them.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_services import PATIENT_VIEW, hook_request

from fhir_fixtures import (
    ICD10,
    condition,
    medication_request,
    observation,
    patient,
    prefetch_for,
)

ENOXAPARIN = ("854235", "0.4 ML enoxaparin sodium 100 MG/ML Prefilled Syringe")


@pytest.fixture(scope="module")
def templates(client: TestClient) -> dict[str, str]:
    return dict(client.get("/cds-services").json()["services"][0]["prefetch"])


def _deteriorating_cvt(gcs_then: int, gcs_now: int) -> list[dict[str, Any]]:
    """CVT four days ago, on enoxaparin; GCS measured three days apart."""
    return [
        patient(birth="1988-02-03"),
        condition(
            "cvt",
            ICD10,
            "I67.6",
            "Nonpyogenic thrombosis of intracranial venous system",
            onset_hours_ago=100,
        ),
        medication_request("enox", *ENOXAPARIN, hours_ago=90),
        observation(
            "gcs-1", "9269-2", "Glasgow coma score total", gcs_then, "{score}", hours_ago=74
        ),
        observation("gcs-2", "9269-2", "Glasgow coma score total", gcs_now, "{score}", hours_ago=2),
        observation("plt", "777-3", "Platelets", 210, "10*3/uL", hours_ago=3),
    ]


def _cvt_card(client: TestClient, templates: dict[str, str], record: list[dict[str, Any]]) -> dict:
    body = hook_request("patient-view", prefetch_for(record, templates))
    response = client.post(PATIENT_VIEW, json=body)
    assert response.status_code == 200, response.text
    cards = [c for c in response.json()["cards"] if c["source"].get("topic", {}).get("code")]
    return next(c for c in cards if c["source"]["topic"]["code"] == "cvt_acute")


def test_gcs_falling_from_14_to_8_on_enoxaparin_offers_endovascular_therapy(
    client: TestClient, templates: dict[str, str]
) -> None:
    card = _cvt_card(client, templates, _deteriorating_cvt(14, 8))
    detail = card["detail"]
    thrombectomy = next(line for line in detail.splitlines() if "CVT-EVT-DETERIORATION-MT" in line)
    assert "**consider (provisional): mechanical thrombectomy**" in thrombectomy
    assert "emergency" in thrombectomy
    assert "*Check before acting:*" in thrombectomy
    assert "on therapeutic anticoagulation" in thrombectomy  # the dose is not in the order
    assert "herniation" in thrombectomy  # no imaging report says there is none
    assert "Siddiqui" in thrombectomy or "SIDDIQUI" in thrombectomy or "185" in thrombectomy
    assert "CVT-EVT-DETERIORATION-CDT" in detail
    assert card["indicator"] == "critical"


def test_a_steady_gcs_gives_no_endovascular_option(
    client: TestClient, templates: dict[str, str]
) -> None:
    card = _cvt_card(client, templates, _deteriorating_cvt(14, 14))
    assert "CVT-EVT-DETERIORATION-MT" not in card["detail"]
