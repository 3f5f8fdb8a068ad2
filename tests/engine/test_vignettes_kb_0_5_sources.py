"""Clinical vignettes for the sources added to knowledge base 0.5.0 (issue 14 part 2).

DECOMPRESS2 behind decompressive surgery for CVT, CaVenT and CAVA in the thrombus-removal
rationale for leg DVT, and ASH 2020's home treatment of uncomplicated DVT. Each test names
the source that grounds it and the rule it exercises, and checks that the answer says what
the source says: a cohort is shown as a cohort, an inconclusive trial as inconclusive.
"""

from __future__ import annotations

from vignette_support import (
    ACUTE_CVT,
    DELETE,
    LEG_DVT,
    PHLEGMASIA,
    alert,
    alert_ids,
    assess,
    build,
    needs_facts,
    rec,
)

from venapath.engine.assessment import AlertOut, CitationOut, Recommendation

HERNIATING_CVT = build(
    ACUTE_CVT,
    {
        "exam": {"gcs": 7, "gcs_before": 12, "consciousness": "coma"},
        "imaging": {
            "intracerebral_haemorrhage": True,
            "haemorrhage_due_to_cvt": True,
            "venous_infarct": True,
            "largest_lesion_cm": 6.5,
            "mass_effect": True,
            "herniation": True,
        },
        "course": {"neurological_deterioration": True},
    },
)
"""Acute CVT, a 6.5 cm haemorrhagic venous infarct with herniation, GCS 12 -> 7."""

SWELLING_CVT = build(
    ACUTE_CVT,
    {
        "imaging": {"venous_infarct": True, "mass_effect": True, "herniation": False},
        "course": {"neurological_deterioration": True},
    },
)
"""Acute CVT, a venous infarct with mass effect in a deteriorating patient, no herniation."""


def _citation(owner: Recommendation | AlertOut, source_id: str) -> CitationOut:
    for citation in owner.citations:
        if citation.id == source_id:
            return citation
    cited = sorted(c.id for c in owner.citations)
    raise AssertionError(f"{source_id} is not cited; cited: {cited}")


# ------------------------------------------------------------- DECOMPRESS2 (CVT)


def test_decompressive_surgery_cites_decompress2_as_a_cohort_not_a_trial() -> None:
    """Source: DECOMPRESS2 (Aaron et al., Stroke 2024;55:1218, abstract: a prospective
    international cohort of 118 operated patients, surgery a median of 1 day after
    diagnosis; "this recommendation is based on limited evidence"); ESO 2017 (strong);
    rule CVT-DECOMPRESSIVE-SURGERY."""
    result = assess(HERNIATING_CVT)

    surgery = rec(result, "CVT-DECOMPRESSIVE-SURGERY")
    assert surgery.strength == "recommended"
    assert surgery.urgency == "emergency"
    decompress2 = _citation(surgery, "DECOMPRESS2-2024")
    assert decompress2.kind == "cohort"
    assert "no comparison group" in decompress2.evidence
    assert decompress2.quote is not None
    assert "based on limited evidence" in decompress2.quote
    assert "118" in surgery.rationale
    assert "not a randomised comparison" in surgery.rationale
    # The grade still comes from the guideline, not from the cohort.
    assert _citation(surgery, "ESO-2017").evidence.startswith("Strong recommendation")


def test_neurosurgical_opinion_for_mass_effect_cites_decompress2() -> None:
    """Source: DECOMPRESS2 (Stroke 2024, abstract: surgery a median of 1 day after
    diagnosis) with ESO 2017; rule CVT-MASS-EFFECT-NEUROSURGERY."""
    result = assess(SWELLING_CVT)

    referral = rec(result, "CVT-MASS-EFFECT-NEUROSURGERY")
    assert referral.strength == "recommended"
    assert _citation(referral, "DECOMPRESS2-2024").kind == "cohort"
    assert "DECOMPRESS2" in referral.rationale


# ------------------------------------------------ CaVenT and CAVA (leg DVT, CDT)


def test_cdt_candidate_rationale_names_cavent_and_cava_with_their_results() -> None:
    """Sources: CaVenT 5-year report (Haig et al., Lancet Haematol 2016: PTS 43% vs 71%,
    NNT 4; the 2-year result restated) and quality-of-life report (Enden et al., BMJ Open
    2013: QOL did not differ); CAVA (Lancet Haematology, abstract: PTS at 12 months 29% vs
    35%, OR 0.75, 95% CI 0.38-1.50; major bleeding 5% vs 0) and its long-term analysis
    (31% vs 45%, P=0.11); rule DVT-ETR-CANDIDATE-CDT."""
    result = assess(LEG_DVT)

    candidate = rec(result, "DVT-ETR-CANDIDATE-CDT")
    assert candidate.strength == "consider"
    for source_id in (
        "CAVENT-2016-5YEAR",
        "CAVENT-2013-QOL",
        "CAVA-2020",
        "CAVA-LONG-TERM",
        "ATTRACT-ILIOFEMORAL-2019",
        "CHEST-2021",
    ):
        assert _citation(candidate, source_id).kind in {"randomised_trial", "guideline"}
    assert "CaVenT" in candidate.rationale
    assert "CAVA" in candidate.rationale
    assert "43% vs 71%" in candidate.rationale
    assert "29% vs 35%" in candidate.rationale
    assert "without better quality of life" in candidate.rationale
    cavent = _citation(candidate, "CAVENT-2016-5YEAR")
    assert cavent.quote is not None
    assert "number needed to treat of 4" in cavent.quote


def test_anticoagulation_alone_over_cdt_cites_cava_as_inconclusive() -> None:
    """Source: CAVA (Lancet Haematology, abstract: no change in PTS at 1 year; "this trial
    is inconclusive"; major bleeding 5% vs none) beside ATTRACT and CHEST 2021 statement 6;
    rule DVT-ANTICOAGULATION-ALONE-CDT."""
    result = assess(LEG_DVT)

    alone = rec(result, "DVT-ANTICOAGULATION-ALONE-CDT")
    assert alone.action == "catheter_directed_thrombolysis"
    assert alone.strength == "not_recommended"
    cava = _citation(alone, "CAVA-2020")
    assert "inconclusive" in cava.evidence
    assert cava.quote is not None
    assert "inconclusive" in cava.quote
    assert _citation(alone, "ATTRACT-2017").kind == "randomised_trial"
    assert "CAVA" in alone.rationale
    assert "5%" in alone.rationale


# ----------------------------------------------------- Home treatment (ASH 2020)


def test_uncomplicated_dvt_is_told_home_treatment_is_suggested() -> None:
    """Source: ASH 2020 (Ortel et al., Blood Adv 2020;4:4693), recommendation 1
    (conditional: home over hospital treatment for uncomplicated DVT) and its systematic
    review (Blood Adv 2020;4:500: PE RR 0.64, recurrent DVT RR 0.61); rule
    DVT-HOME-TREATMENT."""
    result = assess(LEG_DVT)

    home = alert(result, "DVT-HOME-TREATMENT")
    assert home.severity == "info"
    assert "conditional" in home.message
    assert "clinician's judgement" in home.message
    ash = _citation(home, "ASH-2020-TREATMENT")
    assert ash.evidence.startswith("Conditional recommendation")
    assert ash.quote is not None
    assert "suggests offering home treatment" in ash.quote
    review = _citation(home, "ASH-2020-HOME-REVIEW")
    assert review.kind == "systematic_review"
    assert review.quote is not None
    assert "RR = 0.64" in review.quote


def test_limb_threatening_dvt_gets_no_home_treatment_alert() -> None:
    """Source: ASH 2020 recommendation 1 is for uncomplicated DVT only; phlegmasia cerulea
    dolens is managed as a limb-threatening emergency (AHA 2011 Class I); rule
    DVT-HOME-TREATMENT stays silent."""
    result = assess(PHLEGMASIA)

    assert "DVT-HOME-TREATMENT" not in alert_ids(result)


def test_bleeding_patient_gets_no_home_treatment_alert() -> None:
    """Source: ASH 2020 recommendation 1 (uncomplicated DVT); a patient who is actively
    bleeding and cannot be anticoagulated is not that patient; rule DVT-HOME-TREATMENT."""
    bleeding = build(
        LEG_DVT,
        {"bleeding_risk": {"anticoagulation_contraindicated": True, "active_bleeding": True}},
    )
    result = assess(bleeding)

    assert "DVT-HOME-TREATMENT" not in alert_ids(result)


def test_unknown_limb_status_never_suggests_home_treatment() -> None:
    """Unknown is not false: with phlegmasia and venous gangrene unrecorded the leg may be
    limb-threatening, so ASH 2020's home-treatment suggestion is not shown, and the facts
    that would settle it are asked for; rule DVT-HOME-TREATMENT."""
    unknown_leg = build(
        LEG_DVT, {"exam": {"leg": {"phlegmasia": DELETE, "venous_gangrene": DELETE}}}
    )
    result = assess(unknown_leg)

    assert "DVT-HOME-TREATMENT" not in alert_ids(result)
    assert "limb_threatening_dvt" in needs_facts(result)
