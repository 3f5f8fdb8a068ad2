"""CDS Hooks end to end: thrombus propagation shown by a later imaging report (issue 14 part 5).

Source of the advice: AHA-2011-VTE, Class IIa (LOE C): CDT or PCDT is reasonable for
iliofemoral DVT with rapid thrombus extension despite anticoagulation
(DVT-IFDVT-ESCALATION-CDT/-PMT), not routine systemic fibrinolysis (Class III, LOE A); Class I:
transfer to a centre with endovascular expertise (DVT-IFDVT-TRANSFER). The prefetch asks for
final DiagnosticReports by their coded conclusion because these rules read propagation.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_services import PATIENT_VIEW, hook_request

from fhir_fixtures import (
    ICD10,
    NOW,
    SNOMED,
    condition,
    diagnostic_report,
    medication_request,
    observation,
    patient,
)
from venapath.cdshooks.prefetch import prefetch_answers, templates_for
from venapath.fhir.requirements import Feed, feed_for_pointers
from venapath.kb.model import KnowledgeBase
from venapath.kb.value_sets import Code, CodeSystem

ENOXAPARIN = ("854235", "0.4 ML enoxaparin sodium 100 MG/ML Prefilled Syringe")
LEFT_ILIAC = ("I82.422", "Acute embolism and thrombosis of left iliac vein")
LEFT_FEMORAL_SCT = (SNOMED, "285391000119101", "Acute deep venous thrombosis of left femoral vein")


@pytest.fixture(scope="module")
def templates(client: TestClient) -> dict[str, str]:
    return dict(client.get("/cds-services").json()["services"][0]["prefetch"])


def _before_the_call(hours: float) -> float:
    """`hours` before the hook is called, counted from the fixtures' NOW: the service reads
    the chart at the real time, and the 21-day limit on catheter therapy must see a
    five-day-old DVT."""
    return hours - (datetime.now(UTC) - NOW).total_seconds() / 3600


def _iliac_dvt_with_ultrasound(status: str) -> list[dict[str, Any]]:
    """Left iliac DVT five days ago on enoxaparin; a duplex ultrasound 20 h ago concludes
    acute DVT of the left femoral vein (the report's status as given)."""
    return [
        patient(birth="1975-03-09"),
        condition("iliac", ICD10, *LEFT_ILIAC, onset_hours_ago=_before_the_call(120)),
        medication_request("enox", *ENOXAPARIN, hours_ago=_before_the_call(110)),
        diagnostic_report(
            "us-day-5",
            [LEFT_FEMORAL_SCT],
            status=status,
            imaged_hours_ago=_before_the_call(20),
            issued_hours_ago=_before_the_call(18),
        ),
        observation("plt", "777-3", "Platelets", 230, "10*3/uL", hours_ago=_before_the_call(3)),
    ]


def _leg_card(client: TestClient, templates: dict[str, str], record: list[dict[str, Any]]) -> dict:
    body = hook_request("patient-view", prefetch_answers(record, templates))
    response = client.post(PATIENT_VIEW, json=body)
    assert response.status_code == 200, response.text
    cards = [c for c in response.json()["cards"] if c["source"].get("topic", {}).get("code")]
    return next(c for c in cards if c["source"]["topic"]["code"] == "leg_dvt")


def test_a_final_ultrasound_in_the_prefetch_showing_extension_offers_escalation(
    client: TestClient, templates: dict[str, str]
) -> None:
    """The report alone shows the extension (no later Condition): the card offers catheter
    therapy as "consider", says not routine systemic fibrinolysis, and offers transfer."""
    assert "diagnosticReports" in templates
    card = _leg_card(client, templates, _iliac_dvt_with_ultrasound("final"))
    detail = card["detail"]
    escalation = next(line for line in detail.splitlines() if "DVT-IFDVT-ESCALATION-CDT" in line)
    assert "consider" in escalation
    assert "catheter directed thrombolysis" in escalation
    assert "Class III" in escalation
    assert "DVT-IFDVT-ESCALATION-PMT" in detail
    assert "DVT-IFDVT-TRANSFER" in detail


def test_a_preliminary_ultrasound_in_the_prefetch_is_not_read(
    client: TestClient, templates: dict[str, str]
) -> None:
    card = _leg_card(client, templates, _iliac_dvt_with_ultrasound("preliminary"))
    assert "DVT-IFDVT-ESCALATION-CDT" not in card["detail"]


def test_the_prefetch_asks_for_final_reports_by_their_coded_conclusion(
    templates: dict[str, str],
) -> None:
    query = templates["diagnosticReports"]
    path, _, parameters = query.partition("?")
    assert path == "DiagnosticReport"
    fields = dict(part.split("=", 1) for part in parameters.split("&"))
    assert fields["patient"] == "{{context.patientId}}"
    assert fields["status"] == "amended,corrected,final"
    codes = set(fields["conclusion"].split(","))
    assert {"285391000119101", "I82.412", "I82412", "I67.6", "I676"} <= codes
    assert not any("|" in code for code in codes)  # any system: never fewer than are read
    assert "I82.512" not in codes  # chronic thrombosis is not read from reports


def test_reports_are_asked_for_only_by_the_facts_they_settle(kb: KnowledgeBase) -> None:
    """Reports feed the thrombus course only: a rule reading the diagnoses alone does not
    make the prefetch ask for them."""
    assert "DiagnosticReport" in feed_for_pointers(kb, {"/course/thrombus_propagation"}).codes
    extension = feed_for_pointers(kb, {"/imaging/distal_thrombus_extension"})
    assert extension.resource_types == ["Condition", "DiagnosticReport"]
    assert "DiagnosticReport" not in feed_for_pointers(kb, {"/diagnoses"}).codes


def test_a_prefix_code_drops_the_conclusion_filter_rather_than_hide_a_report() -> None:
    feed = Feed()
    feed.add(
        "DiagnosticReport",
        (
            Code(system=CodeSystem.ICD10CM, code="I82.4", display="family", match="prefix"),
            Code(system=CodeSystem.SNOMED, code="285391000119101", display="left femoral"),
        ),
    )
    query = templates_for(feed)["diagnosticReports"]
    assert query == (
        "DiagnosticReport?patient={{context.patientId}}&status=amended,corrected,final"
    )
