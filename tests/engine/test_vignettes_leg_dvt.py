"""Clinical vignettes: deep vein thrombosis of the leg, from suspicion to thrombus removal.

Grounding: /work/shared/research/dvt.md (CHEST 2012/2016/2021, NICE NG158, ESVS 2021, SVS/AVF
2012, AHA 2011, SIR, ATTRACT and its subgroups, Wells 2003), seed 001 and 004, and the rules
in kb/data/rules/dvt.yaml and safety.yaml.
"""

from __future__ import annotations

import pytest
from vignette_support import (
    DELETE,
    DISTAL_SEGMENTS,
    FEMOROPOPLITEAL_SEGMENTS,
    LEG_DVT,
    PHLEGMASIA,
    SUSPECTED_LEG_DVT,
    WELLS_LIKELY,
    WELLS_UNLIKELY,
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
    window,
)

FEMOROPOPLITEAL_DVT = build(
    LEG_DVT,
    {
        "case_id": "vignette-femoropopliteal-dvt",
        "risk_factors": {"provocation": "provoked_transient"},
        "imaging": {"thrombosed_segments": FEMOROPOPLITEAL_SEGMENTS},
    },
)
"""Left femoral and popliteal DVT after a transient risk factor; iliac veins imaged clear."""

ISOLATED_DISTAL_DVT = build(
    LEG_DVT,
    {
        "case_id": "vignette-isolated-distal-dvt",
        "exam": {"leg": {"entire_leg_swollen": False, "severe_symptoms": False}},
        "imaging": {
            "thrombosed_segments": DISTAL_SEGMENTS,
            # At diagnosis there is no serial scan yet: whether it extends is unknown.
            "thrombus_extension_to_proximal_veins": DELETE,
            "distal_thrombus_extension": DELETE,
        },
        "risk_factors": {"distal_extension_risk": False},
    },
)
"""An isolated peroneal-vein DVT with mild symptoms and no risk factor for extension, at
diagnosis (before any serial scan)."""

NO_EXTENSION_ON_SERIAL_SCAN = {
    "imaging": {"thrombus_extension_to_proximal_veins": False, "distal_thrombus_extension": False}
}

# ---------------------------------------------------------------- suspected DVT


def test_wells_unlikely_starts_with_a_d_dimer() -> None:
    """Source: CHEST 2012 diagnosis (Grade 1B), ASH 2018, NICE NG158 (Wells 2003 two-level
    score <= 1: D-dimer first); rule DVT-DX-D-DIMER-FIRST."""
    result = assess(build(SUSPECTED_LEG_DVT, WELLS_UNLIKELY))

    assert result.scores["wells_dvt"].band == "DVT unlikely"
    d_dimer = rec(result, "DVT-DX-D-DIMER-FIRST")
    assert d_dimer.action == "laboratory_workup"
    assert d_dimer.strength == "recommended"
    assert d_dimer.urgency == "urgent"
    assert "DVT-DX-ULTRASOUND" not in rule_ids(result)


def test_wells_unlikely_and_negative_d_dimer_needs_no_imaging() -> None:
    """Source: Anderson 2001 (low suspicion and normal D-dimer: NPV 99.4%), CHEST 2012
    diagnosis Grade 1B; rule DVT-DX-EXCLUDED-BY-D-DIMER."""
    negative = build(SUSPECTED_LEG_DVT, WELLS_UNLIKELY, {"labs": {"d_dimer": {"positive": False}}})
    result = assess(negative)

    no_imaging = rec(result, "DVT-DX-EXCLUDED-BY-D-DIMER")
    assert no_imaging.action == "diagnostic_imaging"
    assert no_imaging.strength == "not_recommended"
    assert strengths(result, "diagnostic_imaging") == {"not_recommended"}


def test_wells_unlikely_with_positive_d_dimer_goes_to_ultrasound() -> None:
    """Source: CHEST 2012 diagnosis (Grade 1B: ultrasound after a positive D-dimer), ESVS 2021
    (ultrasound first imaging test); rule DVT-DX-ULTRASOUND."""
    positive = build(
        SUSPECTED_LEG_DVT,
        WELLS_UNLIKELY,
        {"labs": {"d_dimer": {"value": 1.9, "unit": "mg/L", "basis": "FEU", "positive": True}}},
    )
    result = assess(positive)

    assert rec(result, "DVT-DX-ULTRASOUND").strength == "recommended"
    assert "DVT-DX-EXCLUDED-BY-D-DIMER" not in rule_ids(result)


def test_wells_likely_goes_straight_to_compression_ultrasound() -> None:
    """Source: NICE NG158 / Wells 2003 (score >= 2: DVT likely, ultrasound), CHEST 2012
    diagnosis Grade 1B; rule DVT-DX-ULTRASOUND."""
    result = assess(build(SUSPECTED_LEG_DVT, WELLS_LIKELY))

    assert result.scores["wells_dvt"].band == "DVT likely"
    ultrasound = rec(result, "DVT-DX-ULTRASOUND")
    assert ultrasound.action == "diagnostic_imaging"
    assert ultrasound.strength == "recommended"
    assert ultrasound.urgency == "urgent"
    assert "ultrasound" in ultrasound.detail["modality"].lower()
    assert "DVT-DX-D-DIMER-FIRST" not in rule_ids(result)


@pytest.mark.parametrize(
    ("base", "rule_id"),
    [
        pytest.param(
            build(SUSPECTED_LEG_DVT, WELLS_LIKELY),
            "DVT-DX-CT-MR-VENOGRAPHY",
            id="suspected-iliac-dvt",
        ),
        pytest.param(
            build(
                LEG_DVT,
                {
                    "imaging": {
                        "regions_imaged": ["leg"],
                        "thrombosed_segments": [
                            {"segment": "common_femoral_vein", "side": "left"},
                        ],
                    }
                },
            ),
            "DVT-EXTENT-CT-MR-VENOGRAPHY",
            id="confirmed-dvt-proximal-extent-unknown",
        ),
    ],
)
def test_iliac_veins_not_seen_on_ultrasound_need_ct_or_mr_venography(
    base: dict, rule_id: str
) -> None:
    """Source: SVS/AVF 2012 (describe the most proximal extent, Grade 1A; CT or MR venography
    when ultrasound cannot show the iliac veins); rules DVT-DX-CT-MR-VENOGRAPHY,
    DVT-EXTENT-CT-MR-VENOGRAPHY."""
    result = assess(build(base, {"imaging": {"iliac_imaging_inconclusive": True}}))

    venography = rec(result, rule_id)
    assert venography.action == "diagnostic_imaging"
    assert venography.strength == "recommended"
    assert "venography" in venography.detail["modality"]


# ------------------------------------------------------------------ confirmed DVT


def test_proximal_dvt_is_anticoagulated_for_at_least_three_months() -> None:
    """Source: CHEST 2016 (Grade 1B, 3 months), CHEST 2021 (DOAC over VKA), ESVS 2021 Class I;
    rules DVT-ANTICOAGULATION-PROXIMAL, DVT-DURATION-PROVOKED."""
    result = assess(FEMOROPOPLITEAL_DVT)

    assert pathways(result)["leg_dvt"] == "applies"
    anticoagulation = rec(result, "DVT-ANTICOAGULATION-PROXIMAL")
    assert anticoagulation.strength == "recommended"
    assert anticoagulation.urgency == "urgent"
    assert anticoagulation.certainty == "firm"
    assert "DOAC" in anticoagulation.detail["agent"]
    provoked = rec(result, "DVT-DURATION-PROVOKED")
    assert provoked.strength == "recommended"
    assert provoked.detail["duration"].startswith("3 months")


def test_iliofemoral_candidate_considers_thrombus_removal_against_chest() -> None:
    """Source: NICE NG158 ("consider" CDT for iliofemoral DVT < 14 days, good function, life
    expectancy >= 1 year, low bleeding risk), AHA 2011 Class IIa, ATTRACT iliofemoral 2019;
    CHEST 2021 guidance statement 6 (anticoagulation alone); rules DVT-ETR-CANDIDATE-CDT,
    DVT-ETR-CANDIDATE-PMT vs DVT-ANTICOAGULATION-ALONE-CDT/-PMT and their disagreement."""
    result = assess(LEG_DVT)

    for rule_id in ("DVT-ETR-CANDIDATE-CDT", "DVT-ETR-CANDIDATE-PMT"):
        candidate = rec(result, rule_id)
        assert candidate.strength == "consider"
        assert candidate.urgency == "urgent"
        assert candidate.certainty == "firm"
    assert rec(result, "DVT-ANTICOAGULATION-ALONE-CDT").strength == "not_recommended"
    assert strengths(result, "catheter_directed_thrombolysis") == {"consider", "not_recommended"}
    assert window(result, "TW-DVT-ETR-14D").status == "within"
    shown = disagreement(result, "DVT-ETR-CANDIDATE-CDT", "DVT-ANTICOAGULATION-ALONE-CDT")
    assert shown is not None, "CHEST's 'anticoagulation alone' and NICE's 'consider CDT' disagree"
    assert disagreement(result, "DVT-ETR-CANDIDATE-PMT", "DVT-ANTICOAGULATION-ALONE-PMT")


@pytest.mark.parametrize(
    "patch",
    [
        pytest.param({"function": {"ambulatory": False}}, id="not-ambulatory"),
        pytest.param({"function": {"life_expectancy_over_1_year": False}}, id="short-prognosis"),
        pytest.param(
            {"presentation": {"symptom_onset": "2026-05-25T08:00:00+00:00"}}, id="symptoms-16-days"
        ),
    ],
)
def test_iliofemoral_dvt_outside_the_selection_gets_anticoagulation_alone(patch: dict) -> None:
    """Source: NICE NG158 / AHA 2011 selection (ambulatory, life expectancy >= 1 year, low
    bleeding risk, symptoms < 14 days; ATTRACT excluded > 14 days); CHEST 2021 guidance
    statement 6; rule DVT-ETR-CANDIDATE-CDT must not fire."""
    result = assess(build(LEG_DVT, patch))

    assert "DVT-ETR-CANDIDATE-CDT" not in rule_ids(result)
    assert not in_favour(result, "catheter_directed_thrombolysis")
    assert rec(result, "DVT-ANTICOAGULATION-PROXIMAL").strength == "recommended"


def test_has_bled_is_not_the_gate_for_catheter_therapy() -> None:
    """Source: clinical review 2026-12 (HAS-BLED is an atrial-fibrillation score, not
    validated for thrombolysis); SIR 2014 contraindication table and the clinician's
    judgement decide bleeding risk (KB 0.5.0); rule DVT-ETR-CANDIDATE-CDT still offered with
    a HAS-BLED of 3, and its detail says how bleeding risk is judged."""
    has_bled_3 = build(
        LEG_DVT,
        {
            "patient": {"age_years": 72},
            "bleeding_risk": {"previous_major_bleeding": True, "labile_inr": True},
        },
    )
    result = assess(has_bled_3)

    candidate = rec(result, "DVT-ETR-CANDIDATE-CDT")
    assert candidate.strength == "consider"
    assert "HAS-BLED" in candidate.detail["bleeding_risk"]
    assert "SIR" in candidate.detail["bleeding_risk"]
    assert "has_bled_high_risk" not in needs_facts(result)


def test_femoropopliteal_dvt_gets_no_pharmacomechanical_thrombectomy() -> None:
    """Source: ATTRACT femoral-popliteal subgroup 2019 (300 patients, RR 0.97 for PTS, more
    bleeding); rules DVT-FEMOROPOPLITEAL-NO-PMT, DVT-FEMOROPOPLITEAL-NO-CDT."""
    result = assess(FEMOROPOPLITEAL_DVT)

    no_pmt = rec(result, "DVT-FEMOROPOPLITEAL-NO-PMT")
    assert no_pmt.action == "pharmacomechanical_thrombectomy"
    assert no_pmt.strength == "not_recommended"
    assert rec(result, "DVT-FEMOROPOPLITEAL-NO-CDT").strength == "not_recommended"
    assert strengths(result, "pharmacomechanical_thrombectomy") == {"not_recommended"}
    assert "DVT-ETR-CANDIDATE-PMT" not in rule_ids(result)


def test_iliofemoral_dvt_over_21_days_meets_the_chronic_thrombus_cap() -> None:
    """Source: AHA 2011 (Class III, LOE B: no CDT/PCDT for symptoms > 21 days), CaVenT 2012
    eligibility; contraindication CI-AHA-CHRONIC-21D, window TW-DVT-CDT-21D."""
    chronic = build(LEG_DVT, {"presentation": {"symptom_onset": "2026-05-15T08:00:00+00:00"}})
    result = assess(chronic)

    assert "CI-AHA-CHRONIC-21D" in contraindication_ids(result)
    assert window(result, "TW-DVT-CDT-21D").status == "passed"
    assert strengths(result, "catheter_directed_thrombolysis") == {"not_recommended"}
    assert not in_favour(result, "pharmacomechanical_thrombectomy")


def test_phlegmasia_over_21_days_has_thrombolysis_capped_by_the_chronic_rule() -> None:
    """Source: AHA 2011 (Class III, LOE B: CDT/PCDT should not be given for symptoms over 21
    days); rule DVT-PHLEGMASIA-CDT capped by CI-AHA-CHRONIC-21D (ceiling not_recommended)."""
    chronic = build(PHLEGMASIA, {"presentation": {"symptom_onset": "2026-07-28T14:00:00+00:00"}})
    result = assess(chronic)

    lysis = rec(result, "DVT-PHLEGMASIA-CDT")
    assert lysis.rule_strength == "recommended"
    assert lysis.strength == "not_recommended"
    assert "CI-AHA-CHRONIC-21D" in lysis.capped_by
    assert rec(result, "DVT-PHLEGMASIA-EMERGENCY").strength == "recommended"


def test_phlegmasia_cerulea_dolens_is_a_limb_threatening_emergency() -> None:
    """Source: AHA 2011 (Class I, LOE C: CDT or PCDT for limb-threatening iliofemoral DVT),
    CHEST 2021 comment to statement 6, eMedicine (immediate measures); rules
    DVT-PHLEGMASIA-EMERGENCY, DVT-PHLEGMASIA-CDT, DVT-PHLEGMASIA-ANTICOAGULATION."""
    result = assess(PHLEGMASIA)

    assert pathways(result)["limb_threatening_dvt"] == "applies"
    emergency = rec(result, "DVT-PHLEGMASIA-EMERGENCY")
    assert emergency.action == "emergency_care"
    assert emergency.strength == "recommended"
    assert emergency.urgency == "emergency"
    lysis = rec(result, "DVT-PHLEGMASIA-CDT")
    assert lysis.strength == "recommended"
    assert lysis.urgency == "emergency"
    assert lysis.certainty == "firm"
    assert rec(result, "DVT-PHLEGMASIA-ANTICOAGULATION").urgency == "emergency"
    assert "DVT-ANTICOAGULATION-ALONE-CDT" not in rule_ids(result)
    assert urgency(result) == "emergency"


def test_phlegmasia_with_active_bleeding_contraindicates_lysis_but_stays_an_emergency() -> None:
    """Source: SIR 2014 QI guidelines (active internal bleeding: absolute contraindication to
    thrombolysis); AHA 2011 / eMedicine (phlegmasia is still an emergency: surgical or
    mechanical options); rules DVT-PHLEGMASIA-CDT capped by CI-SIR-ACTIVE-BLEEDING,
    DVT-PHLEGMASIA-EMERGENCY."""
    result = assess(build(PHLEGMASIA, {"bleeding_risk": {"active_bleeding": True}}))

    lysis = rec(result, "DVT-PHLEGMASIA-CDT")
    assert lysis.strength == "contraindicated"
    assert lysis.capped_by == ["CI-SIR-ACTIVE-BLEEDING"]
    assert rec(result, "DVT-PHLEGMASIA-PMT").strength == "contraindicated"
    emergency = rec(result, "DVT-PHLEGMASIA-EMERGENCY")
    assert emergency.strength == "recommended"
    assert emergency.capped_by == []
    assert urgency(result) == "emergency"


# ----------------------------------------------------------- isolated distal DVT


def test_isolated_distal_dvt_without_risk_factors_gets_serial_imaging() -> None:
    """Source: CHEST 2021 guidance statement 1 (weak: serial imaging for 2 weeks over
    anticoagulation without severe symptoms or extension risk); rule
    DVT-DISTAL-SERIAL-IMAGING, window TW-IDDVT-SERIAL-14D."""
    result = assess(ISOLATED_DISTAL_DVT)

    serial = rec(result, "DVT-DISTAL-SERIAL-IMAGING")
    assert serial.action == "repeat_imaging"
    assert serial.strength == "consider"
    assert "weekly" in serial.detail["schedule"]
    assert strengths(result, "anticoagulation") == set()
    assert "DVT-ANTICOAGULATION-PROXIMAL" not in rule_ids(result)
    assert window(result, "TW-IDDVT-SERIAL-14D").status == "within"


@pytest.mark.parametrize(
    "patch",
    [
        pytest.param({"exam": {"leg": {"severe_symptoms": True}}}, id="severe-symptoms"),
        pytest.param({"risk_factors": {"distal_extension_risk": True}}, id="extension-risk"),
    ],
)
def test_isolated_distal_dvt_with_severe_symptoms_or_extension_risk_is_anticoagulated(
    patch: dict,
) -> None:
    """Source: CHEST 2021 guidance statement 1 (weak, low certainty: anticoagulate with severe
    symptoms or risk factors for extension); rule DVT-DISTAL-ANTICOAGULATE."""
    result = assess(build(ISOLATED_DISTAL_DVT, patch))

    anticoagulate = rec(result, "DVT-DISTAL-ANTICOAGULATE")
    assert anticoagulate.action == "anticoagulation"
    assert anticoagulate.strength == "consider"
    assert "DVT-DISTAL-SERIAL-IMAGING" not in rule_ids(result)


def test_distal_dvt_that_did_not_extend_is_not_anticoagulated() -> None:
    """Source: CHEST 2021 guidance statement 2 (strong: no anticoagulation if the thrombus does
    not extend on serial imaging; remarks: weekly for 2 weeks); rule DVT-DISTAL-NO-EXTENSION
    fires once the 2 weeks of serial scans are over (KB 0.5.0)."""
    two_weeks_later = build(
        ISOLATED_DISTAL_DVT, NO_EXTENSION_ON_SERIAL_SCAN, {"as_of": "2026-06-24T11:00:00+00:00"}
    )
    result = assess(two_weeks_later)

    stop = rec(result, "DVT-DISTAL-NO-EXTENSION")
    assert stop.action == "anticoagulation"
    assert stop.strength == "not_recommended"


def test_distal_dvt_without_extension_after_one_week_is_not_yet_told_to_stop() -> None:
    """Source: CHEST 2021 guidance statement 2 applies "in patients ... treated with serial
    imaging" after the serial scans (clinical review 2026-12: the rule fired at baseline);
    rule DVT-DISTAL-NO-EXTENSION waits for day 14, serial imaging continues meanwhile."""
    one_week_later = build(
        ISOLATED_DISTAL_DVT, NO_EXTENSION_ON_SERIAL_SCAN, {"as_of": "2026-06-16T11:00:00+00:00"}
    )
    result = assess(one_week_later)

    assert "DVT-DISTAL-NO-EXTENSION" not in rule_ids(result)
    assert rec(result, "DVT-DISTAL-SERIAL-IMAGING").action == "repeat_imaging"


def test_distal_dvt_with_active_cancer_is_never_told_to_stop_on_clear_scans() -> None:
    """Source: CHEST 2021 guidance statement 2 (no anticoagulation if the thrombus does not
    extend) is for patients managed with serial imaging; active cancer is a risk factor for
    extension (statement 1) and brings statement 16 (oral Xa inhibitor, strong) instead
    (clinical review 2026-12: "no extension, stop" must not be offered beside cancer); rules
    DVT-DISTAL-NO-EXTENSION (requires cancer known absent) and DVT-CANCER-ORAL-XA."""
    with_cancer = build(
        ISOLATED_DISTAL_DVT,
        NO_EXTENSION_ON_SERIAL_SCAN,
        {"as_of": "2026-06-24T11:00:00+00:00", "risk_factors": {"active_cancer": True}},
    )
    result = assess(with_cancer)

    assert "DVT-DISTAL-NO-EXTENSION" not in rule_ids(result)
    assert "not_recommended" not in strengths(result, "anticoagulation")
    oral_xa = rec(result, "DVT-CANCER-ORAL-XA")
    assert (oral_xa.action, oral_xa.strength) == ("direct_oral_anticoagulant", "recommended")


def test_anticoagulated_distal_dvt_is_not_stopped_by_a_clear_follow_up_scan() -> None:
    """Source: CHEST 2021 guidance statements 1-2 (dvt.md section 1: "no extension, no
    anticoagulation" is for patients managed with serial imaging; "if anticoagulated, treat
    as for proximal DVT, same agent and duration"); rules DVT-DISTAL-ANTICOAGULATE,
    DVT-DISTAL-NO-EXTENSION (must not advise stopping)."""
    severe_and_treated = build(
        ISOLATED_DISTAL_DVT,
        NO_EXTENSION_ON_SERIAL_SCAN,
        {
            "as_of": "2026-06-16T11:00:00+00:00",
            "exam": {"leg": {"severe_symptoms": True}},
        },
    )
    result = assess(severe_and_treated)

    assert rec(result, "DVT-DISTAL-ANTICOAGULATE").strength == "consider"
    assert "not_recommended" not in strengths(result, "anticoagulation")


def test_distal_dvt_extending_within_the_calf_is_anticoagulated() -> None:
    """Source: CHEST 2021 guidance statement 2 (weak: anticoagulate if it extends but stays
    distal); rule DVT-DISTAL-EXTENDED-DISTALLY."""
    extended = build(
        ISOLATED_DISTAL_DVT,
        {
            "as_of": "2026-06-16T11:00:00+00:00",
            "imaging": {
                "distal_thrombus_extension": True,
                "thrombus_extension_to_proximal_veins": False,
            },
        },
    )
    result = assess(extended)

    assert rec(result, "DVT-DISTAL-EXTENDED-DISTALLY").strength == "consider"
    assert "DVT-DISTAL-NO-EXTENSION" not in rule_ids(result)


def test_distal_dvt_extending_into_the_popliteal_vein_is_anticoagulated() -> None:
    """Source: CHEST 2021 guidance statement 2 (strong: anticoagulate if it extends into the
    proximal veins); rules DVT-DISTAL-EXTENDED-PROXIMALLY, DVT-ANTICOAGULATION-PROXIMAL."""
    extended = build(
        ISOLATED_DISTAL_DVT,
        {
            "as_of": "2026-06-16T11:00:00+00:00",
            "imaging": {
                "thrombosed_segments": [
                    *DISTAL_SEGMENTS,
                    {"segment": "popliteal_vein", "side": "left"},
                ],
                "thrombus_extension_to_proximal_veins": True,
            },
        },
    )
    result = assess(extended)

    extension = rec(result, "DVT-DISTAL-EXTENDED-PROXIMALLY")
    assert extension.strength == "recommended"
    assert extension.urgency == "urgent"
    assert rec(result, "DVT-ANTICOAGULATION-PROXIMAL").strength == "recommended"
    assert "DVT-DISTAL-NO-EXTENSION" not in rule_ids(result)
    assert "DVT-DISTAL-SERIAL-IMAGING" not in rule_ids(result)


# ------------------------------------------------------------------------ duration


@pytest.mark.parametrize(
    ("risk_factors", "rule_id", "strength"),
    [
        pytest.param(
            {"provocation": "unprovoked"},
            "DVT-DURATION-UNPROVOKED",
            "recommended",
            id="unprovoked-extended",
        ),
        pytest.param(
            {"provocation": "persistent_risk_factor", "active_cancer": True},
            "DVT-DURATION-CANCER",
            "recommended",
            id="cancer-extended",
        ),
    ],
)
def test_extended_anticoagulation_for_unprovoked_or_cancer_associated_dvt(
    risk_factors: dict, rule_id: str, strength: str
) -> None:
    """Source: CHEST 2021 guidance statement 24 (strong: offer extended-phase DOAC after
    unprovoked VTE), CHEST 2012 AT9 (Grade 1B with cancer), ESVS 2021 Class I; rules
    DVT-DURATION-UNPROVOKED, DVT-DURATION-CANCER."""
    result = assess(build(FEMOROPOPLITEAL_DVT, {"risk_factors": risk_factors}))

    duration = rec(result, rule_id)
    assert duration.strength == strength
    assert "xtended" in duration.detail["duration"]
    assert "DVT-DURATION-PROVOKED" not in rule_ids(result)
