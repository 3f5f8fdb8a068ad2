"""Behaviour that must change (issue 14 part 3), reached through a FHIR record.

Each test names its source; the per-patient vignettes are in
tests/engine/test_vignettes_behaviour.py. The clinician's judgement boxes (for example "no
risk of extension") have no FHIR resource, so the judgement alert is tested on the
per-patient path only; its other half (serial imaging never beside anticoagulation) is here.
"""

from __future__ import annotations

from fhir_fixtures import (
    ICD10,
    assess_record,
    condition,
    cvt_record,
    dvt_record,
    patient,
)
from venapath.engine.assessment import Assessment
from venapath.kb.model import KnowledgeBase

IN_FAVOUR = ("recommended", "consider")

HAEMORRHAGIC_STROKE = condition(
    "ich",
    ICD10,
    "I61.9",
    "Nontraumatic intracerebral hemorrhage, unspecified",
    onset_hours_ago=24 * 35,
)
"""A spontaneous intracerebral haemorrhage five weeks ago, still an active problem."""

LEFT_FEMORAL_DVT = condition(
    "dvt",
    ICD10,
    "I82.412",
    "Acute embolism and thrombosis of left femoral vein",
    onset_hours_ago=48,
)
LEFT_PERONEAL_DVT = condition(
    "calf",
    ICD10,
    "I82.452",
    "Acute embolism and thrombosis of left peroneal vein",
    onset_hours_ago=48,
)
BREAST_CANCER = condition(
    "ca",
    ICD10,
    "C50.911",
    "Malignant neoplasm of unspecified site of right female breast",
    onset_hours_ago=24 * 200,
)


def _contradictions(result: Assessment) -> list[tuple[str, str, str]]:
    declared = {a.id for a in result.alerts}
    found = []
    for advised in result.recommendations:
        for against in result.recommendations:
            if (
                advised.action is against.action
                and advised.strength.value in IN_FAVOUR
                and against.rule_strength.value not in IN_FAVOUR
            ):
                first, second = sorted((advised.rule_id, against.rule_id))
                if f"ENGINE-DISAGREE-{first}-{second}" not in declared:
                    found.append((advised.action.value, advised.rule_id, against.rule_id))
    return found


def test_charted_dvt_after_a_haemorrhagic_stroke_weighs_anticoagulation(kb: KnowledgeBase) -> None:
    """Source: AHA/ASA 2022 spontaneous ICH guideline (delaying UFH/LMWH 1-2 weeks "might be
    considered"; a retrievable filter as a bridge); contraindication
    CI-RECENT-ICH-ANTICOAGULATION, from an active ICD-10-CM I61.9 Condition beside a femoral
    DVT."""
    result = assess_record(kb, [*dvt_record(), HAEMORRHAGIC_STROKE])

    assert "CI-RECENT-ICH-ANTICOAGULATION" in {c.rule_id for c in result.contraindications}
    anticoagulate = next(
        r for r in result.recommendations if r.rule_id == "DVT-ANTICOAGULATION-PROXIMAL"
    )
    assert anticoagulate.strength.value == "consider"
    assert anticoagulate.capped_by == ["CI-RECENT-ICH-ANTICOAGULATION"]
    bridge = next(r for r in result.recommendations if r.rule_id == "DVT-ICH-RETRIEVABLE-FILTER")
    assert (bridge.action.value, bridge.strength.value) == ("ivc_filter", "consider")
    assert not _contradictions(result)


def test_charted_cvt_with_a_haemorrhage_keeps_anticoagulation_and_asks_its_cause(
    kb: KnowledgeBase,
) -> None:
    """Source: CHEST 2021 statement 5 (a haemorrhage caused by the CVT does not count against
    anticoagulation). The chart cannot say whether the CVT caused the I61 haemorrhage:
    anticoagulation stays "recommended", provisional, and the question is asked."""
    result = assess_record(kb, [*cvt_record(), HAEMORRHAGIC_STROKE])

    parenteral = next(
        r for r in result.recommendations if r.rule_id == "CVT-ANTICOAGULATION-PARENTERAL"
    )
    assert (parenteral.strength.value, parenteral.certainty.value) == ("recommended", "provisional")
    assert "CI-RECENT-ICH-ANTICOAGULATION" in parenteral.pending_contraindications
    asked = {n.fact for n in result.needs_data}
    assert "recent_intracranial_haemorrhage_not_from_venous_thrombosis" in asked


def test_charted_cancer_associated_calf_dvt_is_anticoagulated_not_watched(
    kb: KnowledgeBase,
) -> None:
    """Source: CHEST 2021 statements 1 and 16 (serial imaging only without risk factors for
    extension; an oral Xa inhibitor for cancer-associated thrombosis); rule
    DVT-DISTAL-SERIAL-IMAGING (checks active cancer first). Serial imaging and
    anticoagulation are never both offered."""
    result = assess_record(kb, [patient(), LEFT_PERONEAL_DVT, BREAST_CANCER])

    ids = {r.rule_id for r in result.recommendations}
    assert {"DVT-CANCER-ORAL-XA", "DVT-DURATION-CANCER"} <= ids
    assert "DVT-DISTAL-SERIAL-IMAGING" not in ids
    assert not _contradictions(result)


def test_charted_cvt_and_leg_dvt_never_contradict(kb: KnowledgeBase) -> None:
    """Source: issue 14 part 3 (action and strength never contradict across the whole
    result); CHEST 2021 statement 5 and 21 (anticoagulate both); site-level actions keep
    the sinus advice apart from the leg's."""
    result = assess_record(kb, [*cvt_record(), LEFT_FEMORAL_DVT])

    pathways = {p.id for p in result.pathways if p.status.value == "applies"}
    assert {"cvt_acute", "leg_dvt"} <= pathways
    assert not _contradictions(result)
    for recommendation in result.recommendations:
        if recommendation.pathway == "cvt_acute":
            assert recommendation.action.value not in (
                "mechanical_thrombectomy",
                "catheter_directed_thrombolysis",
                "diagnostic_imaging",
            )


def test_a_charted_dvt_asks_first_what_could_change_urgent_advice(kb: KnowledgeBase) -> None:
    """Source: issue 14 part 3 (needs-data ranked by what each fact would change): for a
    femoral DVT read from the chart, whether anticoagulation is contraindicated (it gates
    urgent, recommended anticoagulation) is asked before what decides a routine duration,
    and nothing is asked about CVT treatment."""
    result = assess_record(kb, dvt_record())
    asked = [n.fact for n in result.needs_data]

    assert asked.index("anticoagulation_contraindicated") < asked.index("provocation")
    assert "herniation" not in asked
    assert len(asked) <= 25, asked
