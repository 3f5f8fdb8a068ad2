"""Knowledge base 0.5.0 items reached through a FHIR record, not a typed-in case.

Each test names its source; the per-patient vignettes are in
tests/engine/test_vignettes_kb_0_5.py.
"""

from __future__ import annotations

from fhir_fixtures import (
    ICD10,
    assess_record,
    condition,
    cvt_intracranial_hypotension_record,
    cvt_record,
    dvt_record,
    medication_request,
    observation,
    patient,
)
from venapath.engine.assessment import Assessment
from venapath.kb.model import KnowledgeBase


def test_cvt_with_low_platelets_in_the_chart_raises_the_vitt_hit_alert(kb: KnowledgeBase) -> None:
    """Source: Siegler et al., Stroke 2021 and CDC/ISTH guidance (suspect VITT/HIT: no
    heparin until tested, non-heparin anticoagulant, IVIG); TO-ACT 2020 (thrombocytopenia
    excluded); alert CVT-THROMBOCYTOPENIA-VITT-HIT, contraindication
    CI-CVT-PLATELETS-LOW-LYSIS, from a platelet Observation of 45 x 10^9/L."""
    record = [r for r in cvt_record() if r["id"] != "plt"]
    record.append(observation("plt", "777-3", "Platelets", 45, "10*3/uL"))
    result = assess_record(kb, record)

    assert "CVT-THROMBOCYTOPENIA-VITT-HIT" in {a.id for a in result.alerts}
    assert "CI-CVT-PLATELETS-LOW-LYSIS" in {c.rule_id for c in result.contraindications}


def test_cvt_with_normal_platelets_in_the_chart_raises_no_vitt_alert(kb: KnowledgeBase) -> None:
    """Source: as above; the alert needs platelets < 100 (the record has 210)."""
    result = assess_record(kb, cvt_record())

    assert "CVT-THROMBOCYTOPENIA-VITT-HIT" not in {a.id for a in result.alerts}


def test_a_charted_dvt_gets_chest_2021_advice_with_its_evidence(kb: KnowledgeBase) -> None:
    """Source: CHEST 2021 guidance statements 12 and 29; every citation in the result says
    where the source says it, what it says and when it was read (KB 0.5.0)."""
    result = assess_record(kb, dvt_record())

    by_rule = {r.rule_id: r for r in result.recommendations}
    stockings = by_rule["DVT-NO-ROUTINE-STOCKINGS"]
    assert stockings.strength == "not_recommended"
    for recommendation in result.recommendations:
        for citation in recommendation.citations:
            assert citation.locator
            assert citation.quote
            assert citation.checked is not None


APIXABAN = ("1364445", "apixaban 5 MG Oral Tablet")
ENOXAPARIN = ("854235", "0.4 ML enoxaparin sodium 100 MG/ML Prefilled Syringe")


def _citation(result: Assessment, rule_id: str, source: str) -> str:
    """The locator of `rule_id`'s citation of `source` (recommendation or alert)."""
    recommendation = next(r for r in result.recommendations if r.rule_id == rule_id)
    return next(c.locator or "" for c in recommendation.citations if c.id == source)


def test_a_charted_dvt_with_cancer_gets_an_oral_xa_inhibitor(kb: KnowledgeBase) -> None:
    """Source: CHEST 2021 guidance statement 16 (oral Xa inhibitor over LMWH in
    cancer-associated thrombosis, strong); rule DVT-CANCER-ORAL-XA, from a malignant
    neoplasm Condition (ICD-10-CM C18.9) beside the DVT."""
    record = [
        *dvt_record(),
        condition("ca", ICD10, "C18.9", "Malignant neoplasm of colon, unspecified"),
    ]
    result = assess_record(kb, record)

    oral_xa = next(r for r in result.recommendations if r.rule_id == "DVT-CANCER-ORAL-XA")
    assert (oral_xa.action, oral_xa.strength) == ("direct_oral_anticoagulant", "recommended")
    assert "16" in _citation(result, "DVT-CANCER-ORAL-XA", "CHEST-2021")


def test_a_charted_antiphospholipid_syndrome_points_to_a_vka(kb: KnowledgeBase) -> None:
    """Source: CHEST 2021 guidance statement 17 (VKA over DOAC in antiphospholipid
    syndrome); rules DVT-APS-VKA and CVT-APS-VKA, from an APS Condition (D68.61)."""
    aps = condition("aps", ICD10, "D68.61", "Antiphospholipid syndrome")
    for record, rule_id in ((dvt_record(), "DVT-APS-VKA"), (cvt_record(), "CVT-APS-VKA")):
        result = assess_record(kb, [*record, aps])
        vka = next(r for r in result.recommendations if r.rule_id == rule_id)
        assert (vka.action, vka.strength) == ("vitamin_k_antagonist", "consider"), rule_id
        assert "17" in _citation(result, rule_id, "CHEST-2021"), rule_id


def test_a_charted_anticoagulated_dvt_gets_no_ivc_filter_on_top(kb: KnowledgeBase) -> None:
    """Source: CHEST 2021 guidance statement 12 (no IVC filter in addition to anticoagulants,
    strong); rule DVT-NO-IVC-FILTER-WITH-ANTICOAGULATION. It fires only when an absolute
    contraindication to anticoagulation is known to be absent, which no chart code states:
    through FHIR it is asked for, never assumed (the per-patient vignette states it)."""
    record = [*dvt_record(), medication_request("apix", *APIXABAN, hours_ago=30)]
    result = assess_record(kb, record)

    fired = {r.rule_id for r in result.recommendations}
    assert "DVT-NO-IVC-FILTER-WITH-ANTICOAGULATION" not in fired
    assert "DVT-IVC-FILTER-ANTICOAGULATION-CONTRAINDICATED" not in fired
    waiting = {rule for need in result.needs_data for rule in need.rules}
    assert "DVT-NO-IVC-FILTER-WITH-ANTICOAGULATION" in waiting


def test_a_charted_cvt_shows_the_eso_advice(kb: KnowledgeBase) -> None:
    """Source: ESO 2017 (no steroids or acetazolamide, no routine thrombophilia screening;
    later pregnancy safe with prophylactic LMWH, avoid oestrogen); alerts
    CVT-NO-STEROIDS-ACETAZOLAMIDE, CVT-NO-ROUTINE-THROMBOPHILIA-SCREEN, CVT-FUTURE-PREGNANCY
    (the last for a woman only)."""
    eso = {
        "CVT-NO-STEROIDS-ACETAZOLAMIDE",
        "CVT-NO-ROUTINE-THROMBOPHILIA-SCREEN",
        "CVT-FUTURE-PREGNANCY",
    }
    woman = assess_record(kb, cvt_record())
    assert eso <= {a.id for a in woman.alerts}

    man = [r for r in cvt_record() if r["resourceType"] != "Patient"]
    man.append(patient(gender="male", birth="1991-09-12"))
    alerts = {a.id for a in assess_record(kb, man).alerts}
    assert eso - {"CVT-FUTURE-PREGNANCY"} <= alerts
    assert "CVT-FUTURE-PREGNANCY" not in alerts


def test_a_charted_cvt_with_intracranial_hypotension_on_enoxaparin(kb: KnowledgeBase) -> None:
    """Source: FERRANTE-2021, KWON-2020, SIH-REVIEW-2021 (case reports and series of blood
    patch in CVT with intracranial hypotension: "consider" at most, IH-CVT-TREAT-LEAK) and
    ASRA 2010 (neuraxial procedure on
    anticoagulation: LMWH held 24 h; alert IH-CVT-NEURAXIAL-TIMING), from a spontaneous
    intracranial hypotension Condition (G96.811), a CVT and an enoxaparin order."""
    record = [
        *cvt_intracranial_hypotension_record(),
        medication_request("enox", *ENOXAPARIN, hours_ago=20),
    ]
    result = assess_record(kb, record)

    patch = next(r for r in result.recommendations if r.rule_id == "IH-CVT-TREAT-LEAK")
    assert (patch.action, patch.strength) == ("epidural_blood_patch", "consider")
    assert "Case reports" in patch.detail["evidence_kind"]
    assert "30-70%" not in patch.rationale
    assert {"FERRANTE-2021", "KWON-2020"} <= {c.id for c in patch.citations}
    timing = next(a for a in result.alerts if a.id == "IH-CVT-NEURAXIAL-TIMING")
    assert timing.severity == "critical"
    assert "24 h" in timing.message
    assert "ASRA-2010-NEURAXIAL" in {c.id for c in timing.citations}


def test_a_charted_cvt_deteriorating_weeks_after_onset_keeps_rescue_therapy(
    kb: KnowledgeBase,
) -> None:
    """Source: the practice's 8 h / 12 h statement (VIP-DVST-PAGE) and TO-ACT's 10-day
    enrolment limit are not treatment windows (clinical review, issue 14); Siddiqui 2015
    (SIDDIQUI-2015) behind CVT-EVT-DETERIORATION-MT. A CVT three weeks old whose GCS falls
    from 14 to 8 on enoxaparin still gets the endovascular option, and no "passed" window
    stands against it."""
    record = [r for r in cvt_record() if r["resourceType"] not in ("Condition", "Observation")]
    record += [
        condition(
            "cvt",
            ICD10,
            "I67.6",
            "Nonpyogenic thrombosis of intracranial venous system",
            onset_hours_ago=24 * 21,
        ),
        medication_request("enox", *ENOXAPARIN, hours_ago=24 * 20),
        observation("gcs-1", "9269-2", "Glasgow coma score total", 14, "{score}", hours_ago=50),
        observation("gcs-2", "9269-2", "Glasgow coma score total", 8, "{score}", hours_ago=2),
        observation("plt", "777-3", "Platelets", 210, "10*3/uL"),
    ]
    result = assess_record(kb, record)

    thrombectomy = next(
        r for r in result.recommendations if r.rule_id == "CVT-EVT-DETERIORATION-MT"
    )
    assert thrombectomy.strength == "consider"
    assert thrombectomy.detail["time_limit"].startswith("None")
    assert "SIDDIQUI-2015" in {c.id for c in thrombectomy.citations}
    passed = [
        w
        for w in result.time_windows
        if "mechanical_thrombectomy" in w.actions and w.status == "passed"
    ]
    assert passed == []
