"""Clinical vignettes: acute cerebral venous thrombosis (the cvt_acute pathway).

Grounding: /work/shared/research/cvt.md (ESO 2017, AHA/ASA 2011/2014/2024, EFNS 2010,
TO-ACT 2020, RE-SPECT CVT 2019, ISCVT) and the rules in kb/data/rules/cvt.yaml.
"""

from __future__ import annotations

import pytest
from vignette_support import (
    ACUTE_CVT,
    DELETE,
    alert,
    alert_ids,
    assess,
    build,
    contraindication_ids,
    disagreement,
    in_favour,
    needs_facts,
    pathways,
    rec,
    rule_ids,
    strengths,
    urgency,
)


def test_uncomplicated_cvt_is_anticoagulated_with_parenteral_heparin() -> None:
    """Source: ESO 2017 (parenteral anticoagulation, strong; LMWH over UFH, weak) and CHEST
    2021 guidance statement 5; rules CVT-ANTICOAGULATION-PARENTERAL, CVT-NO-DOAC-FIRST."""
    result = assess(ACUTE_CVT)

    assert pathways(result)["cvt_acute"] == "applies"
    assert "intracranial_hypotension" not in pathways(result)
    first_line = rec(result, "CVT-ANTICOAGULATION-PARENTERAL")
    assert first_line.action == "anticoagulation"
    assert first_line.strength == "recommended"
    assert first_line.urgency == "urgent"
    assert first_line.certainty == "firm"
    assert first_line.capped_by == []
    assert rec(result, "CVT-NO-DOAC-FIRST").strength == "not_recommended"
    assert urgency(result) == "urgent"


@pytest.mark.parametrize(
    "patient",
    [
        pytest.param({"pregnant": True, "breastfeeding": False}, id="pregnant-24-weeks"),
        pytest.param(
            {"pregnant": False, "postpartum_days": 20, "breastfeeding": True},
            id="breastfeeding-postpartum",
        ),
    ],
)
def test_cvt_in_pregnancy_or_lactation_gets_full_dose_lmwh_not_a_doac(patient: dict) -> None:
    """Source: AHA/ASA 2014 prevention of stroke in women (Class I, LOE C: full-dose LMWH
    through pregnancy; Class IIa: LMWH over UFH); DOAC-CVT 2025 excluded pregnancy and
    lactation; rules CVT-PREGNANCY-LMWH, CVT-DOAC-AFTER-LEAD-IN (must not fire)."""
    result = assess(build(ACUTE_CVT, {"patient": {"postpartum": DELETE, **patient}}))

    lmwh = rec(result, "CVT-PREGNANCY-LMWH")
    assert lmwh.action == "anticoagulation"
    assert lmwh.strength == "recommended"
    assert "LMWH" in lmwh.detail["agent"]
    assert "CVT-DOAC-AFTER-LEAD-IN" not in rule_ids(result)
    assert rec(result, "CVT-NO-DOAC-FIRST").strength == "not_recommended"
    # Thrombolysis would meet SIR's relative contraindication for pregnancy or lactation.
    assert "CI-SIR-PREGNANCY-LACTATION" in contraindication_ids(result)


def test_haemorrhage_caused_by_cvt_still_gets_anticoagulation() -> None:
    """Source: EFNS 2010 good practice point, CHEST 2021 guidance statement 5 (with or
    without haemorrhage), TO-ACT 2020 inclusion; rules CVT-ANTICOAGULATION-PARENTERAL,
    alert CVT-ICH-NOT-CONTRAINDICATION."""
    haemorrhagic = build(
        ACUTE_CVT,
        {
            "imaging": {
                "intracerebral_haemorrhage": True,
                "haemorrhage_due_to_cvt": True,
                "venous_infarct": True,
                "largest_lesion_cm": 3.0,
            }
        },
    )
    result = assess(haemorrhagic)

    anticoagulation = rec(result, "CVT-ANTICOAGULATION-PARENTERAL")
    assert anticoagulation.strength == "recommended"
    assert anticoagulation.capped_by == []
    assert anticoagulation.certainty == "firm"
    note = alert(result, "CVT-ICH-NOT-CONTRAINDICATION")
    assert note.severity == "info"


def test_doac_started_without_parenteral_lead_in_raises_an_alert() -> None:
    """Source: ESO 2017 (weak recommendation against DOACs in acute CVT) and RE-SPECT CVT 2019
    (dabigatran only after 5-15 days of parenteral heparin); alert
    CVT-DOAC-STARTED-WITHOUT-LEAD-IN."""
    doac_first = build(
        ACUTE_CVT,
        {
            "treatment": {
                "anticoagulation": {
                    "agent": "rivaroxaban",
                    "therapeutic": True,
                    "parenteral_lead_in_days": 0,
                }
            }
        },
    )
    result = assess(doac_first)

    warning = alert(result, "CVT-DOAC-STARTED-WITHOUT-LEAD-IN")
    assert warning.severity == "warning"
    assert rec(result, "CVT-NO-DOAC-FIRST").strength == "not_recommended"


def test_dabigatran_after_a_week_of_heparin_is_an_option_with_the_disagreement_shown() -> None:
    """Source: RE-SPECT CVT 2019 (dabigatran after 5-15 days of heparin), AHA 2024 statement;
    ESO 2017 against DOACs; rules CVT-DOAC-AFTER-LEAD-IN vs CVT-NO-DOAC-FIRST."""
    after_lead_in = build(
        ACUTE_CVT,
        {
            "as_of": "2026-03-18T12:00:00+00:00",
            "treatment": {
                "anticoagulation": {
                    "agent": "dabigatran",
                    "started_at": "2026-03-09T21:00:00+00:00",
                    "therapeutic": True,
                    "parenteral_lead_in_days": 7,
                }
            },
        },
    )
    result = assess(after_lead_in)

    assert "CVT-DOAC-STARTED-WITHOUT-LEAD-IN" not in alert_ids(result)
    option = rec(result, "CVT-DOAC-AFTER-LEAD-IN")
    assert option.strength == "consider"
    assert option.urgency == "routine"
    assert disagreement(result, "CVT-DOAC-AFTER-LEAD-IN", "CVT-NO-DOAC-FIRST") is not None


def test_toact_severe_but_stable_cvt_gets_no_endovascular_therapy() -> None:
    """Source: TO-ACT 2020 (JAMA Neurol 77:966; severe CVT, EVT not superior, RR 0.99,
    stopped for futility); ESO 2017 no recommendation; rules CVT-EVT-NOT-ROUTINE-MT,
    CVT-EVT-NOT-ROUTINE-CDT."""
    severe_stable = build(
        ACUTE_CVT,
        {
            "exam": {
                "gcs": 12,
                "gcs_before": 12,
                "consciousness": "somnolent",
                "mental_status_disorder": True,
            },
            "imaging": {
                "thrombosed_segments": [
                    {"segment": "straight_sinus", "modality": "mr_venography"},
                    {"segment": "internal_cerebral_veins", "side": "bilateral"},
                    {"segment": "vein_of_galen", "modality": "mr_venography"},
                ],
                "intracerebral_haemorrhage": True,
                "haemorrhage_due_to_cvt": True,
            },
        },
    )
    result = assess(severe_stable)

    thrombectomy = rec(result, "CVT-EVT-NOT-ROUTINE-MT")
    assert thrombectomy.action == "cerebral_venous_thrombectomy"
    assert thrombectomy.strength == "not_recommended"
    assert rec(result, "CVT-EVT-NOT-ROUTINE-CDT").strength == "not_recommended"
    assert not in_favour(result, "cerebral_venous_thrombectomy")
    assert not in_favour(result, "cerebral_venous_thrombolysis")
    assert rec(result, "CVT-ANTICOAGULATION-PARENTERAL").strength == "recommended"
    assert urgency(result) != "emergency"


def test_unknown_course_does_not_count_as_stable() -> None:
    """Source: TO-ACT 2020 (the not-routine advice is for patients who are not deteriorating);
    rule CVT-EVT-NOT-ROUTINE-MT needs neurological_deterioration known false."""
    unknown_course = build(ACUTE_CVT, {"course": DELETE})
    result = assess(unknown_course)

    assert "CVT-EVT-NOT-ROUTINE-MT" not in rule_ids(result)
    assert "neurological_deterioration" in needs_facts(result)


@pytest.mark.parametrize(
    "course",
    [
        pytest.param({"neurological_deterioration": True}, id="clinical-deterioration"),
        pytest.param({"thrombus_propagation": True}, id="thrombus-propagation"),
    ],
)
def test_deterioration_on_therapeutic_anticoagulation_considers_thrombectomy(
    course: dict,
) -> None:
    """Source: AHA 2024 scientific statement (endovascular therapy for deterioration or
    propagation despite maximal medical therapy); Siddiqui 2015 systematic review (185
    cases); rules CVT-EVT-DETERIORATION-MT, CVT-EVT-DETERIORATION-CDT."""
    deteriorating = build(ACUTE_CVT, {"course": course})
    if course.get("neurological_deterioration"):
        deteriorating = build(deteriorating, {"exam": {"gcs": 11, "consciousness": "somnolent"}})
    result = assess(deteriorating)

    thrombectomy = rec(result, "CVT-EVT-DETERIORATION-MT")
    assert thrombectomy.action == "cerebral_venous_thrombectomy"
    assert thrombectomy.strength == "consider"
    assert thrombectomy.urgency == "emergency"
    assert thrombectomy.certainty == "firm"
    local_lysis = rec(result, "CVT-EVT-DETERIORATION-CDT")
    assert local_lysis.strength == "consider"
    assert local_lysis.urgency == "emergency"
    assert "CVT-EVT-NOT-ROUTINE-MT" not in rule_ids(result)
    assert urgency(result) == "emergency"


def test_deterioration_before_anticoagulation_is_therapeutic_is_not_an_evt_indication() -> None:
    """Source: AHA 2024 scientific statement (EVT after failure of maximal medical therapy);
    ESO 2017 (anticoagulation first); rule CVT-EVT-DETERIORATION-MT needs
    on_therapeutic_anticoagulation."""
    not_yet_anticoagulated = build(
        ACUTE_CVT,
        {
            "treatment": {"anticoagulation": {"agent": "lmwh", "therapeutic": False}},
            "course": {"neurological_deterioration": True},
        },
    )
    result = assess(not_yet_anticoagulated)

    assert "CVT-EVT-DETERIORATION-MT" not in rule_ids(result)
    assert not in_favour(result, "cerebral_venous_thrombectomy")
    assert rec(result, "CVT-ANTICOAGULATION-PARENTERAL").strength == "recommended"


def test_herniation_calls_for_decompressive_surgery_not_thrombectomy() -> None:
    """Source: ESO 2017 (strong recommendation: decompressive surgery to prevent death from
    herniation); Ferro 2011 registry; rule CVT-DECOMPRESSIVE-SURGERY."""
    herniating = build(
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
    result = assess(herniating)

    surgery = rec(result, "CVT-DECOMPRESSIVE-SURGERY")
    assert surgery.action == "decompressive_surgery"
    assert surgery.strength == "recommended"
    assert surgery.urgency == "emergency"
    assert "CVT-EVT-DETERIORATION-MT" not in rule_ids(result)
    assert urgency(result) == "emergency"


def test_mass_effect_with_deterioration_needs_a_neurosurgical_opinion() -> None:
    """Source: ESO 2017 (decompressive surgery for herniation) and Ferro 2011; rule
    CVT-MASS-EFFECT-NEUROSURGERY."""
    swelling = build(
        ACUTE_CVT,
        {
            "imaging": {"venous_infarct": True, "mass_effect": True, "herniation": False},
            "course": {"neurological_deterioration": True},
        },
    )
    result = assess(swelling)

    referral = rec(result, "CVT-MASS-EFFECT-NEUROSURGERY")
    assert referral.action == "specialist_referral"
    assert referral.strength == "recommended"
    assert "Neurosurgery" in referral.detail["specialty"]


@pytest.mark.parametrize(
    ("imaging", "expect_alert"),
    [
        pytest.param({"venous_infarct": True}, True, id="seizure-with-venous-infarct"),
        pytest.param(
            {"intracerebral_haemorrhage": True, "haemorrhage_due_to_cvt": True},
            True,
            id="seizure-with-haemorrhage",
        ),
        pytest.param({}, False, id="seizure-without-lesion"),
    ],
)
def test_early_seizure_with_a_lesion_prompts_antiseizure_medication(
    imaging: dict, expect_alert: bool
) -> None:
    """Source: ESO 2017 (weak: antiseizure drugs after an early seizure with supratentorial
    lesions); ISCVT seizures 2008 (supratentorial lesion OR 4.05); alert
    CVT-EARLY-SEIZURE-LESION."""
    seizing = build(
        ACUTE_CVT,
        {
            "presentation": {"symptoms": [{"kind": "headache"}, {"kind": "seizure"}]},
            "exam": {"seizure": True},
            "imaging": imaging,
        },
    )
    result = assess(seizing)

    assert ("CVT-EARLY-SEIZURE-LESION" in alert_ids(result)) is expect_alert
    if expect_alert:
        assert alert(result, "CVT-EARLY-SEIZURE-LESION").severity == "warning"


@pytest.mark.parametrize(
    ("risk_factors", "rule_id", "duration"),
    [
        pytest.param(
            {"provocation": "provoked_transient"},
            "CVT-DURATION-PROVOKED",
            "3-6 months",
            id="provoked",
        ),
        pytest.param(
            {"provocation": "unprovoked"}, "CVT-DURATION-UNPROVOKED", "6-12 months", id="unprovoked"
        ),
        pytest.param(
            {"provocation": "persistent_risk_factor", "thrombophilia": "mild"},
            "CVT-DURATION-UNPROVOKED",
            "6-12 months",
            id="mild-thrombophilia",
        ),
        pytest.param(
            {"provocation": "persistent_risk_factor", "thrombophilia": "severe"},
            "CVT-DURATION-INDEFINITE",
            "Indefinite",
            id="severe-thrombophilia",
        ),
        pytest.param(
            {"provocation": "persistent_risk_factor", "antiphospholipid_syndrome": True},
            "CVT-DURATION-INDEFINITE",
            "Indefinite",
            id="antiphospholipid-syndrome",
        ),
        pytest.param(
            {"provocation": "persistent_risk_factor", "previous_cvt_episodes": 1},
            "CVT-DURATION-INDEFINITE",
            "Indefinite",
            id="recurrent-cvt",
        ),
    ],
)
def test_duration_of_anticoagulation_follows_provocation_and_thrombophilia(
    risk_factors: dict, rule_id: str, duration: str
) -> None:
    """Source: AHA/ASA 2014 women's guideline (Class IIb, LOE C: 3-6 months provoked, 6-12
    months unprovoked, indefinite for recurrence or severe thrombophilia); EFNS 2010; rules
    CVT-DURATION-PROVOKED, CVT-DURATION-UNPROVOKED, CVT-DURATION-INDEFINITE."""
    result = assess(build(ACUTE_CVT, {"risk_factors": risk_factors}))

    advice = rec(result, rule_id)
    assert advice.action == "anticoagulation"
    assert advice.strength == "consider"
    assert advice.urgency == "routine"
    assert advice.detail["duration"].startswith(duration)
    others = {"CVT-DURATION-PROVOKED", "CVT-DURATION-UNPROVOKED", "CVT-DURATION-INDEFINITE"}
    assert not (others - {rule_id}) & rule_ids(result)


def test_oestrogen_contraception_is_flagged_after_cvt() -> None:
    """Source: ESO 2017 (weak: avoid oestrogen-containing contraceptives after CVT); alert
    CVT-AVOID-OESTROGEN."""
    result = assess(build(ACUTE_CVT, {"risk_factors": {"oral_contraceptives": True}}))

    assert alert(result, "CVT-AVOID-OESTROGEN").severity == "warning"
    assert strengths(result, "anticoagulation") >= {"recommended"}
