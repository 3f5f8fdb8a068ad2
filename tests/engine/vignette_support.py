"""Shared helpers for the clinical vignette tests.

A vignette is a small case, written as a dict in case format v1 with an explicit, timezone-
aware `as_of`, evaluated through the public services (`validate_case_data` then
`assess_case`). The helpers here read the answer the way a clinician would: which actions
are advised and how strongly, which rules said so, what lowered them, what is still unknown.

The base cases state every fact their rules decide on. Unknown is not false in VenaPath, so
a base that left, say, `bleeding_risk` out would turn every in-favour thrombolysis into a
provisional one; vignettes that want an unknown remove the field with `DELETE`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from venapath.engine.assessment import (
    AlertOut,
    Assessment,
    NeedsData,
    Recommendation,
    TimeWindowOut,
)
from venapath.services.case_input import load_case_file, validate_case_data
from venapath.services.evaluation import assess_case

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "cases"

IN_FAVOUR = frozenset({"recommended", "consider"})


class _Delete:
    """Marker for `build`: remove this key from the base (make the field unknown)."""

    def __repr__(self) -> str:
        return "DELETE"


DELETE: Any = _Delete()


# --------------------------------------------------------------------------- building


def build(base: Mapping[str, Any], *patches: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of `base` with each patch deep-merged in order.

    Mappings merge key by key; any other value (lists included) replaces what was there;
    `DELETE` removes the key.
    """
    result: dict[str, Any] = copy.deepcopy(dict(base))
    for patch in patches:
        _merge_into(result, patch)
    return result


def _merge_into(target: dict[str, Any], patch: Mapping[str, Any]) -> None:
    for key, value in patch.items():
        if value is DELETE:
            target.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge_into(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


# ------------------------------------------------------------------------- evaluating


def assess(case: Mapping[str, Any]) -> Assessment:
    """Validate a case dict (format v1) and evaluate it at its own `as_of`."""
    assert "as_of" in case, "vignettes state as_of so that their clocks are deterministic"
    return assess_case(validate_case_data(dict(case), source=str(case.get("case_id"))))


def assess_example(name: str) -> Assessment:
    """Load examples/cases/<name>.yaml with `load_case_file` and evaluate it."""
    return assess_case(load_case_file(EXAMPLES / f"{name}.yaml"))


# --------------------------------------------------------------------------- reading


def recs(assessment: Assessment, action: str | None = None) -> list[Recommendation]:
    """Recommendations, optionally only those for one action."""
    return [r for r in assessment.recommendations if action is None or r.action.value == action]


def strengths(assessment: Assessment, action: str) -> set[str]:
    """The final strengths (after caps) of every recommendation for `action`."""
    return {r.strength.value for r in recs(assessment, action)}


def in_favour(assessment: Assessment, action: str) -> bool:
    """True when some recommendation for `action` is `recommended` or `consider`."""
    return bool(strengths(assessment, action) & IN_FAVOUR)


def rule_ids(assessment: Assessment) -> set[str]:
    """Ids of the rules that produced a recommendation."""
    return {r.rule_id for r in assessment.recommendations}


def rec(assessment: Assessment, rule_id: str) -> Recommendation:
    """The recommendation made by `rule_id`; fails with a summary when it is missing."""
    for candidate in assessment.recommendations:
        if candidate.rule_id == rule_id:
            return candidate
    raise AssertionError(f"no recommendation from {rule_id}; got:\n{describe(assessment)}")


def alert_ids(assessment: Assessment) -> set[str]:
    return {a.id for a in assessment.alerts}


def alert(assessment: Assessment, alert_id: str) -> AlertOut:
    for candidate in assessment.alerts:
        if candidate.id == alert_id:
            return candidate
    raise AssertionError(f"no alert {alert_id}; got {sorted(alert_ids(assessment))}")


def disagreement(assessment: Assessment, rule_a: str, rule_b: str) -> AlertOut | None:
    """The engine's 'sources disagree' alert naming both rules, whichever order it uses."""
    for candidate in assessment.alerts:
        if (
            candidate.id.startswith("ENGINE-DISAGREE-")
            and rule_a in candidate.id
            and rule_b in candidate.id
        ):
            return candidate
    return None


def pathways(assessment: Assessment) -> dict[str, str]:
    """Pathway id -> status (`applies` or `possible`); pathways that do not apply are absent."""
    return {p.id: p.status.value for p in assessment.pathways}


def window(assessment: Assessment, window_id: str) -> TimeWindowOut:
    for candidate in assessment.time_windows:
        if candidate.id == window_id:
            return candidate
    shown = [w.id for w in assessment.time_windows]
    raise AssertionError(f"no time window {window_id}; got {shown}")


def needs_facts(assessment: Assessment) -> set[str]:
    return {n.fact for n in assessment.needs_data}


def needs_entry(assessment: Assessment, fact: str) -> NeedsData:
    for candidate in assessment.needs_data:
        if candidate.fact == fact:
            return candidate
    raise AssertionError(f"{fact} is not in needs_data; got {sorted(needs_facts(assessment))}")


def contraindication_ids(assessment: Assessment) -> set[str]:
    """Ids of the contraindication rules that fired for this patient."""
    return {c.rule_id for c in assessment.contraindications}


def urgency(assessment: Assessment) -> str | None:
    return None if assessment.urgency is None else assessment.urgency.value


def describe(assessment: Assessment) -> str:
    """A readable summary for assertion messages."""
    lines = [f"urgency={urgency(assessment)} pathways={pathways(assessment)}"]
    lines += [
        f"  {r.action.value}: {r.strength.value} ({r.urgency.value}) {r.rule_id}"
        f" capped_by={r.capped_by} certainty={r.certainty.value}"
        for r in assessment.recommendations
    ]
    lines.append(f"  alerts={sorted(alert_ids(assessment))}")
    lines.append(f"  contraindications={sorted(contraindication_ids(assessment))}")
    return "\n".join(lines)


# ------------------------------------------------------------------------ base cases

NO_BLEEDING_RISK: dict[str, Any] = {
    "active_bleeding": False,
    "bleeding_disorder": False,
    "recent_neurovascular_event_3_months": False,
    "anticoagulation_contraindicated": False,
    "recent_intracranial_haemorrhage": False,
    "major_event_within_10_days": False,
    "intracranial_lesion_or_seizure_disorder": False,
    "gi_bleeding_within_3_months": False,
    "internal_eye_surgery_within_3_months": False,
    "thrombolytic_or_contrast_allergy": False,
    "right_to_left_shunt": False,
    "severe_illness_precluding_procedure": False,
    "infected_thrombus_suspected": False,
    "severe_hepatic_dysfunction": False,
    "bacterial_endocarditis": False,
    "diabetic_haemorrhagic_retinopathy": False,
    "previous_major_bleeding": False,
    "stroke_history": False,
    "chronic_dialysis_or_renal_transplant": False,
    "chronic_liver_disease": False,
    "labile_inr": False,
    "alcohol_units_per_week": 2,
}
"""Every SIR 2014 / TO-ACT contraindication and HAS-BLED item looked for and absent."""

NORMAL_LABS: dict[str, Any] = {
    "platelets": {"value": 250, "unit": "10^9/L"},
    "haemoglobin": {"value": 13.2, "unit": "g/dL"},
    "creatinine": {"value": 72, "unit": "umol/L"},
    "egfr_ml_min": 96,
}

NOT_PREGNANT_WOMAN: dict[str, Any] = {
    "sex": "female",
    "pregnant": False,
    "postpartum": False,
    "breastfeeding": False,
}

ACUTE_CVT: dict[str, Any] = {
    "format_version": 1,
    "case_id": "vignette-acute-cvt",
    "as_of": "2026-03-10T12:00:00+00:00",
    "patient": {"age_years": 35, **NOT_PREGNANT_WOMAN},
    "risk_factors": {
        "active_cancer": False,
        "cns_infection": False,
        "thrombophilia": "none",
        "antiphospholipid_syndrome": False,
        "oral_contraceptives": False,
        "previous_cvt_episodes": 0,
        "previous_vte": False,
        "provocation": "provoked_transient",
        "intracranial_hypotension": False,
        "recent_dural_puncture_or_epidural": False,
    },
    "diagnoses": [
        {
            "condition": "cerebral_venous_thrombosis",
            "status": "confirmed",
            "at": "2026-03-09T20:00:00+00:00",
        }
    ],
    "presentation": {
        "symptom_onset": "2026-03-08T08:00:00+00:00",
        "symptoms": [{"kind": "headache"}],
    },
    "exam": {
        "gcs": 15,
        "gcs_before": 15,
        "consciousness": "alert",
        "mental_status_disorder": False,
        "focal_deficit": False,
        "seizure": False,
        "bilateral_babinski": False,
        "papilloedema": False,
        "systolic_bp_mmhg": 126,
        "diastolic_bp_mmhg": 78,
    },
    "imaging": {
        "regions_imaged": ["cerebral"],
        "thrombosed_segments": [
            {"segment": "superior_sagittal_sinus", "modality": "mr_venography"},
            {"segment": "transverse_sinus", "side": "right", "modality": "mr_venography"},
        ],
        "intracerebral_haemorrhage": False,
        "venous_infarct": False,
        "mass_effect": False,
        "herniation": False,
    },
    "labs": NORMAL_LABS,
    "treatment": {
        "anticoagulation": {
            "agent": "lmwh",
            "started_at": "2026-03-09T21:00:00+00:00",
            "therapeutic": True,
        },
        "thrombolysis_within_7_days": False,
        "antiplatelet_or_nsaid": False,
    },
    "course": {"neurological_deterioration": False, "thrombus_propagation": False},
    "bleeding_risk": NO_BLEEDING_RISK,
    "function": {"ambulatory": True, "life_expectancy_over_1_year": True},
}
"""A 35-year-old woman, SSS and right transverse sinus CVT diagnosed yesterday, stable on
therapeutic LMWH, no haemorrhage, no contraindication; provoked by a transient factor."""

SUSPECTED_CVT: dict[str, Any] = {
    "format_version": 1,
    "case_id": "vignette-suspected-cvt",
    "as_of": "2026-05-10T21:30:00+02:00",
    "patient": {"age_years": 32, **NOT_PREGNANT_WOMAN},
    "risk_factors": {"intracranial_hypotension": False, "recent_dural_puncture_or_epidural": False},
    "diagnoses": [{"condition": "cerebral_venous_thrombosis", "status": "suspected"}],
    "presentation": {
        "symptom_onset": "2026-05-09T18:00:00+02:00",
        "symptoms": [{"kind": "headache"}],
    },
    "exam": {
        "gcs": 15,
        "consciousness": "alert",
        "mental_status_disorder": False,
        "focal_deficit": False,
        "seizure": False,
        "papilloedema": False,
    },
}
"""A woman with a new headache for a day; CVT suspected, not yet imaged."""

SUSPECTED_LEG_DVT: dict[str, Any] = {
    "format_version": 1,
    "case_id": "vignette-suspected-leg-dvt",
    "as_of": "2026-04-02T15:00:00+00:00",
    "patient": {"age_years": 45, "sex": "male"},
    "risk_factors": {
        "active_cancer": False,
        "immobilisation": False,
        "bedridden_days": 0,
        "days_since_major_surgery": 400,
        "previous_dvt_documented": False,
    },
    "diagnoses": [{"condition": "leg_dvt", "status": "suspected"}],
    "presentation": {
        "symptom_onset": "2026-03-31T09:00:00+00:00",
        "symptoms": [{"kind": "leg_pain"}],
    },
    "exam": {
        "alternative_diagnosis_as_likely": False,
        "leg": {
            "side": "right",
            "entire_leg_swollen": False,
            "calf_difference_cm": 1.0,
            "deep_vein_tenderness": False,
            "pitting_oedema": False,
            "collateral_superficial_veins": False,
            "phlegmasia": "none",
            "venous_gangrene": False,
        },
    },
}
"""An outpatient with calf pain; every Wells 2003 item stated (0 points as written)."""

WELLS_UNLIKELY: dict[str, Any] = {
    "exam": {
        "alternative_diagnosis_as_likely": True,
        "leg": {"deep_vein_tenderness": True, "pitting_oedema": True},
    }
}
"""Patch: tenderness + pitting oedema (2) with cellulitis as likely (-2): Wells 0, unlikely."""

WELLS_LIKELY: dict[str, Any] = {
    "exam": {
        "leg": {
            "entire_leg_swollen": True,
            "calf_difference_cm": 4.0,
            "deep_vein_tenderness": True,
            "pitting_oedema": True,
        }
    }
}
"""Patch: whole leg swollen, calf +4 cm, tenderness, pitting oedema: Wells 4, likely."""

LEG_DVT: dict[str, Any] = {
    "format_version": 1,
    "case_id": "vignette-leg-dvt",
    "as_of": "2026-06-10T11:00:00+00:00",
    "patient": {"age_years": 38, **NOT_PREGNANT_WOMAN},
    "risk_factors": {
        "active_cancer": False,
        "provocation": "unprovoked",
        "previous_vte": False,
        "thrombophilia": "none",
        "antiphospholipid_syndrome": False,
        "distal_extension_risk": False,
    },
    "diagnoses": [
        {"condition": "leg_dvt", "status": "confirmed", "at": "2026-06-09T16:00:00+00:00"}
    ],
    "presentation": {
        "symptom_onset": "2026-06-05T08:00:00+00:00",
        "symptoms": [{"kind": "leg_swelling"}, {"kind": "leg_pain"}],
    },
    "exam": {
        "systolic_bp_mmhg": 122,
        "diastolic_bp_mmhg": 76,
        "leg": {
            "side": "left",
            "entire_leg_swollen": True,
            "phlegmasia": "none",
            "venous_gangrene": False,
            "severe_symptoms": True,
        },
    },
    "imaging": {
        "regions_imaged": ["leg", "pelvic_abdominal"],
        "thrombosed_segments": [
            {"segment": "common_iliac_vein", "side": "left", "modality": "ct_venography"},
            {"segment": "external_iliac_vein", "side": "left", "modality": "ct_venography"},
            {"segment": "common_femoral_vein", "side": "left", "modality": "duplex_ultrasound"},
        ],
        "iliac_imaging_inconclusive": False,
        "thrombus_extension_to_proximal_veins": False,
        "distal_thrombus_extension": False,
    },
    "labs": NORMAL_LABS,
    "treatment": {
        "anticoagulation": {
            "agent": "lmwh",
            "started_at": "2026-06-09T17:00:00+00:00",
            "therapeutic": True,
        },
        "antiplatelet_or_nsaid": False,
        "procedures": [],
    },
    "bleeding_risk": NO_BLEEDING_RISK,
    "function": {
        "ambulatory": True,
        "good_functional_status": True,
        "life_expectancy_over_1_year": True,
    },
}
"""A 38-year-old ambulatory woman, left iliofemoral DVT for 5 days, unprovoked, HAS-BLED 0,
no contraindication to thrombolysis: the early-thrombus-removal candidate of dvt.md 2/4."""

FEMOROPOPLITEAL_SEGMENTS: list[dict[str, Any]] = [
    {"segment": "femoral_vein", "side": "left", "modality": "compression_ultrasound"},
    {"segment": "popliteal_vein", "side": "left", "modality": "compression_ultrasound"},
]

DISTAL_SEGMENTS: list[dict[str, Any]] = [
    {"segment": "peroneal_vein", "side": "left", "modality": "compression_ultrasound"},
]

PHLEGMASIA: dict[str, Any] = build(
    LEG_DVT,
    {
        "case_id": "vignette-phlegmasia",
        "as_of": "2026-08-21T03:10:00+00:00",
        "patient": {"age_years": 58},
        "diagnoses": [
            {"condition": "leg_dvt", "status": "confirmed", "at": "2026-08-21T02:40:00+00:00"}
        ],
        "presentation": {"symptom_onset": "2026-08-20T14:00:00+00:00"},
        "exam": {"leg": {"phlegmasia": "cerulea_dolens", "venous_gangrene": False}},
        "treatment": {"anticoagulation": DELETE},
    },
)
"""Phlegmasia cerulea dolens of the left leg (iliofemoral DVT), 13 hours of symptoms, no
contraindication to thrombolysis recorded as present."""

VENOPLASTY_FOLLOW_UP: dict[str, Any] = {
    "format_version": 1,
    "case_id": "vignette-venoplasty-follow-up",
    "as_of": "2026-10-20T09:00:00+00:00",
    "patient": {"age_years": 48, "sex": "female"},
    "diagnoses": [],
    "labs": {"metabolic_or_infection_screen_normal": True},
    "follow_up": {
        "procedure_kind": "venoplasty",
        "procedure_date": "2026-09-01T09:00:00+00:00",
        "indication": "other",
        "earlier_repeat_procedures": 0,
        "symptoms_back_within_hours": False,
        "fever_or_urinary_symptoms": False,
    },
}
"""A follow-up visit 49 days after a jugular venoplasty (not for CCSVI); screen normal."""
