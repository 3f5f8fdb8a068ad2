"""Properties the engine must keep for every input, checked on thousands of generated cases.

- A contraindication can only lower what is recommended, never raise it.
- Forgetting facts never turns an unknown into a confident recommendation.
- The result is deterministic and round-trips through JSON.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

from fact_strategies import CASE_FACTS, fact_sets, satisfy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hypothesis_profiles import examples
from venapath.domain.facts import FactValue
from venapath.domain.vocabulary import Strength
from venapath.engine.assessment import Assessment, Certainty
from venapath.engine.evaluate import evaluate
from venapath.kb.loader import load_knowledge_base
from venapath.kb.model import RuleKind

KB = load_knowledge_base()
NOW = datetime(2026, 1, 1, tzinfo=UTC)
CONTRAINDICATIONS = [rule for rule in KB.rules if rule.kind is RuleKind.CONTRAINDICATION]
IN_FAVOUR = (Strength.RECOMMENDED, Strength.CONSIDER)
MANY = settings(
    max_examples=examples(1000), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _run(facts: dict[str, FactValue]) -> Assessment:
    return evaluate(KB, facts, NOW, case_id="generated")


def _by_rule(assessment: Assessment) -> dict[str, Strength]:
    return {rec.rule_id: rec.strength for rec in assessment.recommendations}


@MANY
@given(
    facts=fact_sets(), pick=st.integers(0, len(CONTRAINDICATIONS) - 1), seed=st.integers(0, 2**16)
)
def test_adding_a_contraindication_never_raises_a_strength(
    facts: dict[str, FactValue], pick: int, seed: int
) -> None:
    rule = CONTRAINDICATIONS[pick]
    with_ci = {**facts, **satisfy(rule.condition, random.Random(seed))}
    before, after = _by_rule(_run(facts)), _run(with_ci)
    assert rule.id in {c.rule_id for c in after.contraindications}
    for rec in after.recommendations:
        if rec.rule_id in before:
            assert rec.strength.rank <= before[rec.rule_id].rank, (rule.id, rec.rule_id)
        assert rule.contraindication is not None
        if rec.action in rule.contraindication.actions:
            assert rec.strength.rank <= rule.contraindication.ceiling.rank, (rule.id, rec.rule_id)


@settings(max_examples=examples(500), deadline=None)
@given(facts=fact_sets())
def test_final_strength_is_rule_strength_capped_by_every_fired_contraindication(
    facts: dict[str, FactValue],
) -> None:
    result = _run(facts)
    fired = {c.rule_id: c for c in result.contraindications}
    for rec in result.recommendations:
        expected = rec.rule_strength
        for cap in fired.values():
            if rec.action in cap.actions:
                expected = expected.capped_at(cap.ceiling)
        assert rec.strength is expected
        assert set(rec.capped_by) <= set(fired)
        assert rec.strength.rank <= rec.rule_strength.rank


@MANY
@given(facts=fact_sets(), forget=st.sets(st.sampled_from(sorted(CASE_FACTS)), min_size=1))
def test_forgetting_facts_never_makes_a_recommendation_more_confident(
    facts: dict[str, FactValue], forget: set[str]
) -> None:
    full = _run(facts)
    partial = _run({**facts, **dict.fromkeys(forget)})
    full_recs = {rec.rule_id: rec for rec in full.recommendations}
    for rec in partial.recommendations:
        # Kleene logic is monotone: what fires on less information fires on more.
        assert rec.rule_id in full_recs, rec.rule_id
        if rec.certainty is Certainty.FIRM and rec.strength in IN_FAVOUR:
            assert full_recs[rec.rule_id].strength is rec.strength, rec.rule_id
            assert full_recs[rec.rule_id].certainty is Certainty.FIRM, rec.rule_id
        else:
            assert full_recs[rec.rule_id].strength.rank <= rec.strength.rank or (
                rec.certainty is Certainty.PROVISIONAL
            )
    fired_partial = {t.rule_id for t in partial.trace if t.outcome.value == "fired"}
    fired_full = {t.rule_id for t in full.trace if t.outcome.value == "fired"}
    assert fired_partial <= fired_full


@settings(max_examples=examples(500), deadline=None)
@given(facts=fact_sets())
def test_unknown_rules_name_the_facts_that_would_settle_them(facts: dict[str, FactValue]) -> None:
    result = _run(facts)
    asked = {need.fact for need in result.needs_data}
    caps = {
        rule.id for rule in CONTRAINDICATIONS
    }  # asked about only when they could lower something
    for entry in result.trace:
        if entry.rule_id in caps:
            continue
        if (
            entry.outcome.value == "unknown"
            and entry.reasons
            and entry.reasons[0].startswith("unknown:")
        ):
            for reason in entry.reasons:
                assert reason.removeprefix("unknown: ") in asked
    for need in result.needs_data:
        assert facts.get(need.fact) is None or need.fact not in CASE_FACTS


@settings(max_examples=examples(300), deadline=None)
@given(facts=fact_sets())
def test_result_is_deterministic_and_round_trips_through_json(facts: dict[str, FactValue]) -> None:
    first = _run(facts)
    second = _run(dict(reversed(list(facts.items()))))
    assert first.model_dump_json() == second.model_dump_json()
    assert Assessment.model_validate_json(first.model_dump_json()) == first
