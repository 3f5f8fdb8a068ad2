"""HAS-BLED bleeding risk score (Pisters et al., Chest 2010;138:1093-1100).

Derived in atrial fibrillation (Euro Heart Survey) to estimate 1-year major bleeding on
anticoagulation; in venous thromboembolism it has been evaluated for extended
anticoagulation only and is not validated for thrombolysis. It is offered as a bleeding-risk
prompt, not a contraindication. Items follow dvt-verification.md 8 (renal threshold
>= 200 umol/L). Annual bleeding rates are quoted for scores 0-4 only: the figure for 5 was
not confirmed.
"""

from __future__ import annotations

from venapath.scores.base import (
    Band,
    OutputFact,
    ScoreCitation,
    ScoreDefinition,
    Test,
    any_of,
    flag,
    tests_item,
    threshold,
)

_DIALYSIS = "chronic_dialysis_or_renal_transplant"
_CREATININE = "creatinine_umol_l"
ABNORMAL_CREATININE_UMOL_L = 200.0
"""Serum creatinine at or above this (2.26 mg/dL) counts as abnormal renal function."""


ABNORMAL_RENAL_FUNCTION = tests_item(
    "abnormal_renal_function",
    "Abnormal renal function (chronic dialysis, renal transplant, or creatinine >= 200 umol/L)",
    (
        Test(_DIALYSIS, "is", True),
        Test(_CREATININE, "ge", ABNORMAL_CREATININE_UMOL_L, unless="creatinine_recorded_normal"),
    ),
    1,
)
"""1 when dialysis/transplant or creatinine >= 200 umol/L; 0 only when both rule it out
(Kleene OR: one known positive settles the item even if the other fact is unknown)."""


DEFINITION = ScoreDefinition(
    id="has_bled",
    title="HAS-BLED bleeding risk score",
    citation=ScoreCitation(
        id="pisters-2010",
        title="A novel user-friendly score (HAS-BLED) to assess 1-year risk of major bleeding in "
        "patients with atrial fibrillation: the Euro Heart Survey (Chest "
        "2010;138:1093-1100)",
        year=2010,
        evidence="Derivation cohort of 3,978 patients with atrial fibrillation (Euro Heart "
        "Survey), C statistic 0.72; not derived in venous thromboembolism",
        url="https://doi.org/10.1378/chest.10-0134",
    ),
    items=(
        threshold(
            "hypertension",
            "Uncontrolled hypertension (systolic > 160 mmHg)",
            "systolic_bp_mmhg",
            1,
            "gt",
            160,
            unless="blood_pressure_recorded_normal",
        ),
        ABNORMAL_RENAL_FUNCTION,
        flag(
            "abnormal_liver_function",
            "Abnormal liver function (chronic liver disease)",
            "chronic_liver_disease",
            1,
        ),
        flag("stroke", "Stroke history", "stroke_history", 1),
        any_of(
            "bleeding",
            "Bleeding history or predisposition",
            ("previous_major_bleeding", "bleeding_disorder"),
            1,
        ),
        flag("labile_inr", "Labile INR (time in therapeutic range < 60%)", "labile_inr", 1),
        threshold("elderly", "Elderly (age > 65 years)", "age_years", 1, "gt", 65),
        flag("drugs", "Drugs: antiplatelet agent or NSAID", "antiplatelet_or_nsaid", 1),
        flag(
            "alcohol",
            "Alcohol 8 or more units a week",
            "alcohol_8_or_more_units_per_week",
            1,
        ),
    ),
    bands=(
        Band(
            "low",
            0,
            2,
            "HAS-BLED 0-2: not high bleeding risk. Major bleeds per 100 patient-years in the "
            "atrial fibrillation derivation cohort: 1.13 (score 0), 1.02 (1), 1.88 (2).",
        ),
        Band(
            "high",
            3,
            None,
            "HAS-BLED 3 or more: high bleeding risk; use caution and review more often. "
            "Major bleeds per 100 patient-years in the atrial fibrillation derivation "
            "cohort: 3.74 (score 3), 8.70 (4); no confirmed rate above 4.",
        ),
    ),
    applies_when=("leg_dvt_confirmed", "cvt_confirmed", "arm_dvt_confirmed", "on_anticoagulation"),
    outputs=(
        OutputFact(
            "has_bled_high_risk", "HAS-BLED of 3 or more: high bleeding risk", frozenset({"high"})
        ),
    ),
    notes=(
        "Derived in atrial fibrillation, not venous thromboembolism; not validated for "
        "thrombolysis or catheter-directed therapy.",
        "Uncontrolled hypertension is read from the current systolic pressure; a record "
        "saying the blood pressure is normal scores 0 without a number. So does a record "
        "saying creatinine is normal, for the creatinine part of abnormal renal function.",
        "Liver: only chronic liver disease is read; the bilirubin/transaminase criterion is "
        "not captured. Bleeding predisposition: anaemia is not read.",
    ),
)
