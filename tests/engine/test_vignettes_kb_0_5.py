"""Clinical vignettes for knowledge base 0.5.0 (issue 14 parts 1 and 2).

Each test names the source that grounds it and the rule it exercises: the safety
corrections of the December 2026 clinical review and the guidance it found missing.
"""

from __future__ import annotations

import pytest
from vignette_support import (
    ACUTE_CVT,
    DELETE,
    LEG_DVT,
    PHLEGMASIA,
    SUSPECTED_LEG_DVT,
    VENOPLASTY_FOLLOW_UP,
    WELLS_UNLIKELY,
    alert,
    alert_ids,
    assess,
    build,
    contraindication_ids,
    in_favour,
    rec,
    rule_ids,
    strengths,
    urgency,
)

PROXIMAL_DVT_NO_ANTICOAGULATION = build(
    LEG_DVT,
    {
        "bleeding_risk": {"anticoagulation_contraindicated": True, "active_bleeding": True},
        "treatment": {"anticoagulation": DELETE},
    },
)
"""Acute left iliofemoral DVT in a patient who is actively bleeding and cannot be
anticoagulated."""

CVT_WITH_LOW_PLATELETS = build(
    ACUTE_CVT,
    {
        "labs": {"platelets": {"value": 42, "unit": "10^9/L"}},
        "course": {"neurological_deterioration": True},
    },
)
"""Acute CVT, platelets 42 x 10^9/L, deteriorating on LMWH."""


# ------------------------------------------------------------------- IVC filter


def test_proximal_dvt_that_cannot_be_anticoagulated_gets_an_ivc_filter() -> None:
    """Source: CHEST 2021 guidance statement 13 (strong, moderate: IVC filter for acute
    proximal DVT with a contraindication to anticoagulation; comment: absolute
    contraindication, acute VTE); rule DVT-IVC-FILTER-ANTICOAGULATION-CONTRAINDICATED.
    Before 0.5.0 such a patient got no recommendation at all."""
    result = assess(PROXIMAL_DVT_NO_ANTICOAGULATION)

    filter_ = rec(result, "DVT-IVC-FILTER-ANTICOAGULATION-CONTRAINDICATED")
    assert filter_.action == "ivc_filter"
    assert filter_.strength == "recommended"
    assert "absolute contraindication" in filter_.detail["scope"]
    assert strengths(result, "ivc_filter") == {"recommended"}
    assert "DVT-NO-IVC-FILTER-WITH-ANTICOAGULATION" not in rule_ids(result)
    assert strengths(result, "anticoagulation") <= {"contraindicated"}


def test_anticoagulated_dvt_gets_no_ivc_filter_on_top() -> None:
    """Source: CHEST 2021 guidance statement 12 (strong, moderate: against an IVC filter in
    addition to anticoagulants); rule DVT-NO-IVC-FILTER-WITH-ANTICOAGULATION."""
    result = assess(LEG_DVT)

    no_filter = rec(result, "DVT-NO-IVC-FILTER-WITH-ANTICOAGULATION")
    assert no_filter.strength == "not_recommended"
    assert not in_favour(result, "ivc_filter")


# ------------------------------------------------------------- CVT and platelets


def test_cvt_with_thrombocytopenia_raises_the_vitt_hit_alert() -> None:
    """Source: Siegler et al., Stroke 2021 (anti-PF4 testing; IVIG, non-heparin
    anticoagulation); CDC/ISTH guidance as tabulated (no heparin unless HIT testing is
    negative; haematology); AHA/ASA special report (Furie 2021); alert
    CVT-THROMBOCYTOPENIA-VITT-HIT."""
    result = assess(CVT_WITH_LOW_PLATELETS)

    vitt = alert(result, "CVT-THROMBOCYTOPENIA-VITT-HIT")
    assert vitt.severity == "critical"
    for words in ("heparin", "non-heparin", "immunoglobulin", "haematology", "anti-PF4"):
        assert words in vitt.message


def test_cvt_with_normal_platelets_raises_no_vitt_alert() -> None:
    """Source: as above; alert CVT-THROMBOCYTOPENIA-VITT-HIT needs platelets < 100."""
    assert "CVT-THROMBOCYTOPENIA-VITT-HIT" not in alert_ids(assess(ACUTE_CVT))


def test_low_platelets_count_against_local_thrombolysis_in_cvt() -> None:
    """Source: TO-ACT 2020 (thrombocytopenia excluded); Siegler 2021 (VITT is treated with
    IVIG and non-heparin anticoagulation, not lysis); SIR 2014 (severe thrombocytopenia);
    contraindication CI-CVT-PLATELETS-LOW-LYSIS caps CVT-EVT-DETERIORATION-CDT at
    not_recommended, while thrombectomy stays an option."""
    result = assess(CVT_WITH_LOW_PLATELETS)

    lysis = rec(result, "CVT-EVT-DETERIORATION-CDT")
    assert lysis.rule_strength == "consider"
    assert lysis.strength == "not_recommended"
    assert "CI-CVT-PLATELETS-LOW-LYSIS" in lysis.capped_by
    assert "CI-CVT-PLATELETS-LOW-LYSIS" in contraindication_ids(result)
    assert rec(result, "CVT-EVT-DETERIORATION-MT").strength == "consider"


# ----------------------------------------------------------- CVT endovascular harms


def test_cvt_endovascular_options_carry_their_harms_and_no_time_limit() -> None:
    """Source: Siddiqui 2015 (185 cases: 12% died, 10% new or increased ICH); TO-ACT 2020
    (perforation 9%, mortality 12% vs 3%); seed 000 practice statement (8/12 h, no study);
    rules CVT-EVT-DETERIORATION-MT, CVT-EVT-DETERIORATION-CDT."""
    deteriorating = build(ACUTE_CVT, {"course": {"neurological_deterioration": True}})
    result = assess(deteriorating)

    for rule_id in ("CVT-EVT-DETERIORATION-MT", "CVT-EVT-DETERIORATION-CDT"):
        option = rec(result, rule_id)
        assert option.strength == "consider"
        assert "12%" in option.detail["harms"]
        assert "9%" in option.detail["harms"]
        assert "12% died" in option.rationale
        assert "9%" in option.rationale
        assert option.detail["time_limit"].startswith("None")
    assert not [
        w
        for w in result.time_windows
        if {"mechanical_thrombectomy", "cerebral_venous_thrombectomy"} & set(w.actions)
    ]


def test_no_routine_thrombectomy_states_the_perforation_rate() -> None:
    """Source: TO-ACT 2020 (sinus or vein perforation 9%); rule CVT-EVT-NOT-ROUTINE-MT."""
    result = assess(ACUTE_CVT)

    assert "9%" in rec(result, "CVT-EVT-NOT-ROUTINE-MT").rationale


# ---------------------------------------------------------- CVT: ESO 2017 and DOACs


def test_acute_cvt_shows_the_eso_advice_on_steroids_screening_and_pregnancy() -> None:
    """Source: ESO 2017 (suggest not using steroids and acetazolamide; not screening
    routinely for thrombophilia or cancer; later pregnancies safe with prophylactic LMWH);
    alerts CVT-NO-STEROIDS-ACETAZOLAMIDE, CVT-NO-ROUTINE-THROMBOPHILIA-SCREEN,
    CVT-FUTURE-PREGNANCY."""
    result = assess(ACUTE_CVT)

    assert "acetazolamide" in alert(result, "CVT-NO-STEROIDS-ACETAZOLAMIDE").message
    assert "thrombophilia" in alert(result, "CVT-NO-ROUTINE-THROMBOPHILIA-SCREEN").message
    assert "LMWH" in alert(result, "CVT-FUTURE-PREGNANCY").message


def test_future_pregnancy_advice_is_not_shown_for_a_man() -> None:
    """Source: ESO 2017 (advice to women after CVT); alert CVT-FUTURE-PREGNANCY needs
    male_sex false."""
    man = build(
        ACUTE_CVT,
        {
            "patient": {
                "sex": "male",
                "pregnant": DELETE,
                "postpartum": DELETE,
                "breastfeeding": DELETE,
            }
        },
    )
    assert "CVT-FUTURE-PREGNANCY" not in alert_ids(assess(man))


def test_doac_after_lead_in_cites_action_cvt() -> None:
    """Source: ACTION-CVT (Yaghi et al., Stroke 2022: 845 patients; major haemorrhage aHR
    0.35); RE-SPECT CVT 2019; rule CVT-DOAC-AFTER-LEAD-IN."""
    doac = rec(assess(ACUTE_CVT), "CVT-DOAC-AFTER-LEAD-IN")

    assert "ACTION-CVT-2022" in {c.id for c in doac.citations}
    assert "AHA-2024-CVT" not in {c.id for c in doac.citations}
    assert "0.35" in doac.rationale


def test_antiphospholipid_syndrome_points_to_a_vka() -> None:
    """Source: CHEST 2021 guidance statement 17 (weak, low: adjusted-dose VKA, INR 2.5, over
    DOAC in APS); rules CVT-APS-VKA and DVT-APS-VKA."""
    cvt = assess(build(ACUTE_CVT, {"risk_factors": {"antiphospholipid_syndrome": True}}))
    dvt = assess(build(LEG_DVT, {"risk_factors": {"antiphospholipid_syndrome": True}}))

    assert "INR 2.5" in rec(cvt, "CVT-APS-VKA").detail["agent"]
    assert rec(dvt, "DVT-APS-VKA").strength == "consider"
    assert "CVT-DOAC-AFTER-LEAD-IN" not in rule_ids(cvt)


# --------------------------------------------------------------- leg DVT additions


def test_cancer_associated_dvt_gets_an_oral_xa_inhibitor() -> None:
    """Source: CHEST 2021 guidance statement 16 (strong, moderate: oral Xa inhibitor over
    LMWH; apixaban or LMWH with luminal GI cancer); rules DVT-CANCER-ORAL-XA,
    DVT-DURATION-CANCER."""
    result = assess(build(LEG_DVT, {"risk_factors": {"active_cancer": True}}))

    oral_xa = rec(result, "DVT-CANCER-ORAL-XA")
    assert oral_xa.strength == "recommended"
    assert "over LMWH" in oral_xa.detail["agent"]
    assert "Apixaban or LMWH" in oral_xa.detail["luminal_gi_cancer"]
    assert "oral Xa inhibitor" in rec(result, "DVT-DURATION-CANCER").detail["agent"]


def test_proximal_dvt_anticoagulation_cites_chest_2021_not_2016() -> None:
    """Source: CHEST 2021 guidance statements 21 (3-month treatment phase, strong) and 15
    (DOAC over VKA, strong); rule DVT-ANTICOAGULATION-PROXIMAL."""
    proximal = rec(assess(LEG_DVT), "DVT-ANTICOAGULATION-PROXIMAL")

    locators = {c.locator for c in proximal.citations}
    assert {"Guidance statement 21", "Guidance statement 15 and comments"} <= locators
    assert "CHEST-2016" not in {c.id for c in proximal.citations}


def test_provoked_dvt_states_chest_statement_22() -> None:
    """Source: CHEST 2021 guidance statement 22 (strong: against extended-phase therapy
    after a major transient risk factor); rule DVT-DURATION-PROVOKED."""
    provoked = build(LEG_DVT, {"risk_factors": {"provocation": "provoked_transient"}})
    duration = rec(assess(provoked), "DVT-DURATION-PROVOKED")

    assert "Guidance statement 22" in {c.locator for c in duration.citations}


def test_unprovoked_dvt_offers_reduced_dose_extended_doac_with_yearly_review() -> None:
    """Source: CHEST 2021 guidance statements 24 (strong), 26 (weak: reduced-dose apixaban
    2.5 mg twice daily or rivaroxaban 10 mg), 28 (aspirin if stopping); rule
    DVT-DURATION-UNPROVOKED."""
    extended = rec(assess(LEG_DVT), "DVT-DURATION-UNPROVOKED")

    assert extended.strength == "recommended"
    assert "2.5 mg" in extended.detail["agent"]
    assert "10 mg" in extended.detail["agent"]
    assert "yearly" in extended.detail["duration"]
    assert "Aspirin" in extended.detail["if_stopped"]


def test_iliofemoral_dvt_worsening_on_anticoagulation_is_escalated() -> None:
    """Source: AHA 2011 (Class IIa: CDT or PCDT reasonable for IFDVT with rapid extension, LOE
    C, or symptomatic deterioration, LOE B, despite anticoagulation; Class I: transfer to a
    centre with expertise; Class III, LOE A: no routine systemic fibrinolysis); rules
    DVT-IFDVT-ESCALATION-CDT, DVT-IFDVT-ESCALATION-PMT, DVT-IFDVT-TRANSFER."""
    worsening = build(LEG_DVT, {"course": {"leg_symptoms_worsening": True}})
    result = assess(worsening)

    escalate = rec(result, "DVT-IFDVT-ESCALATION-CDT")
    assert escalate.strength == "consider"
    assert "Not systemic thrombolysis" in escalate.detail["not_systemic"]
    assert rec(result, "DVT-IFDVT-ESCALATION-PMT").strength == "consider"
    assert rec(result, "DVT-IFDVT-TRANSFER").action == "specialist_referral"


def test_stable_iliofemoral_dvt_is_not_escalated() -> None:
    """Source: AHA 2011 Class IIa needs extension or deterioration despite anticoagulation;
    rule DVT-IFDVT-ESCALATION-CDT must not fire on a stable course."""
    stable = build(
        LEG_DVT, {"course": {"leg_symptoms_worsening": False, "thrombus_propagation": False}}
    )
    assert "DVT-IFDVT-ESCALATION-CDT" not in rule_ids(assess(stable))


def test_phlegmasia_with_lysis_contraindicated_keeps_non_lytic_options() -> None:
    """Source: AHA 2011 (Class I: CDT/PCDT for limb-threatening IFDVT; transfer to a centre
    with expertise); CHEST 2021 comment to statement 6 (limb-threatening DVT; thrombolytic,
    mechanical and pharmacomechanical methods pooled); SIR 2014 (active bleeding: absolute
    contraindication to lysis); rules DVT-PHLEGMASIA-SPECIALIST, DVT-PHLEGMASIA-MECHANICAL."""
    result = assess(build(PHLEGMASIA, {"bleeding_risk": {"active_bleeding": True}}))

    assert strengths(result, "catheter_directed_thrombolysis") == {"contraindicated"}
    referral = rec(result, "DVT-PHLEGMASIA-SPECIALIST")
    assert referral.strength == "recommended"
    assert referral.urgency == "emergency"
    assert "without a lytic" in referral.detail["lysis_contraindicated"]
    assert rec(result, "DVT-PHLEGMASIA-MECHANICAL").strength == "consider"
    assert urgency(result) == "emergency"


def test_phlegmasia_ash_citation_is_a_remark_not_a_recommendation() -> None:
    """Source: ASH 2020 (conditional recommendation for anticoagulation alone; thrombolysis
    for limb-threatening DVT only in a remark); rule DVT-PHLEGMASIA-CDT."""
    lysis = rec(assess(PHLEGMASIA), "DVT-PHLEGMASIA-CDT")

    ash = next(c for c in lysis.citations if c.id == "ASH-2020-TREATMENT")
    assert "remark" in ash.evidence
    assert "against thrombolysis" in ash.evidence


def test_no_routine_compression_stockings_to_prevent_pts() -> None:
    """Source: CHEST 2021 guidance statement 29 (weak, low: against routine stockings to
    prevent PTS); NICE 2020 (allowed for symptoms); rule DVT-NO-ROUTINE-STOCKINGS."""
    stockings = rec(assess(LEG_DVT), "DVT-NO-ROUTINE-STOCKINGS")

    assert stockings.action == "compression_stockings"
    assert stockings.strength == "not_recommended"
    assert "symptoms" in stockings.detail["symptoms"]


def test_d_dimer_source_is_kearon_with_its_population() -> None:
    """Source: PubMed 11453710 (Kearon et al., McMaster; three-level "low" pretest
    probability and a whole-blood D-dimer; NPV 99.4%); rule DVT-DX-D-DIMER-FIRST."""
    d_dimer = rec(assess(build(SUSPECTED_LEG_DVT, WELLS_UNLIKELY)), "DVT-DX-D-DIMER-FIRST")

    kearon = next(c for c in d_dimer.citations if c.id == "KEARON-2001-DDIMER")
    assert "whole-blood" in (kearon.quote or "")
    assert "whole-blood D-dimer" in d_dimer.rationale


# ------------------------------------------------------ clinic protocol and CCSVI


def test_venoplasty_retreatment_with_unrecorded_indication_shows_the_ccsvi_evidence() -> None:
    """Source: seed 003 clinic protocol (retest and retreat restenosis) against Brave Dreams
    2018 (sham-controlled RCT, negative) and FDA 2012; clinical review 2026-12 (the counter-
    evidence must accompany the protocol when the indication is CCSVI or unknown); rule
    FU-VENOPLASTY-RESTENOSIS-RETREAT."""
    unknown_indication = build(
        VENOPLASTY_FOLLOW_UP,
        {
            "follow_up": {
                "indication": DELETE,
                "symptom_response": "marked",
                "improvement_lasted_days": 45,
                "reverted_for_days": 14,
            }
        },
    )
    retreat = rec(assess(unknown_indication), "FU-VENOPLASTY-RESTENOSIS-RETREAT")

    assert retreat.strength == "consider"
    assert {"BRAVE-DREAMS-2018", "FDA-2012-CCSVI"} <= {c.id for c in retreat.citations}
    assert "Brave Dreams" in retreat.detail["ccsvi_evidence"]


@pytest.mark.parametrize(
    "finding",
    ["right_to_left_shunt", "severe_illness_precluding_procedure"],
)
def test_left_heart_thrombus_or_severe_illness_caps_catheter_lysis(finding: str) -> None:
    """Source: SIR 2014 quality-improvement guideline, Table 2 (relative contraindications:
    "right-to-left shunt or left heart thrombus"; "severe dyspnea or severe acute medical
    illness precluding safe procedure performance"); rule CI-SIR-OTHER-RELATIVE caps CDT
    and PCDT at "consider" for the limb-threatening leg that would otherwise get them."""
    result = assess(build(PHLEGMASIA, {"bleeding_risk": {finding: True}}))

    assert "CI-SIR-OTHER-RELATIVE" in contraindication_ids(result), finding
    lysis = rec(result, "DVT-PHLEGMASIA-CDT")
    assert lysis.rule_strength == "recommended", finding
    assert lysis.strength == "consider", finding
    assert "CI-SIR-OTHER-RELATIVE" in lysis.capped_by, finding
    assert "CI-SIR-OTHER-RELATIVE" not in contraindication_ids(assess(PHLEGMASIA))


def test_progestin_only_contraception_is_not_the_oestrogen_alert() -> None:
    """Source: ESO 2017 (avoid oestrogen-containing contraceptives after CVT); alert
    CVT-AVOID-OESTROGEN. The case field counts oestrogen-containing methods only: a woman
    on a progestin-only pill is recorded as `oral_contraceptives: false` and gets no alert,
    and the alert says what it does not cover."""
    progestin_only = assess(build(ACUTE_CVT, {"risk_factors": {"oral_contraceptives": False}}))
    assert "CVT-AVOID-OESTROGEN" not in alert_ids(progestin_only)

    oestrogen = assess(build(ACUTE_CVT, {"risk_factors": {"oral_contraceptives": True}}))
    assert "Progestin-only" in alert(oestrogen, "CVT-AVOID-OESTROGEN").message
