"""Properties the engine must keep for every input, checked on thousands of generated cases.

- A contraindication can only lower what is recommended, never raise it.
- Forgetting facts never turns an unknown into a confident recommendation.
- The result is deterministic and round-trips through JSON.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime

from fact_strategies import CASE_FACTS, fact_sets, satisfy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hypothesis_profiles import examples
from venapath.domain.facts import FactValue
from venapath.domain.vocabulary import Action, Strength
from venapath.engine.assessment import Assessment, Certainty
from venapath.engine.evaluate import evaluate
from venapath.kb.conditions import facts_read
from venapath.kb.loader import load_knowledge_base
from venapath.kb.model import Rule, RuleKind

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
        if rec.action.capped_by(rule.contraindication.actions):
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
            if rec.action.capped_by(cap.actions):
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
    checked_out = {
        rule.id
        for rule in KB.rules
        if (rule.provided_check is not None and rule.provided_check(facts) is False)
        or (rule.unless_check is not None and rule.unless_check(facts) is True)
    }  # a safety check that fails, or an `unless` that holds, only with the fuller facts
    for rec in partial.recommendations:
        if rec.rule_id in checked_out:
            continue  # its safety check, unknown in `partial`, is false in `facts`
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
    assert fired_partial - checked_out <= fired_full


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


@settings(max_examples=examples(300), deadline=None)
@given(earlier=st.lists(fact_sets(), max_size=4), facts=fact_sets())
def test_remembered_output_parts_are_the_ones_these_facts_give(
    earlier: list[dict[str, FactValue]], facts: dict[str, FactValue]
) -> None:
    """The engine reuses validated recommendations, needs-data entries and pathway lines
    per knowledge base. After other patients, the result must be byte for byte what a
    knowledge base with nothing remembered gives (a copy of it gets its own plan)."""
    for other in earlier:
        _run(other)
    remembered = _run(facts)
    nothing_remembered = evaluate(dataclasses.replace(KB), facts, NOW, case_id="generated")
    assert remembered.model_dump_json() == nothing_remembered.model_dump_json()


def _provided_only(rule: Rule) -> frozenset[str]:
    """Facts a rule reads only in its `provided` safety check."""
    assert rule.provided is not None
    return facts_read(rule.provided) - facts_read(rule.condition)


SAFETY_ONLY_FACTS = sorted(
    (
        {fact for rule in KB.rules if rule.kind is RuleKind.CONTRAINDICATION for fact in rule.facts}
        | {fact for rule in KB.rules if rule.provided is not None for fact in _provided_only(rule)}
    )
    - {
        fact
        for rule in KB.rules
        if rule.kind is not RuleKind.CONTRAINDICATION
        for fact in (rule.facts if rule.provided is None else rule.facts - _provided_only(rule))
    }
    - {fact for pathway in KB.pathways for fact in pathway.facts}
)
"""Facts read only to check safety (contraindications, `provided` checks), never to decide
whether a pathway applies or a rule is indicated."""


def _urgency_rank(assessment: Assessment) -> int:
    return -1 if assessment.urgency is None else assessment.urgency.rank


@settings(max_examples=examples(300), deadline=None)
@given(
    facts=fact_sets(),
    forget=st.sets(st.sampled_from(SAFETY_ONLY_FACTS), min_size=1),
)
def test_an_unknown_safety_fact_never_lowers_urgency_or_drops_an_option(
    facts: dict[str, FactValue], forget: set[str]
) -> None:
    """Issue 14 part 3: unknown is not false. Forgetting a safety fact can make an option
    provisional, never remove it or lower the overall urgency."""
    full = _run(facts)
    partial = _run({**facts, **dict.fromkeys(forget)})
    assert _urgency_rank(partial) >= _urgency_rank(full)
    kept = {r.rule_id for r in partial.recommendations if r.strength in IN_FAVOUR}
    for rec in full.recommendations:
        if rec.strength in IN_FAVOUR:
            assert rec.rule_id in kept, (rec.rule_id, forget)


@settings(max_examples=examples(500), deadline=None)
@given(facts=fact_sets())
def test_no_action_is_both_advised_and_advised_against_without_a_declared_disagreement(
    facts: dict[str, FactValue],
) -> None:
    """Across the whole result, every pathway at once, a program that reads only action and
    strength must never see "X: recommended" beside "X: not recommended" unless the sources
    disagree and an ENGINE-DISAGREE alert says so (issue 14). Facts are drawn independently,
    so inconsistent input (a calf-only DVT with proximal veins involved) is covered too.
    Where one word would name two vessels or two agents, the vocabulary has a site- or
    agent-level word (`cerebral_venous_thrombectomy`, `direct_oral_anticoagulant`)."""
    result = _run(facts)
    declared = {frozenset((rule.id, other)) for rule in KB.rules for other in rule.disagrees_with}
    alerts = {alert.id for alert in result.alerts}
    for advised in result.recommendations:
        for against in result.recommendations:
            if (
                advised.action is against.action
                and advised.strength in IN_FAVOUR
                and against.rule_strength not in IN_FAVOUR
            ):
                pair = frozenset((advised.rule_id, against.rule_id))
                assert pair in declared, (advised.action, advised.rule_id, against.rule_id)
                first, second = sorted(pair)
                assert f"ENGINE-DISAGREE-{first}-{second}" in alerts


ALTERNATIVES = {"DVT-DISTAL-SERIAL-IMAGING": Action.ANTICOAGULATION}
"""Options offered *instead of* an action (CHEST 2021 statement 1: serial imaging of the deep
veins over anticoagulation). Offering both would be offering two exclusive plans."""


@settings(max_examples=examples(500), deadline=None)
@given(facts=fact_sets())
def test_an_alternative_is_never_offered_beside_what_it_replaces(
    facts: dict[str, FactValue],
) -> None:
    """Issue 14 part 3: mutually exclusive alternatives are never both offered."""
    result = _run(facts)
    in_favour = [r for r in result.recommendations if r.strength in IN_FAVOUR]
    for alternative in in_favour:
        replaced = ALTERNATIVES.get(alternative.rule_id)
        if replaced is None:
            continue
        rivals = [r.rule_id for r in in_favour if r.action.general is replaced]
        assert not rivals, (alternative.rule_id, rivals)


CHECKED_RULES = [rule for rule in KB.rules if rule.provided is not None]


@settings(max_examples=examples(300), deadline=None)
@given(facts=fact_sets(), pick=st.integers(0, max(len(CHECKED_RULES) - 1, 0)))
def test_forgetting_a_rules_safety_check_keeps_its_option(
    facts: dict[str, FactValue], pick: int
) -> None:
    """An option in favour stays in favour when the facts of its `provided` check become
    unknown; it turns provisional and names them."""
    rule = CHECKED_RULES[pick]
    forget = _provided_only(rule)
    full = {r.rule_id: r for r in _run(facts).recommendations}
    partial = {r.rule_id: r for r in _run({**facts, **dict.fromkeys(forget)}).recommendations}
    before = full.get(rule.id)
    if before is None or before.strength not in IN_FAVOUR:
        return
    after = partial[rule.id]
    assert after.strength is before.strength
    if after.unchecked_facts:
        assert after.certainty is Certainty.PROVISIONAL
        assert set(after.unchecked_facts) <= forget
