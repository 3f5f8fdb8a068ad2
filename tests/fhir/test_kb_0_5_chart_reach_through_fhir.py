"""Knowledge base 0.5.0 items whose deciding facts a chart does not hold, through FHIR.

Each per-patient vignette (tests/engine/test_vignettes_kb_0_5.py,
test_vignettes_kb_0_5_sources.py) is settled by a fact that clinicians state and no chart
code states: the provocation of a DVT, whether the patient walks, the absence of an
antiphospholipid syndrome, herniation on a scan, the symptom course after a venoplasty.
Through FHIR these facts stay unknown: the rule that needs them is not fired on a guess,
the facts are asked for (naming the rule), and what the chart does settle is still given.
Each test names its source and the rule of the per-patient vignette.
"""

from __future__ import annotations

from typing import Any

from fhir_fixtures import (
    ICD10,
    assess_record,
    at,
    condition,
    cvt_record,
    dvt_record,
    map_record,
    observation,
    patient,
)
from venapath.engine.assessment import Assessment
from venapath.kb.model import KnowledgeBase
from venapath.services.evaluation import assess_case

IN_FAVOUR = ("recommended", "consider")
PCS = "http://www.cms.gov/Medicare/Coding/ICD10"


def _fired(result: Assessment) -> set[str]:
    return {r.rule_id for r in result.recommendations}


def _asked_for(result: Assessment, fact: str) -> list[str]:
    """The rules that wait on `fact` (empty when it is not asked)."""
    return next((need.rules for need in result.needs_data if need.fact == fact), [])


def _left_jugular_venoplasty(days_ago: float) -> dict[str, Any]:
    """A completed venoplasty (ICD-10-PCS 057N3ZZ, in value set venoplasty-icd10pcs)."""
    return {
        "resourceType": "Procedure",
        "id": "veno",
        "status": "completed",
        "code": {
            "coding": [
                {
                    "system": PCS,
                    "code": "057N3ZZ",
                    "display": "Dilation of Left Internal Jugular Vein, Percutaneous Approach",
                }
            ]
        },
        "subject": {"reference": "Patient/p1"},
        "performedDateTime": at(24 * days_ago),
    }


# ------------------------------------------------ CHEST 2021 statements 21, 22, 24, 26


def test_a_charted_proximal_dvt_gets_no_guessed_duration_and_is_asked_its_provocation(
    kb: KnowledgeBase,
) -> None:
    """Source: CHEST 2021 guidance statements 21 (3-month treatment phase, strong), 22 (no
    extended phase after a major transient risk factor, strong), 24 and 26 (offer extended
    phase, reduced-dose DOAC, after unprovoked VTE); rules DVT-ANTICOAGULATION-PROXIMAL,
    DVT-DURATION-PROVOKED, DVT-DURATION-UNPROVOKED.

    CHEST defines provocation by the circumstances of onset (surgery under general
    anaesthesia over 30 minutes, bed-bound in hospital 3 days or more, caesarean section in
    the 3 months before; persistent factors such as active cancer), which a DVT code does
    not state. The chart's femoral DVT (I82.412) gets the treatment phase; neither
    extended-phase answer is given on a guess, and the provocation is asked for, naming
    both duration rules."""
    result = assess_record(kb, dvt_record())

    proximal = next(
        r for r in result.recommendations if r.rule_id == "DVT-ANTICOAGULATION-PROXIMAL"
    )
    assert proximal.strength == "recommended"
    assert "Guidance statement 21" in {c.locator for c in proximal.citations}
    assert not {"DVT-DURATION-PROVOKED", "DVT-DURATION-UNPROVOKED"} & _fired(result)
    assert "DVT-DURATION-UNPROVOKED" in _asked_for(result, "provocation")
    assert "DVT-DURATION-PROVOKED" in _asked_for(result, "provoked_by_transient_factor")


def test_a_puerperal_dvt_is_not_read_as_provoked_by_a_major_transient_factor(
    kb: KnowledgeBase,
) -> None:
    """Source: CHEST 2021 classes pregnancy and the puerperium as a minor transient risk
    factor (weak recommendation against an extended phase, statement 23), not a major one
    (statement 22, strong, which DVT-DURATION-PROVOKED cites); read at the risk-factor
    table of the Cleveland Clinic Journal of Medicine review, "based on" CHEST 2021.
    ICD-10-CM O87.1 (deep phlebothrombosis in the puerperium, CMS tabular April 2026)
    beside the femoral DVT therefore sets no provocation, and statement 22 is not stated
    for this patient."""
    puerperal = condition(
        "pp", ICD10, "O87.1", "Deep phlebothrombosis in the puerperium", onset_hours_ago=48
    )
    mapped = map_record(kb, [*dvt_record(), puerperal])
    result = assess_case(mapped.case, kb=kb, trace=False)

    risk_factors = mapped.case.risk_factors
    assert risk_factors is None or risk_factors.provocation is None
    assert "DVT-DURATION-PROVOKED" not in _fired(result)
    assert "DVT-DURATION-PROVOKED" in _asked_for(result, "provoked_by_transient_factor")


# ---------------------------------------------------------- CaVenT and CAVA (CDT)


def test_a_charted_iliac_dvt_is_asked_what_decides_catheter_thrombolysis(
    kb: KnowledgeBase,
) -> None:
    """Source: CaVenT (Haig et al. 2016) and CAVA (2020) in the rationale of
    DVT-ETR-CANDIDATE-CDT, CAVA beside ATTRACT in DVT-ANTICOAGULATION-ALONE-CDT; AHA 2011
    and CHEST 2021 statement 6 select the candidate (iliofemoral, under 14 days, ambulatory,
    life expectancy over a year, not limb-threatening).

    An acute left iliac DVT charted two days ago (I82.422) is iliofemoral and recent, but
    whether the patient walks, will live a year or has a threatened leg is not in the
    chart. Neither the candidate nor the "anticoagulation alone over CDT" answer is given
    on a guess, catheter thrombolysis is not offered, and those facts are asked for, naming
    both rules."""
    iliac = condition(
        "dvt",
        ICD10,
        "I82.422",
        "Acute embolism and thrombosis of left iliac vein",
        onset_hours_ago=48,
    )
    result = assess_record(kb, [patient(), iliac])

    fired = _fired(result)
    assert not {"DVT-ETR-CANDIDATE-CDT", "DVT-ANTICOAGULATION-ALONE-CDT"} & fired
    assert "DVT-ANTICOAGULATION-PROXIMAL" in fired
    assert not [
        r
        for r in result.recommendations
        if r.action.value == "catheter_directed_thrombolysis" and r.strength.value in IN_FAVOUR
    ]
    assert "DVT-ETR-CANDIDATE-CDT" in _asked_for(result, "ambulatory")
    assert "DVT-ETR-CANDIDATE-CDT" in _asked_for(result, "life_expectancy_over_1_year")
    limb = _asked_for(result, "limb_threatening_dvt")
    assert {"DVT-ETR-CANDIDATE-CDT", "DVT-ANTICOAGULATION-ALONE-CDT"} <= set(limb)
    assert _asked_for(result, "iliofemoral_involved") == []


# ----------------------------------------------------------- ACTION-CVT (DOAC rule)


def test_a_charted_cvt_waits_for_the_antiphospholipid_question_before_a_doac(
    kb: KnowledgeBase,
) -> None:
    """Source: ACTION-CVT (Yaghi et al., Stroke 2022) and RE-SPECT CVT behind
    CVT-DOAC-AFTER-LEAD-IN; CHEST 2021 statement 17 (VKA over DOAC in antiphospholipid
    syndrome); ESO 2017 and RE-SPECT CVT behind CVT-NO-DOAC-FIRST.

    A man's charted CVT (I67.6): the absence of an antiphospholipid-syndrome Condition does
    not say he has none, so the DOAC-after-lead-in rule is not fired; the question is asked
    naming it (and CVT-APS-VKA), while parenteral anticoagulation first and "no DOAC first"
    stand. The per-patient vignette, with APS stated absent, shows ACTION-CVT cited."""
    man = [r for r in cvt_record() if r["resourceType"] != "Patient"]
    man.append(patient(gender="male", birth="1980-01-01"))
    result = assess_record(kb, man)

    fired = _fired(result)
    assert "CVT-DOAC-AFTER-LEAD-IN" not in fired
    assert {"CVT-ANTICOAGULATION-PARENTERAL", "CVT-NO-DOAC-FIRST"} <= fired
    asked = _asked_for(result, "antiphospholipid_syndrome")
    assert {"CVT-DOAC-AFTER-LEAD-IN", "CVT-APS-VKA"} <= set(asked)
    assert "CVT-DOAC-AFTER-LEAD-IN" not in _asked_for(result, "pregnant_or_breastfeeding")


# ------------------------------------------------------- DECOMPRESS2 (mass effect)


def test_a_deteriorating_charted_cvt_asks_for_herniation_and_mass_effect(
    kb: KnowledgeBase,
) -> None:
    """Source: DECOMPRESS2 (Aaron et al., Stroke 2024) with ESO 2017 behind
    CVT-DECOMPRESSIVE-SURGERY (herniation) and CVT-MASS-EFFECT-NEUROSURGERY (mass effect
    with deterioration, no herniation).

    The chart shows the fall (GCS 14 then 8 on two Observations) but not the scan's
    herniation or mass effect. ICD-10-CM G93.5 "Compression of brain" is not read as either:
    the CMS tabular (April 2026) includes Arnold-Chiari type 1 compression under it, which
    is neither a mass lesion nor herniation from one; G93.6 "Cerebral edema" names oedema,
    not its mass effect. Both rules wait, both facts are asked for, and the endovascular
    options stay open (consider, provisional) naming herniation as a fact to check."""
    record = [r for r in cvt_record() if r["resourceType"] != "Observation"]
    record += [
        observation("gcs-1", "9269-2", "Glasgow coma score total", 14, "{score}", hours_ago=50),
        observation("gcs-2", "9269-2", "Glasgow coma score total", 8, "{score}", hours_ago=2),
        observation("plt", "777-3", "Platelets", 210, "10*3/uL"),
        condition("cmp", ICD10, "G93.5", "Compression of brain", onset_hours_ago=3),
    ]
    mapped = map_record(kb, record)
    result = assess_case(mapped.case, kb=kb, trace=False)

    imaging = mapped.case.imaging
    assert imaging is None or (imaging.herniation is None and imaging.mass_effect is None)
    fired = _fired(result)
    assert not {"CVT-DECOMPRESSIVE-SURGERY", "CVT-MASS-EFFECT-NEUROSURGERY"} & fired
    assert "CVT-DECOMPRESSIVE-SURGERY" in _asked_for(result, "herniation")
    assert "CVT-MASS-EFFECT-NEUROSURGERY" in _asked_for(result, "mass_effect")
    thrombectomy = next(
        r for r in result.recommendations if r.rule_id == "CVT-EVT-DETERIORATION-MT"
    )
    assert (thrombectomy.strength, thrombectomy.certainty.value) == ("consider", "provisional")
    assert "herniation" in thrombectomy.unchecked_facts


# ------------------------------------------- clinic restenosis protocol and CCSVI


def test_a_charted_venoplasty_is_followed_up_with_the_ccsvi_question_open(
    kb: KnowledgeBase,
) -> None:
    """Source: seed 003 clinic protocol (retest and retreat restenosis, counted repeats)
    against Brave Dreams 2018 and FDA 2012; rules FU-VENOPLASTY-RESTENOSIS-RETREAT,
    FU-VENOPLASTY-STENT-AFTER-REPEATS and the CCSVI pathway.

    A left internal jugular venoplasty charted 45 days ago (ICD-10-PCS 057N3ZZ) makes a
    venoplasty follow-up case. The symptom course after it is not chart data, so no
    protocol retreatment or stent step is offered from the chart alone; its indication is
    not charted either, so the CCSVI pathway stays possible and the indication is asked
    for. Nothing is read as "not CCSVI"."""
    mapped = map_record(kb, [patient(), _left_jugular_venoplasty(45)])
    result = assess_case(mapped.case, kb=kb, trace=False)

    follow_up = mapped.case.follow_up
    assert follow_up is not None
    assert follow_up.procedure_kind is not None
    assert follow_up.procedure_kind.value == "venoplasty"
    assert follow_up.indication is None
    pathways = {p.id: p.status.value for p in result.pathways}
    assert pathways == {"venoplasty_follow_up": "applies", "ccsvi": "possible"}
    assert not [
        r
        for r in result.recommendations
        if r.action.value in ("retreatment", "venous_stenting", "angioplasty")
        and r.strength.value in IN_FAVOUR
    ]
    assert "FU-VENOPLASTY-RESTENOSIS-RETREAT" in _asked_for(result, "symptom_response")
    assert "pathway:ccsvi" in _asked_for(result, "ccsvi_indication")
    assert _asked_for(result, "earlier_repeat_procedures") == ["FU-VENOPLASTY-STENT-AFTER-REPEATS"]


def test_a_venoplasty_charted_for_multiple_sclerosis_gets_the_ccsvi_evidence(
    kb: KnowledgeBase,
) -> None:
    """Source: Brave Dreams 2018 (sham-controlled RCT, no benefit) and FDA 2012 (serious
    harms, no reliable benefit), against seed 003's clinic protocol; rules
    CCSVI-VENOPLASTY-NOT-RECOMMENDED, CCSVI-RETREATMENT-NOT-RECOMMENDED,
    CCSVI-STENT-NOT-RECOMMENDED.

    The venoplasty's stated reason is multiple sclerosis (reasonCode ICD-10-CM G35, value
    set multiple-sclerosis-icd10cm): a venoplasty done for MS is the CCSVI treatment those
    sources tested and warned about. The indication is read with the Procedure as its
    provenance, and the three "not recommended" answers carry both sources."""
    venoplasty = _left_jugular_venoplasty(45)
    venoplasty["reasonCode"] = [
        {"coding": [{"system": ICD10, "code": "G35", "display": "Multiple sclerosis"}]}
    ]
    mapped = map_record(kb, [patient(), venoplasty])
    result = assess_case(mapped.case, kb=kb, trace=False)

    assert mapped.case.follow_up is not None
    assert mapped.case.follow_up.indication is not None
    assert mapped.case.follow_up.indication.value == "ccsvi_multiple_sclerosis"
    assert mapped.report.provenance["/follow_up/indication"] == ["Procedure/veno"]
    assert {p.id: p.status.value for p in result.pathways}["ccsvi"] == "applies"
    for rule_id, action in (
        ("CCSVI-VENOPLASTY-NOT-RECOMMENDED", "angioplasty"),
        ("CCSVI-RETREATMENT-NOT-RECOMMENDED", "retreatment"),
        ("CCSVI-STENT-NOT-RECOMMENDED", "venous_stenting"),
    ):
        advice = next(r for r in result.recommendations if r.rule_id == rule_id)
        assert (advice.action.value, advice.strength.value) == (action, "not_recommended")
        assert {"BRAVE-DREAMS-2018", "FDA-2012-CCSVI"} <= {c.id for c in advice.citations}


def test_a_reason_reference_to_an_ms_condition_is_read_and_a_refuted_one_is_not(
    kb: KnowledgeBase,
) -> None:
    """Source: as above. The reason may be a reference to the record's MS Condition (both
    records are the provenance); a refuted MS Condition is no reason, and MS on the problem
    list without being the procedure's reason leaves the indication unknown (an MS patient
    may have a venoplasty for another reason)."""
    venoplasty = _left_jugular_venoplasty(45)
    venoplasty["reasonReference"] = [{"reference": "Condition/ms"}]
    for verification, indication in (("confirmed", "ccsvi_multiple_sclerosis"), ("refuted", None)):
        ms = condition("ms", ICD10, "G35", "Multiple sclerosis", verification=verification)
        mapped = map_record(kb, [patient(), ms, venoplasty])
        follow_up = mapped.case.follow_up
        assert follow_up is not None
        read = None if follow_up.indication is None else follow_up.indication.value
        assert read == indication, verification
    assert mapped.report.provenance.get("/follow_up/indication") is None
    confirmed = condition("ms", ICD10, "G35", "Multiple sclerosis")
    mapped = map_record(kb, [patient(), confirmed, venoplasty])
    assert mapped.report.provenance["/follow_up/indication"] == ["Procedure/veno", "Condition/ms"]

    unrelated = map_record(kb, [patient(), confirmed, _left_jugular_venoplasty(45)])
    assert unrelated.case.follow_up is not None
    assert unrelated.case.follow_up.indication is None
    assert unrelated.case.risk_factors is not None
    assert unrelated.case.risk_factors.multiple_sclerosis is True
