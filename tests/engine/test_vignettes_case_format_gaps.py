"""Case-format gaps of issue 14 part 4: what a clinician can now say without inventing a
number or claiming a scan, and how each statement reaches the rules.

Each test names the source of the rule it exercises. Unknown stays unknown: every test also
checks that leaving the new field out keeps the old, open answer.
"""

from __future__ import annotations

from typing import Any

import pytest
from test_vignettes_intracranial_hypotension import IH_CVT
from test_vignettes_leg_dvt import ISOLATED_DISTAL_DVT
from vignette_support import (
    ACUTE_CVT,
    DELETE,
    LEG_DVT,
    alert_ids,
    assess,
    build,
    contraindication_ids,
    needs_facts,
    rec,
    rule_ids,
)

from venapath.domain.facts import derive_facts
from venapath.services.case_input import CaseInputError, validate_case_data

NO_NUMBERS = {
    "exam": {"systolic_bp_mmhg": DELETE, "diastolic_bp_mmhg": DELETE},
    "labs": {"creatinine": DELETE},
    "bleeding_risk": {"alcohol_units_per_week": DELETE},
}
"""LEG_DVT without blood pressure, creatinine or alcohol figures."""


def _facts(case: dict[str, Any]) -> dict[str, Any]:
    validated = validate_case_data(case)
    assert validated.as_of is not None
    return derive_facts(validated, validated.as_of)


def _pointers(error: CaseInputError) -> list[str]:
    return [problem.pointer for problem in error.problems]


# ----------------------------------------------------- normal without a number


def test_normal_blood_pressure_settles_the_hypertension_contraindication() -> None:
    """Source: SIR 2014 (modified) relative contraindication, systolic > 180 or diastolic >
    110 mmHg (CI-SIR-UNCONTROLLED-HYPERTENSION); TO-ACT diastolic > 120. 'Normal' (below
    140/90) lies under both, so the rule is settled without a number."""
    hypertension = "CI-SIR-UNCONTROLLED-HYPERTENSION"
    unknown = assess(build(LEG_DVT, NO_NUMBERS))
    assert _outcome(unknown, hypertension) == "unknown"

    stated = assess(build(LEG_DVT, NO_NUMBERS, {"exam": {"blood_pressure_normal": True}}))
    assert _outcome(stated, hypertension) == "not_fired"

    toact = "CI-TOACT-BLEEDING-RISK-CVT"  # TO-ACT exclusion: diastolic > 120 mmHg (CVT)
    cvt_no_numbers = build(ACUTE_CVT, {"exam": NO_NUMBERS["exam"]})
    assert _outcome(assess(cvt_no_numbers), toact) == "unknown"
    cvt_normal = build(cvt_no_numbers, {"exam": {"blood_pressure_normal": True}})
    assert _outcome(assess(cvt_normal), toact) == "not_fired"
    assert hypertension not in rec(stated, "DVT-ETR-CANDIDATE-CDT").pending_contraindications


def _outcome(result: Any, rule_id: str) -> str:
    return next(str(t.outcome.value) for t in result.trace if t.rule_id == rule_id)


def test_a_measured_high_pressure_still_counts_when_normal_is_not_stated() -> None:
    """Source: SIR 2014 (modified), as above: the number decides when there is one."""
    high = assess(build(LEG_DVT, {"exam": {"systolic_bp_mmhg": 190, "diastolic_bp_mmhg": 100}}))
    assert "CI-SIR-UNCONTROLLED-HYPERTENSION" in contraindication_ids(high)


def test_normal_beside_a_high_number_is_refused_naming_the_field() -> None:
    with pytest.raises(CaseInputError) as caught:
        validate_case_data(
            build(LEG_DVT, {"exam": {"systolic_bp_mmhg": 150, "blood_pressure_normal": True}})
        )
    assert _pointers(caught.value) == ["/exam/blood_pressure_normal"]
    with pytest.raises(CaseInputError) as caught:
        validate_case_data(
            build(
                LEG_DVT,
                {
                    "labs": {
                        "creatinine": {"value": 250, "unit": "umol/L"},
                        "creatinine_normal": True,
                    }
                },
            )
        )
    assert _pointers(caught.value) == ["/labs/creatinine_normal"]


@pytest.mark.parametrize(
    ("patch", "item"),
    [
        ({"exam": {"blood_pressure_normal": True}}, "hypertension"),
        ({"labs": {"creatinine_normal": True}}, "abnormal_renal_function"),
        ({"bleeding_risk": {"alcohol_8_or_more_units_per_week": False}}, "alcohol"),
    ],
)
def test_has_bled_items_are_settled_by_normal_or_absent_without_a_number(
    patch: dict[str, Any], item: str
) -> None:
    """Source: HAS-BLED (Pisters 2010): hypertension systolic > 160, creatinine >= 200
    umol/L, alcohol >= 8 units a week. A stated normal or 'no excess' scores 0; left out,
    the item stays unknown."""
    unknown = assess(build(LEG_DVT, NO_NUMBERS)).scores["has_bled"]
    assert _item_points(unknown, item) is None

    settled = assess(build(LEG_DVT, NO_NUMBERS, patch)).scores["has_bled"]
    assert _item_points(settled, item) == 0


def test_an_alcohol_number_decides_over_the_yes_no_answer() -> None:
    """Source: HAS-BLED alcohol item (>= 8 units a week)."""
    case = build(
        LEG_DVT,
        {
            "bleeding_risk": {
                "alcohol_units_per_week": 10,
                "alcohol_8_or_more_units_per_week": False,
            }
        },
    )
    assert _facts(case)["alcohol_8_or_more_units_per_week"] is True


def _item_points(score: Any, item_id: str) -> int | None:
    points: int | None = next(item.points for item in score.items if item.id == item_id)
    return points


# ------------------------------------------------------------ CSF leak still open


def test_an_active_leak_after_a_successful_patch_is_still_closed() -> None:
    """Source: FERRANTE-2021, KWON-2020, SIH-REVIEW-2021 (IH-CVT-TREAT-LEAK: consider closing
    the leak). A stated open leak decides over a patch recorded as successful."""
    patched = {"treatment": {"procedures": [{"kind": "epidural_blood_patch", "succeeded": True}]}}
    sealed = assess(build(IH_CVT, patched))
    assert "IH-CVT-TREAT-LEAK" not in rule_ids(sealed)

    leaking_again = assess(build(IH_CVT, patched, {"risk_factors": {"csf_leak_active": True}}))
    assert "IH-CVT-TREAT-LEAK" in rule_ids(leaking_again)
    assert "IH-CVT-NEURAXIAL-TIMING" in alert_ids(leaking_again)


def test_a_leak_that_sealed_on_its_own_needs_no_patch() -> None:
    """Source: as above. No patch listed used to read as 'not sealed'; a stated sealed leak
    now settles it."""
    assert "IH-CVT-TREAT-LEAK" in rule_ids(assess(IH_CVT))
    sealed = assess(build(IH_CVT, {"risk_factors": {"csf_leak_active": False}}))
    assert "IH-CVT-TREAT-LEAK" not in rule_ids(sealed)


def test_an_active_leak_counts_as_intracranial_hypotension_and_unknown_stays_unknown() -> None:
    case = build(ACUTE_CVT, {"risk_factors": {"intracranial_hypotension": DELETE}})
    assert _facts(case)["intracranial_hypotension"] is None
    assert _facts(case)["csf_leak_unsealed"] is None  # no procedure list, nothing stated
    leaking = build(case, {"risk_factors": {"csf_leak_active": True}})
    assert _facts(leaking)["intracranial_hypotension"] is True
    assert _facts(leaking)["csf_leak_unsealed"] is True


# ------------------------------------------------ isolated distal DVT, leg scan only

LEG_SCAN_ONLY = {"imaging": {"regions_imaged": ["leg"]}}


def test_a_leg_only_scan_leaves_isolated_distal_dvt_unknown_unless_proximal_veins_clear() -> None:
    """Source: CHEST 2021 (isolated distal DVT: most proximal extent below the popliteal
    vein; serial imaging or anticoagulation, DVT-DISTAL-SERIAL-IMAGING). A leg-only scan does
    not show the iliac veins; the report that the proximal veins are clear does, without
    claiming a pelvic scan."""
    leg_only = build(ISOLATED_DISTAL_DVT, LEG_SCAN_ONLY)
    assert _facts(leg_only)["isolated_distal_dvt"] is None
    assert "DVT-DISTAL-SERIAL-IMAGING" not in rule_ids(assess(leg_only))

    clear = build(leg_only, {"imaging": {"proximal_veins_clear": True}})
    facts = _facts(clear)
    assert facts["isolated_distal_dvt"] is True
    assert facts["iliofemoral_involved"] is False
    assert "DVT-DISTAL-SERIAL-IMAGING" in rule_ids(assess(clear))


def test_proximal_veins_clear_beside_a_proximal_thrombus_is_refused() -> None:
    case = build(
        ISOLATED_DISTAL_DVT,
        LEG_SCAN_ONLY,
        {
            "imaging": {
                "proximal_veins_clear": True,
                "thrombosed_segments": [{"segment": "popliteal_vein", "side": "left"}],
            }
        },
    )
    with pytest.raises(CaseInputError) as caught:
        validate_case_data(case)
    assert _pointers(caught.value) == ["/imaging/proximal_veins_clear"]


# ----------------------------------------------------------- suspected HIT/VITT


@pytest.mark.parametrize(
    "patch",
    [
        {"labs": {"hit_or_vitt_suspected": True}},
        {"course": {"platelet_fall_on_heparin": True}},
    ],
    ids=["stated suspicion", "platelet fall on heparin"],
)
def test_suspected_hit_or_vitt_raises_the_alert_with_platelets_over_100(
    patch: dict[str, Any],
) -> None:
    """Source: SIEGLER-2021-VITT, CDC-2021-VITT (no heparin until HIT testing is negative;
    non-heparin anticoagulant, IVIG, haematology), ASH-EDU-2017-HIT-DIAGNOSIS (consider HIT
    whenever a patient on heparin has a significant platelet fall); alert
    CVT-THROMBOCYTOPENIA-VITT-HIT. ACUTE_CVT has platelets 250 on LMWH."""
    assert "CVT-THROMBOCYTOPENIA-VITT-HIT" not in alert_ids(assess(ACUTE_CVT))
    assert "CVT-THROMBOCYTOPENIA-VITT-HIT" in alert_ids(assess(build(ACUTE_CVT, patch)))


def test_nobody_is_asked_whether_hit_is_suspected() -> None:
    """The suspicion can only add the alert: it is read as recorded, and never asked for."""
    result = assess(ACUTE_CVT)
    assert "hit_or_vitt_suspicion_recorded" not in needs_facts(result)


# --------------------------------------------------------------- gestational age


def test_a_gestational_age_is_a_pregnancy() -> None:
    case = build(ACUTE_CVT, {"patient": {"pregnant": DELETE, "gestational_age_weeks": 31}})
    facts = _facts(case)
    assert facts["pregnant"] is True
    assert facts["gestational_age_weeks"] == 31
    assert _facts(build(ACUTE_CVT, {"patient": {"pregnant": DELETE}}))["pregnant"] is None


@pytest.mark.parametrize(
    "patient",
    [
        {"pregnant": False, "gestational_age_weeks": 12},
        {
            "sex": "male",
            "pregnant": DELETE,
            "postpartum": DELETE,
            "breastfeeding": DELETE,
            "gestational_age_weeks": 12,
        },
        {
            "pregnant": DELETE,
            "postpartum": DELETE,
            "postpartum_days": 10,
            "gestational_age_weeks": 12,
        },
    ],
    ids=["not pregnant", "male", "postpartum"],
)
def test_a_gestational_age_that_contradicts_the_patient_is_refused(
    patient: dict[str, Any],
) -> None:
    with pytest.raises(CaseInputError) as caught:
        validate_case_data(build(ACUTE_CVT, {"patient": patient}))
    assert _pointers(caught.value) == ["/patient/gestational_age_weeks"]
