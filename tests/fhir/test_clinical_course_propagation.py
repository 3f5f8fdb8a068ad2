"""The clinical course read from the chart (issue 14 part 5): thrombus propagation.

A later thrombosis Condition in a vein no earlier record of the same thrombosis names, whose
onset (when the thrombus there began) falls after anticoagulation started, is thrombus
propagation despite anticoagulation; from an isolated distal DVT it is also extension on
serial imaging. Sources, by the rules that read these facts:

- AHA-2011-VTE, Class IIa: CDT or PCDT is reasonable for iliofemoral DVT with rapid thrombus
  extension despite anticoagulation (DVT-IFDVT-ESCALATION-CDT/-PMT); Class I: transfer to a
  centre with endovascular expertise (DVT-IFDVT-TRANSFER).
- CHEST-2021 guidance statement 2: anticoagulate an isolated distal DVT that extends into
  the proximal veins (strong) or within the calf veins (weak)
  (DVT-DISTAL-EXTENDED-PROXIMALLY/-DISTALLY).
- SIDDIQUI-2015 and TO-ACT-2020: endovascular therapy may be considered for CVT that
  propagates despite anticoagulation (CVT-EVT-DETERIORATION-MT/-CDT).

Nothing is read from absence: these facts are only ever true or unknown.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fhir_fixtures import (
    ICD10,
    SNOMED,
    condition,
    map_record,
    medication_request,
    patient,
)
from venapath.fhir.to_case import (
    DISTAL_EXTENSION_FIELD,
    PROPAGATION_FIELD,
    PROXIMAL_EXTENSION_FIELD,
    Mapped,
)
from venapath.kb.model import KnowledgeBase
from venapath.services.evaluation import assess_case

ENOXAPARIN = ("854235", "0.4 ML enoxaparin sodium 100 MG/ML Prefilled Syringe")
LEFT_FEMORAL = ("I82.412", "Acute embolism and thrombosis of left femoral vein")
LEFT_ILIAC = ("I82.422", "Acute embolism and thrombosis of left iliac vein")
RIGHT_ILIAC = ("I82.421", "Acute embolism and thrombosis of right iliac vein")
ILIAC_NO_SIDE = ("I82.429", "Acute embolism and thrombosis of unspecified iliac vein")
LEFT_TIBIAL = ("I82.442", "Acute embolism and thrombosis of left tibial vein")
LEFT_POPLITEAL = ("I82.432", "Acute embolism and thrombosis of left popliteal vein")
LEFT_PERONEAL = ("I82.452", "Acute embolism and thrombosis of left peroneal vein")
CORTICAL_VEIN = ("433971000124107", "Cerebral venous thrombosis of cortical vein with infarction")


def femoral_dvt_on_enoxaparin(
    later: tuple[str, str] = LEFT_ILIAC, onset_hours_ago: float | None = 20, **options: Any
) -> list[dict[str, Any]]:
    """Left femoral DVT 120 h ago, enoxaparin from 110 h ago, a later DVT Condition."""
    return [
        patient(birth="1975-03-09"),
        condition("dvt-1", ICD10, *LEFT_FEMORAL, onset_hours_ago=120),
        medication_request("enox", *ENOXAPARIN, hours_ago=110),
        condition("dvt-2", ICD10, *later, onset_hours_ago=onset_hours_ago, **options),
    ]


def _rules(mapped: Mapped, kb: KnowledgeBase) -> dict[str, Any]:
    result = assess_case(mapped.case, kb=kb, trace=False)
    return {r.rule_id: r for r in result.recommendations}


def _course_flag(mapped: Mapped) -> bool | None:
    return None if mapped.case.course is None else mapped.case.course.thrombus_propagation


def test_iliac_extension_on_enoxaparin_is_propagation_and_offers_escalation(
    kb: KnowledgeBase,
) -> None:
    """AHA-2011-VTE Class IIa (LOE C): CDT or PCDT is reasonable for iliofemoral DVT with
    thrombus extension despite anticoagulation; Class I: transfer to an expert centre."""
    mapped = map_record(kb, femoral_dvt_on_enoxaparin())

    assert _course_flag(mapped) is True
    assert mapped.report.provenance[PROPAGATION_FIELD] == [
        "Condition/dvt-1",
        "Condition/dvt-2",
        "MedicationRequest/enox",
    ]
    assert any("read as thrombus propagation" in note for note in mapped.report.notes)
    rules = _rules(mapped, kb)
    assert rules["DVT-IFDVT-ESCALATION-CDT"].strength == "consider"
    assert rules["DVT-IFDVT-ESCALATION-PMT"].strength == "consider"
    assert rules["DVT-IFDVT-TRANSFER"].strength == "recommended"
    assert "AHA-2011-VTE" in {c.id for c in rules["DVT-IFDVT-ESCALATION-CDT"].citations}


@pytest.mark.parametrize(
    ("later", "onset_hours_ago", "options", "why"),
    [
        (LEFT_ILIAC, 115, {}, "the iliac thrombus began before the enoxaparin order"),
        (LEFT_ILIAC, None, {}, "only a recorded date: it does not date the thrombus"),
        (LEFT_ILIAC, 20, {"verification": "provisional"}, "a suspected extension"),
        (RIGHT_ILIAC, 20, {}, "the other leg: a new thrombus, not this one extending"),
        (ILIAC_NO_SIDE, 20, {}, "no side: cannot be placed in the same leg"),
        (LEFT_FEMORAL, 20, {}, "the same vein again: not beyond the earlier record"),
    ],
)
def test_what_does_not_show_propagation_leaves_it_unknown(
    kb: KnowledgeBase,
    later: tuple[str, str],
    onset_hours_ago: float | None,
    options: dict[str, str],
    why: str,
) -> None:
    mapped = map_record(kb, femoral_dvt_on_enoxaparin(later, onset_hours_ago, **options))

    assert _course_flag(mapped) is None, why  # unknown, never "no propagation"
    assert PROPAGATION_FIELD not in mapped.report.provenance, why
    assert "DVT-IFDVT-ESCALATION-CDT" not in _rules(mapped, kb), why


def test_a_single_record_never_reads_as_no_propagation(kb: KnowledgeBase) -> None:
    mapped = map_record(kb, femoral_dvt_on_enoxaparin()[:3])

    assert _course_flag(mapped) is None
    imaging = mapped.case.imaging
    assert imaging is not None
    assert imaging.thrombus_extension_to_proximal_veins is None
    assert imaging.distal_thrombus_extension is None


def distal_dvt_followed(later: tuple[str, str]) -> list[dict[str, Any]]:
    """Isolated left tibial DVT 200 h ago, managed with serial imaging (no anticoagulant);
    a later Condition in another vein of the same leg, thrombus from 30 h ago."""
    return [
        patient(birth="1981-10-21"),
        condition("calf", ICD10, *LEFT_TIBIAL, onset_hours_ago=200),
        condition("later", ICD10, *later, onset_hours_ago=30),
    ]


def test_a_distal_dvt_reaching_the_popliteal_vein_is_proximal_extension(
    kb: KnowledgeBase,
) -> None:
    """CHEST-2021 guidance statement 2 (iii): recommend anticoagulation if the thrombus
    extends into the proximal veins (strong, moderate certainty)."""
    mapped = map_record(kb, distal_dvt_followed(LEFT_POPLITEAL))

    imaging = mapped.case.imaging
    assert imaging is not None
    assert imaging.thrombus_extension_to_proximal_veins is True
    assert imaging.distal_thrombus_extension is None
    assert mapped.report.provenance[PROXIMAL_EXTENSION_FIELD] == [
        "Condition/calf",
        "Condition/later",
    ]
    assert _course_flag(mapped) is None  # no anticoagulation: not "despite anticoagulation"
    rules = _rules(mapped, kb)
    extended = rules["DVT-DISTAL-EXTENDED-PROXIMALLY"]
    assert (extended.action, extended.strength) == ("anticoagulation", "recommended")
    assert "CHEST-2021" in {c.id for c in extended.citations}
    assert "DVT-DISTAL-NO-EXTENSION" not in rules


def test_a_distal_dvt_reaching_another_calf_vein_is_distal_extension(kb: KnowledgeBase) -> None:
    """CHEST-2021 guidance statement 2 (ii): suggest anticoagulation if the thrombus extends
    but stays in the distal veins (weak). Whether it also reached the proximal veins is not
    in the chart, so the rule names that fact instead of assuming it."""
    mapped = map_record(kb, distal_dvt_followed(LEFT_PERONEAL))

    imaging = mapped.case.imaging
    assert imaging is not None
    assert imaging.distal_thrombus_extension is True
    assert imaging.thrombus_extension_to_proximal_veins is None
    assert mapped.report.provenance[DISTAL_EXTENSION_FIELD] == [
        "Condition/calf",
        "Condition/later",
    ]
    result = assess_case(mapped.case, kb=kb, trace=False)
    assert "DVT-DISTAL-NO-EXTENSION" not in {r.rule_id for r in result.recommendations}
    waiting = {rule for need in result.needs_data for rule in need.rules}
    needed = {need.fact for need in result.needs_data}
    assert "DVT-DISTAL-EXTENDED-DISTALLY" in waiting
    assert "thrombus_extension_to_proximal_veins" in needed


def test_from_a_proximal_dvt_a_new_vein_is_not_distal_extension(kb: KnowledgeBase) -> None:
    mapped = map_record(kb, femoral_dvt_on_enoxaparin(LEFT_POPLITEAL))

    assert _course_flag(mapped) is True
    imaging = mapped.case.imaging
    assert imaging is not None
    assert imaging.thrombus_extension_to_proximal_veins is None


def cvt_on_enoxaparin(cortical_onset_hours_ago: float) -> list[dict[str, Any]]:
    """CVT 100 h ago, enoxaparin from 90 h ago, cortical vein thrombosis charted later."""
    return [
        patient(birth="1990-01-15"),
        condition(
            "cvt",
            ICD10,
            "I67.6",
            "Nonpyogenic thrombosis of intracranial venous system",
            onset_hours_ago=100,
        ),
        medication_request("enox", *ENOXAPARIN, hours_ago=90),
        condition("cortical", SNOMED, *CORTICAL_VEIN, onset_hours_ago=cortical_onset_hours_ago),
    ]


def test_cvt_reaching_the_cortical_veins_on_enoxaparin_keeps_the_endovascular_option(
    kb: KnowledgeBase,
) -> None:
    """SIDDIQUI-2015 (185 cases: 12% died, 10% new or larger haemorrhage) and TO-ACT-2020:
    endovascular therapy is an option, "consider", for CVT propagating despite
    anticoagulation (CVT-EVT-DETERIORATION-MT/-CDT); the dose and herniation are checked."""
    mapped = map_record(kb, cvt_on_enoxaparin(cortical_onset_hours_ago=12))

    assert _course_flag(mapped) is True
    assert mapped.report.provenance[PROPAGATION_FIELD] == [
        "Condition/cvt",
        "Condition/cortical",
        "MedicationRequest/enox",
    ]
    rules = _rules(mapped, kb)
    thrombectomy = rules["CVT-EVT-DETERIORATION-MT"]
    assert (thrombectomy.strength, thrombectomy.urgency) == ("consider", "emergency")
    assert "SIDDIQUI-2015" in {c.id for c in thrombectomy.citations}
    assert "harms" in thrombectomy.detail
    assert "CVT-EVT-NOT-ROUTINE-MT" not in rules


def test_cortical_thrombosis_before_treatment_is_the_presenting_extent(
    kb: KnowledgeBase,
) -> None:
    mapped = map_record(kb, cvt_on_enoxaparin(cortical_onset_hours_ago=95))

    assert _course_flag(mapped) is None
    assert "CVT-EVT-DETERIORATION-MT" not in _rules(mapped, kb)


VEINS = [
    LEFT_FEMORAL,
    LEFT_ILIAC,
    RIGHT_ILIAC,
    ILIAC_NO_SIDE,
    LEFT_TIBIAL,
    LEFT_POPLITEAL,
    LEFT_PERONEAL,
    (
        "I82.409",
        "Acute embolism and thrombosis of unspecified deep veins of unspecified lower extremity",
    ),
]
VERIFICATIONS = ["confirmed", "provisional", "refuted", "entered-in-error"]


@settings(deadline=None)
@given(
    conditions=st.lists(
        st.tuples(
            st.sampled_from(VEINS),
            st.one_of(st.none(), st.floats(min_value=-24, max_value=400)),
            st.sampled_from(VERIFICATIONS),
        ),
        min_size=1,
        max_size=5,
    ),
    order_hours_ago=st.one_of(st.none(), st.floats(min_value=0, max_value=400)),
)
def test_the_chart_never_says_a_thrombus_did_not_spread(
    kb: KnowledgeBase,
    conditions: list[tuple[tuple[str, str], float | None, str]],
    order_hours_ago: float | None,
) -> None:
    """Unknown is not false: whatever Conditions and order a chart holds, propagation and
    extension are true (with at least two records behind them) or unknown, never false."""
    record = [patient(birth="1975-03-09")]
    for index, (vein, onset, verification) in enumerate(conditions):
        record.append(
            condition(
                f"dvt-{index}",
                ICD10,
                *vein,
                onset_hours_ago=onset,
                verification=verification,
            )
        )
    if order_hours_ago is not None:
        record.append(medication_request("enox", *ENOXAPARIN, hours_ago=order_hours_ago))
    mapped = map_record(kb, record)

    course, imaging = mapped.case.course, mapped.case.imaging
    values = {
        PROPAGATION_FIELD: None if course is None else course.thrombus_propagation,
        PROXIMAL_EXTENSION_FIELD: (
            None if imaging is None else imaging.thrombus_extension_to_proximal_veins
        ),
        DISTAL_EXTENSION_FIELD: None if imaging is None else imaging.distal_thrombus_extension,
    }
    for pointer, value in values.items():
        assert value in (True, None), pointer
        if value is True:
            sources = mapped.report.provenance[pointer]
            assert len({s for s in sources if s.startswith("Condition/")}) >= 2, pointer
    if order_hours_ago is None:
        assert values[PROPAGATION_FIELD] is None  # never "despite anticoagulation" without it
