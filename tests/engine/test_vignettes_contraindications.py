"""Clinical vignettes: contraindication screening.

Contraindications (kb/data/rules/safety.yaml) are checked for every patient and can only
lower an action's strength to their ceiling: absolute ones to `contraindicated`, relative
ones to `consider` (or `not_recommended` where the source says "should not"). One that
cannot be checked leaves an in-favour recommendation provisional and names the missing fact.

Grounding: SIR 2014 quality-improvement guidelines (absolute and relative contraindications
to endovascular thrombus removal), AHA 2011, TO-ACT 2020 exclusions, dvt.md section 3 and
cvt.md section 9.
"""

from __future__ import annotations

import pytest
from vignette_support import (
    ACUTE_CVT,
    DELETE,
    FEMOROPOPLITEAL_SEGMENTS,
    LEG_DVT,
    PHLEGMASIA,
    assess,
    build,
    contraindication_ids,
    needs_entry,
    rec,
    strengths,
    urgency,
)

CAPS_ON_THROMBOLYSIS = [
    pytest.param(
        {"bleeding_risk": {"recent_neurovascular_event_3_months": True}},
        "CI-SIR-NEUROVASCULAR-3M",
        "contraindicated",
        id="absolute-stroke-within-3-months",
    ),
    pytest.param(
        {"bleeding_risk": {"anticoagulation_contraindicated": True}},
        "CI-SIR-ANTICOAGULATION-CI",
        "contraindicated",
        id="absolute-cannot-be-anticoagulated",
    ),
    pytest.param(
        {"bleeding_risk": {"major_event_within_10_days": True}},
        "CI-SIR-RECENT-MAJOR-EVENT",
        "consider",
        id="relative-surgery-within-10-days",
    ),
    pytest.param(
        {"exam": {"systolic_bp_mmhg": 196, "diastolic_bp_mmhg": 100}},
        "CI-SIR-UNCONTROLLED-HYPERTENSION",
        "consider",
        id="relative-uncontrolled-hypertension",
    ),
    pytest.param(
        {"bleeding_risk": {"gi_bleeding_within_3_months": True}},
        "CI-SIR-BLEEDING-HISTORY-3M",
        "consider",
        id="relative-recent-gi-bleed",
    ),
    pytest.param(
        {"bleeding_risk": {"intracranial_lesion_or_seizure_disorder": True}},
        "CI-SIR-INTRACRANIAL-LESION",
        "consider",
        id="relative-intracranial-tumour",
    ),
    pytest.param(
        {"labs": {"platelets": {"value": 72, "unit": "10^9/L"}}},
        "CI-SIR-PLATELETS-LOW",
        "consider",
        id="relative-platelets-72",
    ),
    pytest.param({"labs": {"egfr_ml_min": 42}}, "CI-SIR-RENAL", "consider", id="relative-egfr-42"),
    pytest.param(
        {"patient": {"age_years": 33, "pregnant": True}},
        "CI-SIR-PREGNANCY-LACTATION",
        "consider",
        id="relative-pregnancy",
    ),
    pytest.param(
        {"bleeding_risk": {"infected_thrombus_suspected": True}},
        "CI-SIR-OTHER-RELATIVE",
        "consider",
        id="relative-infected-thrombus",
    ),
    pytest.param(
        {"function": {"life_expectancy_over_1_year": False}},
        "CI-TOACT-POOR-PROGNOSIS",
        "not_recommended",
        id="poor-prognosis",
    ),
]


@pytest.mark.parametrize(("patch", "cap_id", "ceiling"), CAPS_ON_THROMBOLYSIS)
def test_each_contraindication_lowers_phlegmasia_thrombolysis_to_its_ceiling(
    patch: dict, cap_id: str, ceiling: str
) -> None:
    """Source: SIR 2014 QI guidelines (consensus table of absolute and relative
    contraindications), ATTRACT and TO-ACT exclusions; AHA 2011 Class I for CDT/PCDT in
    limb-threatening DVT; rules DVT-PHLEGMASIA-CDT / DVT-PHLEGMASIA-PMT and the CI-* caps."""
    result = assess(build(PHLEGMASIA, patch))

    assert cap_id in contraindication_ids(result)
    for rule_id in ("DVT-PHLEGMASIA-CDT", "DVT-PHLEGMASIA-PMT"):
        removal = rec(result, rule_id)
        assert removal.rule_strength == "recommended"
        assert removal.strength == ceiling
        assert removal.capped_by == [cap_id]
    # The emergency itself is never capped.
    assert rec(result, "DVT-PHLEGMASIA-EMERGENCY").strength == "recommended"
    assert urgency(result) == "emergency"


def test_absolute_contraindication_to_anticoagulation_is_respected_for_proximal_dvt() -> None:
    """Source: SIR 2014 QI (absolute contraindication), TO-ACT 2020 exclusion; CHEST 2016 for
    the underlying recommendation; rule DVT-ANTICOAGULATION-PROXIMAL capped by
    CI-ANTICOAGULATION-ABSOLUTE."""
    contraindicated = build(LEG_DVT, {"bleeding_risk": {"anticoagulation_contraindicated": True}})
    result = assess(contraindicated)

    anticoagulation = rec(result, "DVT-ANTICOAGULATION-PROXIMAL")
    assert anticoagulation.rule_strength == "recommended"
    assert anticoagulation.strength == "contraindicated"
    assert anticoagulation.capped_by == ["CI-ANTICOAGULATION-ABSOLUTE"]
    assert "recommended" not in strengths(result, "anticoagulation")


def test_thrombocytopenia_in_cvt_makes_anticoagulation_an_individual_decision() -> None:
    """Source: TO-ACT 2020 (platelets < 100 x 10^9/L a contraindication to anticoagulant
    treatment); ESO 2017 for anticoagulation; rule CVT-ANTICOAGULATION-PARENTERAL capped by
    CI-TOACT-ANTICOAGULATION-CVT (relative, ceiling consider)."""
    low_platelets = build(ACUTE_CVT, {"labs": {"platelets": {"value": 80, "unit": "10^9/L"}}})
    result = assess(low_platelets)

    anticoagulation = rec(result, "CVT-ANTICOAGULATION-PARENTERAL")
    assert anticoagulation.strength == "consider"
    assert anticoagulation.capped_by == ["CI-TOACT-ANTICOAGULATION-CVT"]


@pytest.mark.parametrize(
    ("base", "patch", "rule_id", "fact", "cap_id"),
    [
        pytest.param(
            LEG_DVT,
            {"bleeding_risk": {"anticoagulation_contraindicated": DELETE}},
            "DVT-ANTICOAGULATION-PROXIMAL",
            "anticoagulation_contraindicated",
            "CI-ANTICOAGULATION-ABSOLUTE",
            id="dvt-anticoagulation-contraindication-not-asked",
        ),
        pytest.param(
            ACUTE_CVT,
            {"bleeding_risk": {"bleeding_disorder": DELETE}},
            "CVT-ANTICOAGULATION-PARENTERAL",
            "bleeding_disorder",
            "CI-TOACT-ANTICOAGULATION-CVT",
            id="cvt-bleeding-disorder-not-asked",
        ),
        pytest.param(
            PHLEGMASIA,
            {"labs": {"platelets": DELETE}},
            "DVT-PHLEGMASIA-CDT",
            "platelets_10e9_l",
            "CI-SIR-PLATELETS-LOW",
            id="thrombolysis-platelets-not-measured",
        ),
        pytest.param(
            LEG_DVT,
            {"bleeding_risk": {"active_bleeding": DELETE}},
            "DVT-ETR-CANDIDATE-PMT",
            "active_bleeding",
            "CI-SIR-ACTIVE-BLEEDING",
            id="thrombectomy-active-bleeding-not-asked",
        ),
    ],
)
def test_unchecked_contraindication_makes_an_in_favour_recommendation_provisional(
    base: dict, patch: dict, rule_id: str, fact: str, cap_id: str
) -> None:
    """Source: case format v1 (absent = unknown, never no); SIR 2014 QI and TO-ACT 2020 for
    the contraindications that could not be checked."""
    result = assess(build(base, patch))

    advice = rec(result, rule_id)
    assert advice.strength in {"recommended", "consider"}
    assert advice.certainty == "provisional"
    assert cap_id in advice.pending_contraindications
    assert cap_id in needs_entry(result, fact).rules


def test_haemorrhage_caused_by_cvt_does_not_cap_anticoagulation() -> None:
    """Source: EFNS 2010 good practice point and CHEST 2021 guidance statement 5 (with or
    without haemorrhage); safety.yaml CI-SIR-NEUROVASCULAR-3M rationale ("the haemorrhage
    caused by the venous thrombosis itself is not counted"); rule
    CVT-ANTICOAGULATION-PARENTERAL."""
    haemorrhagic = build(
        ACUTE_CVT,
        {
            "imaging": {
                "intracerebral_haemorrhage": True,
                "haemorrhage_due_to_cvt": True,
                "venous_infarct": True,
            },
            "bleeding_risk": {"recent_neurovascular_event_3_months": True},
        },
    )
    result = assess(haemorrhagic)

    for advice in result.recommendations:
        if advice.action == "anticoagulation":
            assert advice.capped_by == [], advice.rule_id
    assert rec(result, "CVT-ANTICOAGULATION-PARENTERAL").strength == "recommended"
    assert "CI-SIR-NEUROVASCULAR-3M" not in contraindication_ids(result)


def test_a_cap_never_raises_an_advice_against() -> None:
    """Source: SIR 2014 QI (relative contraindication: ceiling consider) applied to ATTRACT
    femoral-popliteal 2019 (not recommended); rule DVT-FEMOROPOPLITEAL-NO-CDT stays
    not_recommended, uncapped, and firm although other caps are unchecked."""
    femoropopliteal = build(
        LEG_DVT,
        {
            "imaging": {"thrombosed_segments": FEMOROPOPLITEAL_SEGMENTS},
            "bleeding_risk": {"major_event_within_10_days": True, "active_bleeding": DELETE},
        },
    )
    result = assess(femoropopliteal)

    assert "CI-SIR-RECENT-MAJOR-EVENT" in contraindication_ids(result)
    advice = rec(result, "DVT-FEMOROPOPLITEAL-NO-CDT")
    assert advice.strength == "not_recommended"
    assert advice.capped_by == []
    assert advice.certainty == "firm"
