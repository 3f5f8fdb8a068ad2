"""How much settling a missing fact could change: the stake of what it would decide.

`needs_data` is read by a clinician with little time, so it is ordered by what is at stake,
not by how many rules happen to read a fact: a fact that could bring an emergency,
recommended option comes before one that could only refine a routine "consider". Each
decision gets one number, urgency first and strength second:

- a recommendation rule: its own urgency and strength;
- an alert: critical counts as an urgent "consider", warning as a routine "consider", info as
  a routine "not recommended" (it changes what is shown, never what is done);
- a contraindication: the highest stake among the in-favour recommendations whose action it
  would cap;
- a pathway's entry condition: the highest stake among its rules;
- a time window: the stake of its pathway.

The screen ranks its `needs_data` by the same numbers (`screen/rules.py`), so both orders
stay equal.
"""

from __future__ import annotations

from venapath.domain.vocabulary import Strength, Urgency
from venapath.kb.model import KnowledgeBase, RecommendSpec, Rule, RuleKind

_IN_FAVOUR = (Strength.RECOMMENDED, Strength.CONSIDER)
_ALERT_STAKE = {
    "critical": Urgency.URGENT.rank * 4 + Strength.CONSIDER.rank,
    "warning": Urgency.ROUTINE.rank * 4 + Strength.CONSIDER.rank,
    "info": Urgency.ROUTINE.rank * 4 + Strength.NOT_RECOMMENDED.rank,
}
_CACHE: dict[int, tuple[KnowledgeBase, dict[str, int]]] = {}


def recommendation_stake(spec: RecommendSpec) -> int:
    """Urgency dominates; strength orders decisions of the same urgency."""
    return spec.urgency.rank * 4 + spec.strength.rank


def stakes(kb: KnowledgeBase) -> dict[str, int]:
    """Stake per decision id: rule ids, `pathway:<id>` and time-window ids (built once per KB)."""
    entry = _CACHE.get(id(kb))
    if entry is None or entry[0] is not kb:
        entry = _CACHE[id(kb)] = (kb, _build(kb))
    return entry[1]


def _build(kb: KnowledgeBase) -> dict[str, int]:
    table = {rule.id: _rule_stake(rule, kb) for rule in kb.rules}
    for pathway in kb.pathways:
        own = [table[rule.id] for rule in kb.rules_by_pathway.get(pathway.id, ())]
        table[f"pathway:{pathway.id}"] = max(own, default=0)
    for window in kb.time_windows:
        table[window.id] = table.get(f"pathway:{window.pathway}", 0)
    return table


def _rule_stake(rule: Rule, kb: KnowledgeBase) -> int:
    if rule.recommend is not None:
        return recommendation_stake(rule.recommend)
    if rule.alert is not None:
        return _ALERT_STAKE[rule.alert.severity.value]
    assert rule.kind is RuleKind.CONTRAINDICATION
    assert rule.contraindication is not None
    capped = rule.contraindication.actions
    return max(
        (
            recommendation_stake(other.recommend)
            for other in kb.rules
            if other.recommend is not None
            and other.recommend.strength in _IN_FAVOUR
            and other.recommend.action.capped_by(capped)
        ),
        default=0,
    )
