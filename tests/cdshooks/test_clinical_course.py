"""CDS Hooks end to end: the clinical course read from the chart (issue 14, part 5).

Source of the advice: AHA 2024 CVT scientific statement (endovascular therapy for
deterioration despite maximal medical therapy) and Siddiqui 2015 (185 thrombectomy cases);
rules CVT-EVT-DETERIORATION-MT and -CDT, whose safety facts (therapeutic dose, herniation)
are checked with `provided`: unknown leaves the option on the card, provisional, naming them.
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
    medication_administration,
    medication_request,
    observation,
    patient,
    searchset,
)
from venapath.cdshooks.hooks import _names_a_code
from venapath.cdshooks.prefetch import prefetch_answers
from venapath.fhir.requirements import feed_for_pointers
from venapath.fhir.to_case import (
    HISTORY_FIELDS,
    HISTORY_ON_HEPARIN_FIELDS,
    heparin_codes,
    history_codes,
)
from venapath.kb.model import KnowledgeBase

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
    body = hook_request("patient-view", prefetch_answers(record, templates))
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
    assert "**consider (provisional): cerebral venous thrombectomy**" in thrombectomy
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


def _platelets_falling_on_enoxaparin(now: float) -> list[dict[str, Any]]:
    """CVT, enoxaparin for a week; platelets 240 the day it started, `now` today."""
    record = [r for r in _deteriorating_cvt(14, 14) if r["id"] != "plt"]
    return [
        *record,
        observation("plt-0", "777-3", "Platelets", 240, "10*3/uL", hours_ago=95),
        observation("plt-1", "777-3", "Platelets", now, "10*3/uL", hours_ago=3),
    ]


def test_a_platelet_fall_on_enoxaparin_in_the_prefetch_raises_the_hit_alert(
    client: TestClient, templates: dict[str, str]
) -> None:
    """Source: ASH-EDU-2017-HIT-DIAGNOSIS (consider HIT whenever a patient on heparin has a
    significant platelet fall; 4Ts typical fall > 50%), SIEGLER-2021-VITT and CDC-2021-VITT
    (no heparin until HIT testing is negative); alert CVT-THROMBOCYTOPENIA-VITT-HIT. The
    newest count (110) is above 100: only the course shows it, so the prefetch keeps the
    platelet history, as it keeps the GCS history."""
    body = hook_request(
        "patient-view", prefetch_answers(_platelets_falling_on_enoxaparin(110), templates)
    )
    response = client.post(PATIENT_VIEW, json=body)
    assert response.status_code == 200, response.text
    assert "CVT-THROMBOCYTOPENIA-VITT-HIT" in response.text

    steady = prefetch_answers(_platelets_falling_on_enoxaparin(200), templates)
    response = client.post(PATIENT_VIEW, json=hook_request("patient-view", steady))
    assert response.status_code == 200, response.text
    assert "CVT-THROMBOCYTOPENIA-VITT-HIT" not in response.text


def test_the_prefetch_asks_for_platelet_counts_within_its_bounded_observation_query(
    templates: dict[str, str],
) -> None:
    """The platelet course needs no new query: the Observation key already names the platelet
    codes and stays bounded (`_count`), so the cold path fetches what it did before."""
    query = templates["observations"]
    assert "http://loinc.org|777-3" in query
    assert "_count=200" in query
    assert set(templates) <= {
        "patient",
        "conditions",
        "observations",
        "medicationRequests",
        "medicationStatements",
        "medicationAdministrations",
        "procedures",
        "allergies",
        "diagnosticReports",  # for thrombus propagation (test_imaging_reports.py)
    }


def test_platelet_history_is_kept_only_when_a_medication_answer_names_a_heparin(
    kb: KnowledgeBase,
) -> None:
    """The cold path validates older platelet counts only for a chart with a heparin order
    (the only case whose answer they change); GCS history is always kept."""
    always = history_codes(kb.value_sets, HISTORY_FIELDS)
    on_heparin = history_codes(kb.value_sets, HISTORY_ON_HEPARIN_FIELDS)
    assert ("http://loinc.org", "777-3") in on_heparin - always
    assert ("http://loinc.org", "9269-2") in always
    heparins = heparin_codes(kb.value_sets)
    enoxaparin = searchset(medication_request("e", *ENOXAPARIN))
    metformin = searchset(medication_request("m", "860975", "metformin 500 MG Oral Tablet"))
    assert _names_a_code(enoxaparin, heparins)
    assert not _names_a_code(metformin, heparins)


def test_a_seizure_after_enoxaparin_started_offers_endovascular_therapy(
    client: TestClient, templates: dict[str, str]
) -> None:
    """Source: AHA 2024 CVT statement and Siddiqui 2015 (CVT-EVT-DETERIORATION-MT): new
    seizures despite anticoagulation are neurological deterioration. The GCS is steady
    here; only the seizure Condition, dated after the enoxaparin order, shows it."""
    seizure = condition("seiz", ICD10, "R56.9", "Unspecified convulsions", onset_hours_ago=5)
    card = _cvt_card(client, templates, [*_deteriorating_cvt(14, 14), seizure])
    assert "CVT-EVT-DETERIORATION-MT" in card["detail"]

    before = condition("seiz", ICD10, "R56.9", "Unspecified convulsions", onset_hours_ago=95)
    card = _cvt_card(client, templates, [*_deteriorating_cvt(14, 14), before])
    assert "CVT-EVT-DETERIORATION-MT" not in card["detail"]


HEPARIN_BAG = ("1658717", "250 ML heparin sodium, porcine 100 UNT/ML Injection")


def test_the_prefetch_asks_for_administrations_because_the_rules_read_therapeutic_dose(
    kb: KnowledgeBase, templates: dict[str, str]
) -> None:
    """MedicationAdministration feeds only the anticoagulation fields (start, agent, dose);
    it is asked for because CVT-EVT-DETERIORATION-MT/-CDT read on_therapeutic_anticoagulation,
    and not for facts that administrations cannot settle."""
    assert templates["medicationAdministrations"] == (
        "MedicationAdministration?patient={{context.patientId}}"
    )
    assert (
        "MedicationAdministration"
        in feed_for_pointers(kb, {"/treatment/anticoagulation/therapeutic"}).resource_types
    )
    for pointer in ("/labs/platelets", "/treatment/antiplatelet_or_nsaid"):
        assert "MedicationAdministration" not in feed_for_pointers(kb, {pointer}).resource_types


def test_a_full_dose_heparin_infusion_in_the_prefetch_checks_the_therapeutic_dose(
    client: TestClient, templates: dict[str, str]
) -> None:
    """Source: HEPARIN-USPI (full-dose continuous infusion 20,000-40,000 U/24 h). The same
    GCS fall as above, on a running 1,250 U/h heparin infusion instead of an undosed order:
    the card no longer asks to check the therapeutic dose (herniation is still unknown)."""
    record = [r for r in _deteriorating_cvt(14, 8) if r["id"] != "enox"]
    record.append(
        medication_administration(
            "ufh", *HEPARIN_BAG, hours_ago=90, status="in-progress", units_per_hour=1250
        )
    )
    card = _cvt_card(client, templates, record)
    thrombectomy = next(
        line for line in card["detail"].splitlines() if "CVT-EVT-DETERIORATION-MT" in line
    )
    assert "herniation" in thrombectomy
    assert "on therapeutic anticoagulation" not in thrombectomy


LEFT_FEMORAL = ("I82.412", "Acute embolism and thrombosis of left femoral vein")
LEFT_ILIAC = ("I82.422", "Acute embolism and thrombosis of left iliac vein")


def _before_the_call(hours: float) -> float:
    """`hours` before the hook is called, as the fixtures count (from their fixed NOW): the
    service reads the chart at the real time, and the 21-day limit on catheter therapy
    (CI-AHA-CHRONIC-21D) must see a five-day-old DVT."""
    return hours - (datetime.now(UTC) - NOW).total_seconds() / 3600


def _femoral_dvt_extending(iliac_onset_hours_ago: float) -> list[dict[str, Any]]:
    """Left femoral DVT five days ago on enoxaparin; a left iliac DVT charted later."""
    return [
        patient(birth="1975-03-09"),
        condition("dvt", ICD10, *LEFT_FEMORAL, onset_hours_ago=_before_the_call(120)),
        medication_request("enox", *ENOXAPARIN, hours_ago=_before_the_call(110)),
        condition(
            "iliac", ICD10, *LEFT_ILIAC, onset_hours_ago=_before_the_call(iliac_onset_hours_ago)
        ),
        observation("plt", "777-3", "Platelets", 230, "10*3/uL", hours_ago=_before_the_call(3)),
    ]


def _card_for(client: TestClient, templates: dict[str, str], record: list, topic: str) -> dict:
    body = hook_request("patient-view", prefetch_answers(record, templates))
    response = client.post(PATIENT_VIEW, json=body)
    assert response.status_code == 200, response.text
    cards = [c for c in response.json()["cards"] if c["source"].get("topic", {}).get("code")]
    return next(c for c in cards if c["source"]["topic"]["code"] == topic)


def test_iliac_extension_on_enoxaparin_offers_catheter_therapy_and_transfer(
    client: TestClient, templates: dict[str, str]
) -> None:
    """Source: AHA-2011-VTE, Class IIa: CDT or PCDT is reasonable for iliofemoral DVT with
    rapid thrombus extension despite anticoagulation (DVT-IFDVT-ESCALATION-CDT/-PMT), not
    routine systemic fibrinolysis (Class III); Class I: transfer to a centre with the
    expertise (DVT-IFDVT-TRANSFER). Only the later iliac Condition, whose thrombus began
    after the enoxaparin order, shows the extension."""
    card = _card_for(client, templates, _femoral_dvt_extending(20), "leg_dvt")
    detail = card["detail"]
    escalation = next(line for line in detail.splitlines() if "DVT-IFDVT-ESCALATION-CDT" in line)
    assert "consider" in escalation
    assert "catheter directed thrombolysis" in escalation
    assert "Class III" in escalation  # not routine systemic fibrinolysis
    assert "DVT-IFDVT-ESCALATION-PMT" in detail
    assert "DVT-IFDVT-TRANSFER" in detail

    before = _card_for(client, templates, _femoral_dvt_extending(115), "leg_dvt")
    assert "DVT-IFDVT-ESCALATION-CDT" not in before["detail"]


def test_cvt_reaching_the_cortical_veins_on_enoxaparin_offers_endovascular_therapy(
    client: TestClient, templates: dict[str, str]
) -> None:
    """Source: SIDDIQUI-2015 and TO-ACT-2020 (CVT-EVT-DETERIORATION-MT): endovascular
    therapy is an option for CVT propagating despite anticoagulation. The GCS is steady;
    only a cortical vein thrombosis Condition dated after the order shows the propagation."""
    cortical = condition(
        "cortical",
        SNOMED,
        "433971000124107",
        "Cerebral venous thrombosis of cortical vein with infarction",
        onset_hours_ago=12,
    )
    card = _cvt_card(client, templates, [*_deteriorating_cvt(14, 14), cortical])
    thrombectomy = next(
        line for line in card["detail"].splitlines() if "CVT-EVT-DETERIORATION-MT" in line
    )
    assert "consider" in thrombectomy
    assert "cerebral venous thrombectomy" in thrombectomy


def test_the_prefetch_asks_for_what_propagation_is_read_from(kb: KnowledgeBase) -> None:
    """Propagation is read from segment Conditions placed in time and the start of
    anticoagulation: the feed for the course field names both, derived from the value sets."""
    feed = feed_for_pointers(kb, {"/course/thrombus_propagation"})
    assert {"Condition", "MedicationRequest", "MedicationAdministration"} <= set(
        feed.resource_types
    )
    assert "Observation" not in feed.resource_types
    extension = feed_for_pointers(kb, {"/imaging/thrombus_extension_to_proximal_veins"})
    assert extension.resource_types == ["Condition", "DiagnosticReport"]
