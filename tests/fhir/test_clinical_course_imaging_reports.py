"""The clinical course read from the chart (issue 14 part 5): propagation on a later imaging
report.

A final (or amended, corrected) DiagnosticReport whose coded conclusion names an acute venous
thrombosis is a finding record, read by the thrombus course exactly like a confirmed segment
Condition: a later report naming a vein no earlier record of the same limb (or, for CVT, the
same venous system) named, imaged after anticoagulation began, is propagation despite
anticoagulation. It is dated by when it was imaged (effectiveDateTime, else
effectivePeriod.start), never by `issued` (when the report was released). Preliminary,
cancelled and entered-in-error reports, and reports without conclusionCode, say nothing.

Sources, by the rules that read these facts:

- AHA-2011-VTE, Class IIa (LOE C): CDT or PCDT is reasonable for iliofemoral DVT with rapid
  thrombus extension despite anticoagulation (DVT-IFDVT-ESCALATION-CDT/-PMT); Class I:
  transfer to a centre with endovascular expertise (DVT-IFDVT-TRANSFER).
- CHEST-2021 guidance statement 2: anticoagulate an isolated distal DVT that extends into the
  proximal veins on serial imaging (DVT-DISTAL-EXTENDED-PROXIMALLY, strong).
- FHIR R4 DiagnosticReport: status (hl7.org/fhir/R4/valueset-diagnostic-report-status.html),
  effective[x] (the clinically relevant time of the report), issued (when this version was
  made available), conclusionCode (codes for the summary conclusion).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fhir_fixtures import (
    ICD10,
    SNOMED,
    collection,
    condition,
    diagnostic_report,
    map_record,
    medication_request,
    patient,
)
from venapath.fhir.errors import FhirInputError
from venapath.fhir.guidance import guidance_response
from venapath.fhir.parse import read_resources
from venapath.fhir.to_case import (
    PROPAGATION_FIELD,
    PROXIMAL_EXTENSION_FIELD,
    Mapped,
)
from venapath.kb.codes import Coding
from venapath.kb.model import KnowledgeBase
from venapath.kb.value_sets import Resource
from venapath.services.evaluation import assess_case

ENOXAPARIN = ("854235", "0.4 ML enoxaparin sodium 100 MG/ML Prefilled Syringe")
LEFT_ILIAC = ("I82.422", "Acute embolism and thrombosis of left iliac vein")
LEFT_TIBIAL = ("I82.442", "Acute embolism and thrombosis of left tibial vein")
LEFT_FEMORAL_SCT = (SNOMED, "285391000119101", "Acute deep venous thrombosis of left femoral vein")
RIGHT_FEMORAL_SCT = (
    SNOMED,
    "285401000119104",
    "Acute deep venous thrombosis of right femoral vein",
)
LEFT_POPLITEAL_SCT = (
    SNOMED,
    "285571000119108",
    "Acute deep venous thrombosis of popliteal vein of left leg",
)
LEFT_ILIAC_ICD = (ICD10, *LEFT_ILIAC)
CHRONIC_LEFT_FEMORAL = (ICD10, "I82.512", "Chronic embolism and thrombosis of left femoral vein")


def iliac_dvt_on_enoxaparin(report: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Left iliac DVT, thrombus from 120 h ago, enoxaparin ordered 110 h ago, and a report."""
    return [
        patient(birth="1975-03-09"),
        condition("iliac", ICD10, *LEFT_ILIAC, onset_hours_ago=120),
        medication_request("enox", *ENOXAPARIN, hours_ago=110),
        *([report] if report is not None else []),
    ]


def _propagation(mapped: Mapped) -> bool | None:
    return None if mapped.case.course is None else mapped.case.course.thrombus_propagation


def _rules(mapped: Mapped, kb: KnowledgeBase) -> dict[str, Any]:
    result = assess_case(mapped.case, kb=kb, trace=False)
    return {r.rule_id: r for r in result.recommendations}


def test_a_later_ultrasound_showing_the_femoral_vein_on_enoxaparin_offers_escalation(
    kb: KnowledgeBase,
) -> None:
    """Vignette. Iliofemoral DVT (left iliac vein) on enoxaparin; five days later a duplex
    ultrasound report concludes acute DVT of the left femoral vein: the thrombus has extended
    into a proximal vein it did not occupy despite anticoagulation. AHA-2011-VTE Class IIa
    (LOE C): CDT or PCDT is reasonable for IFDVT with rapid thrombus extension despite
    anticoagulation; not routine systemic fibrinolysis (Class III); Class I: transfer."""
    ultrasound = diagnostic_report("us-day-5", [LEFT_FEMORAL_SCT], imaged_hours_ago=20)
    mapped = map_record(kb, iliac_dvt_on_enoxaparin(ultrasound))

    assert _propagation(mapped) is True
    assert mapped.report.provenance[PROPAGATION_FIELD] == [
        "Condition/iliac",
        "DiagnosticReport/us-day-5",
        "MedicationRequest/enox",
    ]
    assert mapped.report.resources_read["DiagnosticReport"] == 1
    note = next(n for n in mapped.report.notes if "read as thrombus propagation" in n)
    assert note.startswith("DiagnosticReport/us-day-5: thrombus in femoral_vein")
    rules = _rules(mapped, kb)
    escalation = rules["DVT-IFDVT-ESCALATION-CDT"]
    assert (escalation.action, escalation.strength) == (
        "catheter_directed_thrombolysis",
        "consider",
    )
    assert "AHA-2011-VTE" in {c.id for c in escalation.citations}
    assert rules["DVT-IFDVT-ESCALATION-PMT"].strength == "consider"
    assert rules["DVT-IFDVT-TRANSFER"].strength == "recommended"


def test_a_later_report_of_iliac_thrombus_makes_a_femoral_dvt_iliofemoral(
    kb: KnowledgeBase,
) -> None:
    """Femoral DVT on enoxaparin; the follow-up ultrasound finds thrombus in the left iliac
    vein. The report's vein is a thrombosed segment, as a Condition's would be, so the case
    does not deny the iliofemoral involvement it shows: AHA-2011-VTE Class IIa escalation."""
    record = [
        patient(birth="1975-03-09"),
        condition(
            "femoral",
            ICD10,
            "I82.412",
            "Acute embolism and thrombosis of left femoral vein",
            onset_hours_ago=120,
        ),
        medication_request("enox", *ENOXAPARIN, hours_ago=110),
        diagnostic_report("us", [LEFT_ILIAC_ICD], imaged_hours_ago=20),
    ]
    mapped = map_record(kb, record)

    imaging = mapped.case.imaging
    assert imaging is not None
    segments = {
        (s.segment, s.side.value if s.side else None) for s in imaging.thrombosed_segments or ()
    }
    assert segments == {("femoral_vein", "left"), ("external_iliac_vein", "left")}
    assert mapped.report.provenance["/imaging/thrombosed_segments"] == [
        "Condition/femoral",
        "DiagnosticReport/us",
    ]
    assert [d.condition.value for d in mapped.case.diagnoses or ()] == ["leg_dvt"]
    assert _propagation(mapped) is True
    assert _rules(mapped, kb)["DVT-IFDVT-ESCALATION-CDT"].strength == "consider"


@pytest.mark.parametrize("status", ["final", "amended", "corrected"])
def test_a_verified_report_is_read_dated_by_its_period_start_too(
    kb: KnowledgeBase, status: str
) -> None:
    report = diagnostic_report("us", [LEFT_FEMORAL_SCT], status=status, period=True)
    mapped = map_record(kb, iliac_dvt_on_enoxaparin(report))

    assert _propagation(mapped) is True
    assert "DiagnosticReport/us" in mapped.report.provenance[PROPAGATION_FIELD]


@pytest.mark.parametrize(
    ("report", "why"),
    [
        (
            diagnostic_report("us", [LEFT_FEMORAL_SCT], status="preliminary"),
            "a preliminary report is not verified",
        ),
        (
            diagnostic_report("us", [LEFT_FEMORAL_SCT], status="partial"),
            "a partial report is not verified",
        ),
        (
            diagnostic_report("us", [LEFT_FEMORAL_SCT], status="registered"),
            "nothing is available yet",
        ),
        (
            diagnostic_report("us", [LEFT_FEMORAL_SCT], status="entered-in-error"),
            "entered in error",
        ),
        (diagnostic_report("us", [LEFT_FEMORAL_SCT], status="cancelled"), "cancelled"),
        (diagnostic_report("us", None), "no conclusionCode: the narrative is not read"),
        (
            diagnostic_report("us", [LEFT_FEMORAL_SCT], imaged_hours_ago=115, issued_hours_ago=20),
            "imaged before the enoxaparin order, released after it: issued does not date it",
        ),
        (diagnostic_report("us", [RIGHT_FEMORAL_SCT]), "the other leg: not this thrombus"),
        (diagnostic_report("us", [LEFT_ILIAC_ICD]), "the same vein again"),
        (diagnostic_report("us", [CHRONIC_LEFT_FEMORAL]), "chronic thrombus is not extension"),
        (
            diagnostic_report("us", [(SNOMED, "22298006", "Myocardial infarction")]),
            "a conclusion in no thrombosis value set",
        ),
        (
            diagnostic_report("us", [LEFT_FEMORAL_SCT], imaged_hours_ago=-48),
            "imaged in the future: the time is ignored",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_a_report_that_cannot_show_propagation_leaves_it_unknown(
    kb: KnowledgeBase, report: dict[str, Any], why: str
) -> None:
    mapped = map_record(kb, iliac_dvt_on_enoxaparin(report))

    assert _propagation(mapped) is None, why  # unknown, never "no propagation"
    assert PROPAGATION_FIELD not in mapped.report.provenance, why
    assert "DVT-IFDVT-ESCALATION-CDT" not in _rules(mapped, kb), why


def test_a_report_without_the_time_it_was_imaged_is_not_placed_and_says_so(
    kb: KnowledgeBase,
) -> None:
    report = diagnostic_report("us", [LEFT_FEMORAL_SCT], imaged_hours_ago=None)
    mapped = map_record(kb, iliac_dvt_on_enoxaparin(report))

    assert _propagation(mapped) is None
    assert any(
        note.startswith("DiagnosticReport/us:") and "not placed in the course" in note
        for note in mapped.report.notes
    )


def test_a_report_imaged_in_the_future_is_reported_once(kb: KnowledgeBase) -> None:
    report = diagnostic_report("us", [LEFT_FEMORAL_SCT], imaged_hours_ago=-48)
    mapped = map_record(kb, iliac_dvt_on_enoxaparin(report))

    about_it = [note for note in mapped.report.notes if note.startswith("DiagnosticReport/us:")]
    assert len(about_it) == 1
    assert "is in the future; ignored" in about_it[0]


def test_a_conclusion_code_in_no_value_set_is_reported_as_unmapped(kb: KnowledgeBase) -> None:
    report = diagnostic_report("us", [(SNOMED, "22298006", "Myocardial infarction")])
    mapped = map_record(kb, iliac_dvt_on_enoxaparin(report))

    unmapped = [u for u in mapped.report.unmapped_codes if u.resource_type == "DiagnosticReport"]
    assert [(u.system, u.code) for u in unmapped] == [(SNOMED, "22298006")]


def test_the_diagnostic_ultrasound_as_the_earlier_record(kb: KnowledgeBase) -> None:
    """The first ultrasound (before treatment) is an earlier record too: a Condition charted
    later in another vein of that leg, whose thrombus began after the order, extends it."""
    record = [
        patient(birth="1975-03-09"),
        diagnostic_report("us-first", [LEFT_FEMORAL_SCT], imaged_hours_ago=118),
        medication_request("enox", *ENOXAPARIN, hours_ago=110),
        condition("iliac", ICD10, *LEFT_ILIAC, onset_hours_ago=20),
    ]
    mapped = map_record(kb, record)

    assert _propagation(mapped) is True
    assert mapped.report.provenance[PROPAGATION_FIELD] == [
        "DiagnosticReport/us-first",
        "Condition/iliac",
        "MedicationRequest/enox",
    ]


def test_serial_imaging_of_a_distal_dvt_reaching_the_popliteal_vein(kb: KnowledgeBase) -> None:
    """CHEST-2021 guidance statement 2 (iii): an isolated distal DVT followed with serial
    imaging that extends into the proximal veins is anticoagulated (strong). The follow-up
    ultrasound report, not a new problem-list entry, shows the extension."""
    record = [
        patient(birth="1981-10-21"),
        condition("calf", ICD10, *LEFT_TIBIAL, onset_hours_ago=200),
        diagnostic_report("us-week-1", [LEFT_POPLITEAL_SCT], imaged_hours_ago=30),
    ]
    mapped = map_record(kb, record)

    imaging = mapped.case.imaging
    assert imaging is not None
    assert imaging.thrombus_extension_to_proximal_veins is True
    assert mapped.report.provenance[PROXIMAL_EXTENSION_FIELD] == [
        "Condition/calf",
        "DiagnosticReport/us-week-1",
    ]
    assert _propagation(mapped) is None  # no anticoagulation: not "despite anticoagulation"
    extended = _rules(mapped, kb)["DVT-DISTAL-EXTENDED-PROXIMALLY"]
    assert (extended.action, extended.strength) == ("anticoagulation", "recommended")


def test_report_codes_come_from_the_condition_value_sets_without_a_copy(kb: KnowledgeBase) -> None:
    """One value set answers both resource types: the same object, the same codes."""
    coding = Coding(SNOMED, "285391000119101")
    as_condition = kb.codes.lookup(Resource.CONDITION, coding)
    as_report = kb.codes.lookup(Resource.DIAGNOSTIC_REPORT, coding)
    assert [m.value_set.id for m in as_report] == ["leg-dvt-acute-femoral-snomed"]
    assert as_report[0].value_set is as_condition[0].value_set
    chronic = Coding(ICD10, "I82.512")
    assert kb.codes.lookup(Resource.CONDITION, chronic)
    assert kb.codes.lookup(Resource.DIAGNOSTIC_REPORT, chronic) == []


def test_an_invalid_report_is_refused_naming_its_place() -> None:
    """Reports are validated like the other resources read (R4B models, every problem)."""
    report = diagnostic_report("us", [LEFT_FEMORAL_SCT])
    report["effectiveDateTime"] = "the day before yesterday"
    with pytest.raises(FhirInputError) as refused:
        read_resources(collection(patient(), report))
    assert [p.location for p in refused.value.fhir_problems] == [
        "$.entry[1].resource.effectiveDateTime"
    ]


STATUSES = ["final", "amended", "corrected", "preliminary", "entered-in-error", "cancelled"]
CONCLUSIONS = [LEFT_FEMORAL_SCT, RIGHT_FEMORAL_SCT, LEFT_POPLITEAL_SCT, LEFT_ILIAC_ICD]


@settings(deadline=None)
@given(
    reports=st.lists(
        st.tuples(
            st.sampled_from(STATUSES),
            st.one_of(st.none(), st.lists(st.sampled_from(CONCLUSIONS), max_size=2)),
            st.one_of(st.none(), st.floats(min_value=-24, max_value=400)),
        ),
        max_size=4,
    ),
    order_hours_ago=st.one_of(st.none(), st.floats(min_value=0, max_value=400)),
)
def test_reports_never_say_a_thrombus_did_not_spread(
    kb: KnowledgeBase,
    reports: list[tuple[str, list[tuple[str, str, str]] | None, float | None]],
    order_hours_ago: float | None,
) -> None:
    """Unknown is not false: whatever reports a chart holds, propagation is true (with a
    final report or a Condition behind it, and the order) or unknown, never false."""
    record = [
        patient(birth="1975-03-09"),
        condition("iliac", ICD10, *LEFT_ILIAC, onset_hours_ago=120),
    ]
    for index, (status, conclusion, imaged) in enumerate(reports):
        record.append(
            diagnostic_report(f"us-{index}", conclusion, status=status, imaged_hours_ago=imaged)
        )
    if order_hours_ago is not None:
        record.append(medication_request("enox", *ENOXAPARIN, hours_ago=order_hours_ago))
    mapped = map_record(kb, record)

    value = _propagation(mapped)
    assert value in (True, None)
    if value is True:
        sources = mapped.report.provenance[PROPAGATION_FIELD]
        assert "MedicationRequest/enox" in sources
        read = {f"us-{i}" for i, (status, *_) in enumerate(reports) if status in STATUSES[:3]}
        reports_behind = {s.removeprefix("DiagnosticReport/") for s in sources} & {
            f"us-{i}" for i in range(len(reports))
        }
        assert reports_behind
        assert reports_behind <= read


def test_the_guidance_response_asks_for_reports_by_their_conclusion_code(
    kb: KnowledgeBase,
) -> None:
    """Iliofemoral DVT on enoxaparin, no later record: propagation is unknown and named as
    missing; the data requirement for it names DiagnosticReport.conclusionCode."""
    mapped = map_record(kb, iliac_dvt_on_enoxaparin(None))
    assessment = assess_case(mapped.case, kb=kb, trace=False)
    assert "thrombus_propagation" in {need.fact for need in assessment.needs_data}
    data = guidance_response(assessment, kb, "p1")
    reports = [r for r in data["dataRequirement"] if r["type"] == "DiagnosticReport"]
    assert len(reports) == 1
    (code_filter,) = reports[0]["codeFilter"]
    assert code_filter["path"] == "conclusionCode"
    assert (SNOMED, "285391000119101") in {(c["system"], c["code"]) for c in code_filter["code"]}


def test_a_report_alone_is_not_a_diagnosis(kb: KnowledgeBase) -> None:
    """Without a DVT on the problem list, a report's finding adds no diagnosis and no
    thrombosed segment: it refines the extent of a known thrombosis, never creates one."""
    mapped = map_record(
        kb, [patient(birth="1975-03-09"), diagnostic_report("us", [LEFT_FEMORAL_SCT])]
    )

    assert mapped.case.diagnoses == ()
    assert mapped.case.imaging is None or not mapped.case.imaging.thrombosed_segments
    assert "/imaging/thrombosed_segments" not in mapped.report.provenance
