"""Engine behaviour that no single vignette shows: failures, gating, order, caps."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from venapath.domain.facts import FactValue
from venapath.engine.evaluate import evaluate
from venapath.kb.model import KnowledgeBase

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ILIOFEMORAL: dict[str, FactValue] = {
    "leg_dvt_confirmed": True,
    "proximal_leg_veins_involved": True,
    "iliofemoral_involved": True,
    "limb_threatening_dvt": False,
    "cvt_confirmed": False,
    "cvt_red_flag_presentation": False,
    "cvt_suspected": False,
    "leg_dvt_suspected": False,
    "followup_procedure_kind": "none",
    "ccsvi_indication": False,
    "intracranial_hypotension_diagnosed": False,
}


def _broken(kb: KnowledgeBase, rule_id: str) -> KnowledgeBase:
    def explode(_facts: object) -> bool:
        raise ValueError("simulated fault")

    rules = tuple(dataclasses.replace(r, check=explode) if r.id == rule_id else r for r in kb.rules)
    by_pathway = {
        key: tuple(dataclasses.replace(r, check=explode) if r.id == rule_id else r for r in value)
        for key, value in kb.rules_by_pathway.items()
    }
    return dataclasses.replace(kb, rules=rules, rules_by_pathway=by_pathway)


def test_a_failing_rule_becomes_an_error_entry_and_the_others_still_run(kb: KnowledgeBase) -> None:
    result = evaluate(_broken(kb, "DVT-ANTICOAGULATION-PROXIMAL"), ILIOFEMORAL, NOW)
    assert [e.rule_id for e in result.errors] == ["DVT-ANTICOAGULATION-PROXIMAL"]
    assert "simulated fault" in result.errors[0].message
    assert any(
        t.rule_id == "DVT-ANTICOAGULATION-PROXIMAL" and t.outcome == "error" for t in result.trace
    )
    assert "DVT-ANTICOAGULATION-ALONE-CDT" in {r.rule_id for r in result.recommendations}


def test_a_fact_of_the_wrong_type_is_an_error_not_a_crash(kb: KnowledgeBase) -> None:
    result = evaluate(kb, {**ILIOFEMORAL, "limb_threatening_dvt": "yes"}, NOW)
    assert {e.rule_id for e in result.errors} >= {"DVT-ANTICOAGULATION-ALONE-CDT"}


def test_rules_of_a_pathway_that_does_not_apply_are_not_fired(kb: KnowledgeBase) -> None:
    result = evaluate(kb, ILIOFEMORAL, NOW)
    cvt_trace = [t for t in result.trace if t.rule_id.startswith("CVT-")]
    assert cvt_trace
    assert all(t.outcome == "not_fired" and "does not apply" in t.reasons[0] for t in cvt_trace)
    assert [p.id for p in result.pathways] == ["leg_dvt"]


def test_trace_covers_every_rule_once_in_id_order(kb: KnowledgeBase) -> None:
    result = evaluate(kb, ILIOFEMORAL, NOW)
    assert [t.rule_id for t in result.trace] == [r.id for r in kb.rules]


def test_trace_can_be_switched_off_without_changing_the_answer(kb: KnowledgeBase) -> None:
    with_trace = evaluate(kb, ILIOFEMORAL, NOW)
    without = evaluate(kb, ILIOFEMORAL, NOW, trace=False)
    assert without.trace == []
    assert without.model_copy(update={"trace": with_trace.trace}) == with_trace


def test_recommendations_are_ordered_by_urgency_then_strength(kb: KnowledgeBase) -> None:
    facts = {**ILIOFEMORAL, "limb_threatening_dvt": True}
    result = evaluate(kb, facts, NOW)
    keys = [
        (-r.urgency.rank, -r.strength.rank, r.action.value, r.rule_id)
        for r in result.recommendations
    ]
    assert keys == sorted(keys)
    assert result.urgency is not None
    assert result.urgency.value == "emergency"


def test_an_absolute_contraindication_caps_and_is_reported(kb: KnowledgeBase) -> None:
    facts = {**ILIOFEMORAL, "limb_threatening_dvt": True, "active_bleeding": True}
    result = evaluate(kb, facts, NOW)
    lysis = next(r for r in result.recommendations if r.rule_id == "DVT-PHLEGMASIA-CDT")
    assert lysis.rule_strength.value == "recommended"
    assert lysis.strength.value == "contraindicated"
    assert lysis.capped_by == ["CI-SIR-ACTIVE-BLEEDING"]
    assert "CI-SIR-ACTIVE-BLEEDING" in {c.rule_id for c in result.contraindications}
    emergency = next(r for r in result.recommendations if r.action.value == "emergency_care")
    assert emergency.strength.value == "recommended"


def test_no_pathway_alert_when_nothing_applies(kb: KnowledgeBase) -> None:
    facts = {**ILIOFEMORAL, "leg_dvt_confirmed": False}
    result = evaluate(kb, facts, NOW)
    assert result.pathways == []
    assert result.recommendations == []
    assert [a.id for a in result.alerts] == ["ENGINE-NO-PATHWAY"]
    assert result.urgency is None


def test_every_output_names_the_knowledge_version(kb: KnowledgeBase) -> None:
    assert evaluate(kb, {}, NOW).knowledge_version == kb.version
