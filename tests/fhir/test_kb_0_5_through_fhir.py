"""Knowledge base 0.5.0 items reached through a FHIR record, not a typed-in case.

Each test names its source; the per-patient vignettes are in
tests/engine/test_vignettes_kb_0_5.py.
"""

from __future__ import annotations

from typing import Any

from fhir_fixtures import NOW, collection, cvt_record, dvt_record, observation
from venapath.engine.assessment import Assessment
from venapath.fhir.parse import read_resources
from venapath.fhir.to_case import case_from_fhir
from venapath.kb.model import KnowledgeBase
from venapath.services.evaluation import assess_case

WHOLE = frozenset({"Condition", "Procedure"})


def _assess(kb: KnowledgeBase, record: list[dict[str, Any]]) -> Assessment:
    mapped = case_from_fhir(read_resources(collection(*record)), kb.codes, NOW, complete=WHOLE)
    return assess_case(mapped.case, kb=kb, trace=False)


def test_cvt_with_low_platelets_in_the_chart_raises_the_vitt_hit_alert(kb: KnowledgeBase) -> None:
    """Source: Siegler et al., Stroke 2021 and CDC/ISTH guidance (suspect VITT/HIT: no
    heparin until tested, non-heparin anticoagulant, IVIG); TO-ACT 2020 (thrombocytopenia
    excluded); alert CVT-THROMBOCYTOPENIA-VITT-HIT, contraindication
    CI-CVT-PLATELETS-LOW-LYSIS, from a platelet Observation of 45 x 10^9/L."""
    record = [r for r in cvt_record() if r["id"] != "plt"]
    record.append(observation("plt", "777-3", "Platelets", 45, "10*3/uL"))
    result = _assess(kb, record)

    assert "CVT-THROMBOCYTOPENIA-VITT-HIT" in {a.id for a in result.alerts}
    assert "CI-CVT-PLATELETS-LOW-LYSIS" in {c.rule_id for c in result.contraindications}


def test_cvt_with_normal_platelets_in_the_chart_raises_no_vitt_alert(kb: KnowledgeBase) -> None:
    """Source: as above; the alert needs platelets < 100 (the record has 210)."""
    result = _assess(kb, cvt_record())

    assert "CVT-THROMBOCYTOPENIA-VITT-HIT" not in {a.id for a in result.alerts}


def test_a_charted_dvt_gets_chest_2021_advice_with_its_evidence(kb: KnowledgeBase) -> None:
    """Source: CHEST 2021 guidance statements 12 and 29; every citation in the result says
    where the source says it, what it says and when it was read (KB 0.5.0)."""
    result = _assess(kb, dvt_record())

    by_rule = {r.rule_id: r for r in result.recommendations}
    stockings = by_rule["DVT-NO-ROUTINE-STOCKINGS"]
    assert stockings.strength == "not_recommended"
    for recommendation in result.recommendations:
        for citation in recommendation.citations:
            assert citation.locator
            assert citation.quote
            assert citation.checked is not None
