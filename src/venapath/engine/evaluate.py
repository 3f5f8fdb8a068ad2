"""evaluate(kb, facts, now): the one place where rules meet a patient's facts.

Order of work, and why:
1. Scores first: some rules read score bands (Wells likely, HAS-BLED high).
2. Pathways gate their rules: a rule in a pathway that does not apply is not fired, and
   is not even evaluated (that is most of the knowledge base for most patients).
3. Contraindications are evaluated for every patient and only ever lower a strength to
   their ceiling. One that cannot be checked for lack of data leaves the recommendation
   provisional and puts the missing facts in `needs_data`.
4. A rule that fails becomes an error entry; the others still run.
Output order is fixed (urgency, strength, action, rule id), so equal inputs give equal JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from venapath.domain.facts import FactValue, catalogue
from venapath.domain.kleene import Truth
from venapath.domain.vocabulary import Action, Strength, Urgency
from venapath.engine.assessment import (
    AlertOut,
    Assessment,
    Certainty,
    CitationOut,
    Contraindication,
    ErrorEntry,
    NeedsData,
    Outcome,
    PathwayOut,
    PathwayStatus,
    Recommendation,
    TimeWindowOut,
    TraceEntry,
    WindowStatus,
)
from venapath.kb.conditions import deciding_leaves, deciding_unknowns
from venapath.kb.model import SAFETY_PATHWAY, Citation, KnowledgeBase, Rule, RuleKind
from venapath.scores import registry
from venapath.scores.base import ScoreResult


@dataclass
class _NeedsCollector:
    """Accumulates, per unknown fact, which rules it would decide and why."""

    why: dict[str, list[str]] = field(default_factory=dict)
    rules: dict[str, list[str]] = field(default_factory=dict)

    def add(self, fact: str, reason: str, rule_id: str) -> None:
        reasons = self.why.setdefault(fact, [])
        if reason not in reasons:
            reasons.append(reason)
        ids = self.rules.setdefault(fact, [])
        if rule_id not in ids:
            ids.append(rule_id)

    def entries(self) -> list[NeedsData]:
        definitions = catalogue()
        ordered = sorted(self.why, key=lambda name: (-len(self.rules[name]), name))
        return [
            NeedsData(
                fact=name,
                description=definitions[name].description,
                settled_by=list(definitions[name].settled_by),
                why=self.why[name],
                rules=sorted(self.rules[name]),
            )
            for name in ordered
        ]


def evaluate(
    kb: KnowledgeBase,
    facts: Mapping[str, FactValue],
    now: datetime,
    *,
    case_id: str = "anonymous",
    trace: bool = True,
) -> Assessment:
    """Evaluate every rule of `kb` against `facts` (case facts; scores are added here)."""
    errors: list[ErrorEntry] = []
    all_facts, scores = _with_scores(facts, errors)
    needs = _NeedsCollector()
    trace_entries: list[TraceEntry] = []
    pathway_truth = _pathways(kb, all_facts, needs)

    fired_caps: list[Rule] = []
    pending_caps: list[Rule] = []
    candidates: list[Rule] = []
    alerts: list[AlertOut] = []
    for rule in kb.rules:
        gate: Truth = (
            True if rule.kind is RuleKind.CONTRAINDICATION else pathway_truth.get(rule.pathway)
        )
        if gate is False:
            if trace:
                trace_entries.append(
                    TraceEntry(
                        rule_id=rule.id,
                        outcome=Outcome.NOT_FIRED,
                        reasons=[f"pathway {rule.pathway} does not apply"],
                    )
                )
            continue
        try:
            value = rule.check(all_facts)
        except Exception as error:  # a broken rule must not take the others down
            errors.append(ErrorEntry(rule_id=rule.id, message=f"{type(error).__name__}: {error}"))
            trace_entries.append(
                TraceEntry(rule_id=rule.id, outcome=Outcome.ERROR, reasons=[str(error)])
            )
            continue
        outcome = _combine(gate, value)
        if trace:
            trace_entries.append(_trace(rule, outcome, value, all_facts))
        if outcome is True:
            if rule.kind is RuleKind.CONTRAINDICATION:
                fired_caps.append(rule)
            elif rule.kind is RuleKind.ALERT:
                assert rule.alert is not None
                alerts.append(
                    AlertOut(
                        id=rule.id,
                        severity=rule.alert.severity.value,
                        message=rule.alert.message,
                        rule_id=rule.id,
                        rationale=rule.rationale,
                        citations=_citations(rule.citations),
                    )
                )
            else:
                candidates.append(rule)
        elif outcome is None:
            if rule.kind is RuleKind.CONTRAINDICATION:
                pending_caps.append(rule)
            else:
                _note_unknown_rule(rule, value, all_facts, needs)

    recommendations = [
        _recommend(kb, rule, fired_caps, pending_caps, all_facts, needs) for rule in candidates
    ]
    recommendations.sort(key=_recommendation_order)
    alerts.extend(_engine_alerts(kb, pathway_truth, candidates, recommendations))
    return Assessment(
        case_id=case_id,
        evaluated_at=now,
        knowledge_version=kb.version,
        pathways=[
            PathwayOut(
                id=p.id,
                title=p.title,
                status=PathwayStatus.APPLIES if pathway_truth[p.id] else PathwayStatus.POSSIBLE,
            )
            for p in kb.pathways
            if pathway_truth[p.id] is not False
        ],
        urgency=_overall_urgency(recommendations),
        recommendations=recommendations,
        contraindications=[_contraindication(rule) for rule in fired_caps],
        time_windows=_time_windows(kb, pathway_truth, all_facts, needs),
        scores=scores,
        needs_data=needs.entries(),
        alerts=sorted(alerts, key=lambda a: (_SEVERITY_ORDER[a.severity], a.id)),
        errors=errors,
        trace=trace_entries,
    )


_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def _combine(gate: Truth, value: Truth) -> Truth:
    if gate is False or value is False:
        return False
    if gate is None or value is None:
        return None
    return True


def _with_scores(
    facts: Mapping[str, FactValue], errors: list[ErrorEntry]
) -> tuple[dict[str, FactValue], dict[str, ScoreResult]]:
    merged: dict[str, FactValue] = dict(facts)
    try:
        results = registry.compute_applicable(merged)
        merged.update(registry.score_facts(merged))
    except Exception as error:  # a broken score must not take the rules down
        errors.append(ErrorEntry(rule_id="scores", message=f"{type(error).__name__}: {error}"))
        return merged, {}
    return merged, results


def _pathways(
    kb: KnowledgeBase, facts: Mapping[str, FactValue], needs: _NeedsCollector
) -> dict[str, Truth]:
    truth: dict[str, Truth] = {SAFETY_PATHWAY: True}
    for pathway in kb.pathways:
        value = pathway.check(facts)
        truth[pathway.id] = value
        if value is None:
            for fact in deciding_unknowns(pathway.condition, facts):
                needs.add(
                    fact,
                    f"decides whether the {pathway.title} pathway applies",
                    f"pathway:{pathway.id}",
                )
    return truth


def _note_unknown_rule(
    rule: Rule, value: Truth, facts: Mapping[str, FactValue], needs: _NeedsCollector
) -> None:
    if value is not None:  # the rule itself is decided; only its pathway is open
        return
    if rule.recommend is not None:
        reason = (
            f"would decide whether {rule.recommend.action.value} is "
            f"{rule.recommend.strength.value} ({rule.title})"
        )
    else:
        reason = f"would decide: {rule.title}"
    for fact in deciding_unknowns(rule.condition, facts):
        needs.add(fact, reason, rule.id)


def _recommend(
    kb: KnowledgeBase,
    rule: Rule,
    fired_caps: list[Rule],
    pending_caps: list[Rule],
    facts: Mapping[str, FactValue],
    needs: _NeedsCollector,
) -> Recommendation:
    spec = rule.recommend
    assert spec is not None
    strength = spec.strength
    capped_by: list[str] = []
    for cap in fired_caps:
        assert cap.contraindication is not None
        if (
            spec.action in cap.contraindication.actions
            and strength.rank > cap.contraindication.ceiling.rank
        ):
            strength = strength.capped_at(cap.contraindication.ceiling)
            capped_by.append(cap.id)
    pending: list[str] = []
    if strength not in (Strength.RECOMMENDED, Strength.CONSIDER):
        pending_caps = []  # it already advises against; an unchecked cap cannot make that worse in practice
    for cap in pending_caps:
        assert cap.contraindication is not None
        if (
            spec.action in cap.contraindication.actions
            and strength.rank > cap.contraindication.ceiling.rank
        ):
            pending.append(cap.id)
            for fact in deciding_unknowns(cap.condition, facts):
                needs.add(fact, f"could contraindicate {spec.action.value} ({cap.title})", cap.id)
    return Recommendation(
        action=spec.action,
        strength=strength,
        urgency=spec.urgency,
        rule_id=rule.id,
        pathway=rule.pathway,
        title=rule.title,
        rationale=rule.rationale,
        citations=_citations(rule.citations),
        detail=dict(spec.detail),
        rule_strength=spec.strength,
        capped_by=capped_by,
        certainty=Certainty.PROVISIONAL if pending else Certainty.FIRM,
        pending_contraindications=pending,
    )


def _citations(citations: tuple[Citation, ...]) -> list[CitationOut]:
    return [
        CitationOut(
            id=c.source.id,
            title=c.source.title,
            year=c.source.year,
            kind=c.source.kind,
            evidence=c.evidence,
            locator=c.locator,
            url=str(c.source.url) if c.source.url else None,
        )
        for c in citations
    ]


def _contraindication(rule: Rule) -> Contraindication:
    spec = rule.contraindication
    assert spec is not None
    return Contraindication(
        rule_id=rule.id,
        title=rule.title,
        actions=list(spec.actions),
        ceiling=spec.ceiling,
        severity=spec.severity,
        rationale=rule.rationale,
        citations=_citations(rule.citations),
    )


def _recommendation_order(rec: Recommendation) -> tuple[int, int, str, str]:
    return (-rec.urgency.rank, -rec.strength.rank, rec.action.value, rec.rule_id)


def _overall_urgency(recommendations: list[Recommendation]) -> Urgency | None:
    in_favour = [
        r.urgency
        for r in recommendations
        if r.strength in (Strength.RECOMMENDED, Strength.CONSIDER)
    ]
    return max(in_favour, key=lambda u: u.rank) if in_favour else None


def _trace(rule: Rule, outcome: Truth, value: Truth, facts: Mapping[str, FactValue]) -> TraceEntry:
    if outcome is None and value is not None:
        return TraceEntry(
            rule_id=rule.id,
            outcome=Outcome.UNKNOWN,
            reasons=[f"pathway {rule.pathway} may apply; its entry facts are unknown"],
        )
    if outcome is None:
        unknown = deciding_unknowns(rule.condition, facts)
        return TraceEntry(
            rule_id=rule.id,
            outcome=Outcome.UNKNOWN,
            reasons=[f"unknown: {name}" for name in unknown],
        )
    return TraceEntry(
        rule_id=rule.id,
        outcome=Outcome.FIRED if outcome else Outcome.NOT_FIRED,
        reasons=deciding_leaves(rule.condition, facts),
    )


def _time_windows(
    kb: KnowledgeBase,
    pathway_truth: Mapping[str, Truth],
    facts: Mapping[str, FactValue],
    needs: _NeedsCollector,
) -> list[TimeWindowOut]:
    windows = []
    for window in kb.time_windows:
        if pathway_truth.get(window.pathway) is not True:
            continue
        elapsed = facts.get(window.clock)
        if elapsed is None:
            status = WindowStatus.UNKNOWN
            needs.add(
                window.clock, f"places the case against the time window: {window.label}", window.id
            )
            shown: float | None = None
        else:
            shown = float(elapsed)
            status = WindowStatus.WITHIN if shown <= window.limit else WindowStatus.PASSED
        windows.append(
            TimeWindowOut(
                id=window.id,
                label=window.label,
                actions=list(window.actions),
                clock=window.clock,
                limit=window.limit,
                unit=window.unit,
                bound=window.bound,
                elapsed=shown,
                status=status,
                meaning=window.meaning,
                citations=_citations(window.citations),
            )
        )
    return windows


def _engine_alerts(
    kb: KnowledgeBase,
    pathway_truth: Mapping[str, Truth],
    fired: list[Rule],
    recommendations: list[Recommendation],
) -> list[AlertOut]:
    alerts: list[AlertOut] = []
    if all(pathway_truth[p.id] is False for p in kb.pathways):
        alerts.append(
            AlertOut(
                id="ENGINE-NO-PATHWAY",
                severity="info",
                message="No VenaPath pathway applies to this case: no venous thrombosis, suspicion "
                "or venous-procedure follow-up is recorded.",
            )
        )
    fired_ids = {rule.id for rule in fired}
    strengths = {rec.rule_id: rec.strength for rec in recommendations}
    for rule in fired:
        for other in rule.disagrees_with:
            if other in fired_ids and rule.id < other:
                alerts.append(
                    AlertOut(
                        id=f"ENGINE-DISAGREE-{rule.id}-{other}",
                        severity="info",
                        message=f"Sources disagree: {rule.id} ({strengths[rule.id].value}) and "
                        f"{other} ({strengths[other].value}); both are shown with their "
                        "evidence for shared decision-making.",
                    )
                )
    return alerts


def actions_in_favour(assessment: Assessment) -> dict[Action, Strength]:
    """Strongest final strength per action (a convenience for summaries and tests)."""
    best: dict[Action, Strength] = {}
    for rec in assessment.recommendations:
        current = best.get(rec.action)
        if current is None or rec.strength.rank > current.rank:
            best[rec.action] = rec.strength
    return best
