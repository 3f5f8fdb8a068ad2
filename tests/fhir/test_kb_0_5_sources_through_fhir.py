"""Sources added to knowledge base 0.5.0, reached through a FHIR record.

The per-patient vignettes are in tests/engine/test_vignettes_kb_0_5_sources.py.
"""

from __future__ import annotations

from fhir_fixtures import assess_record, dvt_record
from venapath.kb.model import KnowledgeBase


def test_a_charted_dvt_with_the_leg_not_described_gets_no_home_treatment_advice(
    kb: KnowledgeBase,
) -> None:
    """Source: ASH 2020 recommendation 1 (home over hospital treatment for uncomplicated
    DVT, conditional); rule DVT-HOME-TREATMENT. The chart says DVT but not whether the leg
    is limb-threatening or the patient bleeding: unknown is not false, so the suggestion of
    less care is withheld and those facts are asked for."""
    result = assess_record(kb, dvt_record())

    assert "DVT-HOME-TREATMENT" not in {a.id for a in result.alerts}
    asked = {n.fact for n in result.needs_data}
    assert {"limb_threatening_dvt", "active_bleeding"} <= asked
    assert any("DVT-HOME-TREATMENT" in n.rules for n in result.needs_data), (
        "the home-treatment rule should say which facts would settle it"
    )
