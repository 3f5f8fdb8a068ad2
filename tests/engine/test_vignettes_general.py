"""Clinical vignettes: patients outside every pathway, and patients whose diagnosis is unknown.

Grounding: case format v1 (src/venapath/domain/case.py: `diagnoses` is a closed list once
written; absent means unknown; `follow_up` absent means not a follow-up) and the pathway
gates in kb/data/pathways.yaml.
"""

from __future__ import annotations

from vignette_support import DELETE, alert, assess, build, needs_facts, pathways, urgency

HEADACHE_ONLY = {
    "format_version": 1,
    "case_id": "vignette-no-venous-condition",
    "as_of": "2026-02-14T10:00:00+00:00",
    "patient": {"age_years": 40, "sex": "male"},
    "risk_factors": {"intracranial_hypotension": False, "recent_dural_puncture_or_epidural": False},
    "diagnoses": [],
    "presentation": {
        "symptom_onset": "2026-02-13T08:00:00+00:00",
        "symptoms": [{"kind": "headache"}],
    },
    "exam": {"gcs": 15, "consciousness": "alert", "focal_deficit": False, "seizure": False},
}
"""A man with a tension-type headache; no venous condition diagnosed or suspected."""


def test_patient_with_no_venous_condition_gets_no_pathway_and_no_advice() -> None:
    """Source: case format v1 (an empty, closed diagnoses list: nothing is diagnosed or
    suspected; no follow_up block: not a follow-up); engine alert ENGINE-NO-PATHWAY."""
    result = assess(HEADACHE_ONLY)

    assert result.pathways == []
    assert result.recommendations == []
    assert urgency(result) is None
    assert result.time_windows == []
    assert alert(result, "ENGINE-NO-PATHWAY").severity == "info"
    assert result.errors == []


def test_unknown_diagnoses_leave_pathways_possible_and_ask_for_the_diagnosis() -> None:
    """Source: case format v1 (absent = unknown, never no); pathways.yaml ("when it is unknown,
    its rules can only ask for data")."""
    result = assess(build(HEADACHE_ONLY, {"diagnoses": DELETE}))

    assert result.recommendations == []
    assert "possible" in set(pathways(result).values())
    assert "applies" not in set(pathways(result).values())
    assert {"cvt_suspected", "leg_dvt_suspected"} <= needs_facts(result)
    assert "ENGINE-NO-PATHWAY" not in {a.id for a in result.alerts}
