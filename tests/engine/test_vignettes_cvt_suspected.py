"""Clinical vignettes: suspected cerebral venous thrombosis and its red flags.

Grounding: seed 000 (/work/shared/seeds/000_*.txt, the Vascular & Interventional Partners
patient page on dural venous sinus thrombosis), ESO 2017 on diagnosis, and the rules
CVT-SUSPECTED-* in kb/data/rules/cvt.yaml.
"""

from __future__ import annotations

import pytest
from vignette_support import (
    SUSPECTED_CVT,
    alert_ids,
    assess,
    assess_example,
    build,
    pathways,
    rec,
    rule_ids,
    strengths,
    urgency,
)

RED_FLAGS = (
    "blurred_vision",
    "fainting",
    "loss_of_consciousness",
    "limb_weakness",
    "speech_difficulty",
    "seizure",
)


@pytest.mark.parametrize("red_flag", RED_FLAGS)
def test_each_red_flag_symptom_sends_the_patient_to_emergency_care(red_flag: str) -> None:
    """Source: seed 000 (VIP DVST page: blurred vision, fainting or loss of consciousness,
    inability to move a limb, difficulty speaking, seizures; "a medical emergency that
    requires an immediate response"); rule CVT-SUSPECTED-RED-FLAGS."""
    flagged = build(
        SUSPECTED_CVT,
        {"presentation": {"symptoms": [{"kind": "headache"}, {"kind": red_flag}]}},
    )
    result = assess(flagged)

    emergency = rec(result, "CVT-SUSPECTED-RED-FLAGS")
    assert emergency.action == "emergency_care"
    assert emergency.strength == "recommended"
    assert emergency.urgency == "emergency"
    assert urgency(result) == "emergency"
    assert rec(result, "CVT-SUSPECTED-IMAGING").strength == "recommended"


def test_isolated_headache_gets_venography_but_no_emergency_or_d_dimer() -> None:
    """Source: ESO 2017 (weak: MR or CT venography to confirm CVT; D-dimer not useful with
    isolated headache); seed 000 red flags absent; rules CVT-SUSPECTED-IMAGING,
    CVT-SUSPECTED-D-DIMER (must not fire)."""
    result = assess(SUSPECTED_CVT)

    assert pathways(result) == {"cvt_suspected": "applies"}
    imaging = rec(result, "CVT-SUSPECTED-IMAGING")
    assert imaging.action == "cerebral_venous_imaging"
    assert imaging.strength == "recommended"
    assert imaging.urgency == "urgent"
    assert "venography" in imaging.detail["modality"]
    assert "emergency_care" not in {r.action.value for r in result.recommendations}
    assert "CVT-SUSPECTED-D-DIMER" not in rule_ids(result)
    assert urgency(result) == "urgent"


@pytest.mark.parametrize(
    "exam",
    [
        pytest.param({"focal_deficit": True}, id="focal-deficit"),
        pytest.param({"papilloedema": True}, id="papilloedema"),
    ],
)
def test_headache_with_neurological_signs_adds_a_d_dimer(exam: dict) -> None:
    """Source: ESO 2017 (weak: measure D-dimer before neuroimaging unless the headache is
    isolated or long-standing); rule CVT-SUSPECTED-D-DIMER."""
    result = assess(build(SUSPECTED_CVT, {"exam": exam}))

    d_dimer = rec(result, "CVT-SUSPECTED-D-DIMER")
    assert d_dimer.action == "laboratory_workup"
    assert d_dimer.strength == "consider"
    assert d_dimer.detail["test"] == "D-dimer"


def test_postpartum_woman_with_blurred_vision_and_a_weak_arm_is_an_emergency() -> None:
    """Source: seed 000 (pregnant and postpartum women most at risk; red-flag symptoms need
    the emergency room); worked example cvt-suspected-postpartum-red-flags.yaml."""
    result = assess_example("cvt-suspected-postpartum-red-flags")

    assert strengths(result, "emergency_care") == {"recommended"}
    assert urgency(result) == "emergency"
    assert strengths(result, "cerebral_venous_imaging") == {"recommended"}


@pytest.mark.parametrize(
    "exam",
    [
        pytest.param({"seizure": True}, id="seizure-witnessed-on-examination"),
        pytest.param({"gcs": 7, "consciousness": "coma"}, id="comatose-on-arrival"),
    ],
)
def test_red_flags_found_on_examination_also_mean_emergency_care(exam: dict) -> None:
    """Source: seed 000 (seizures and loss of consciousness are DVST symptoms needing an
    immediate response); ESO 2017; rule CVT-SUSPECTED-RED-FLAGS. A seizure or coma seen by
    the examining clinician is no less a red flag than one the patient reports."""
    result = assess(build(SUSPECTED_CVT, {"exam": exam}))

    assert strengths(result, "emergency_care") == {"recommended"}
    assert urgency(result) == "emergency"


def test_excluded_cvt_leaves_no_cvt_pathway() -> None:
    """Source: case format v1 (closed diagnoses list; excluded is neither confirmed nor
    suspected); pathways cvt_suspected / cvt_acute; engine alert ENGINE-NO-PATHWAY."""
    excluded = build(
        SUSPECTED_CVT,
        {"diagnoses": [{"condition": "cerebral_venous_thrombosis", "status": "excluded"}]},
    )
    result = assess(excluded)

    assert pathways(result) == {}
    assert result.recommendations == []
    assert "ENGINE-NO-PATHWAY" in alert_ids(result)
