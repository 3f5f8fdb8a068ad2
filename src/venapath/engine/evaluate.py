"""evaluate(kb, facts, now): the one place where rules meet a patient's facts.

Order of work, and why:
1. Scores first: some rules read score bands (Wells likely, HAS-BLED high).
2. Pathways gate their rules: a rule in a pathway that does not apply is not fired, and
   is not even evaluated (that is most of the knowledge base for most patients). In a
   pathway that only may apply, `needs_data` asks for the facts that decide the pathway,
   not for every fact its rules read.
3. Contraindications are evaluated for every patient and only ever lower a strength to
   their ceiling. One that cannot be checked for lack of data leaves an in-favour
   recommendation provisional and puts the missing facts in `needs_data`.
4. A rule that fails becomes an error entry; the others still run.
5. `needs_data` is ordered by what each fact could change (`engine/stakes.py`).
Output order is fixed (urgency, strength, action, rule id), so equal inputs give equal JSON.

The output is assembled as plain data and validated into an `Assessment` once: one pass
through pydantic's compiled validator is several times faster than building each nested
model in Python (`model_construct` included), and keeps the contract checked. What never
changes between patients is worked out once per knowledge base (`_Plan`: compiled
unknown-fact finders, static recommendation fields, the actions each contraindication caps),
and validated recommendations, needs-data entries and pathway lines are reused by
everything they are built from (`_Remembered`): a frozen model instance passes through the
final validation as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from venapath.domain.facts import FactValue, catalogue
from venapath.domain.kleene import Truth
from venapath.domain.vocabulary import Action, Strength, Urgency
from venapath.engine.assessment import (
    Assessment,
    CitationOut,
    NeedsData,
    PathwayOut,
    PathwayStatus,
    Recommendation,
)
from venapath.engine.stakes import stakes
from venapath.kb.conditions import UnknownsOf, compile_unknowns, deciding_leaves, deciding_unknowns
from venapath.kb.model import SAFETY_PATHWAY, Citation, KnowledgeBase, Rule, RuleKind
from venapath.scores import registry

Doc = dict[str, Any]
_IN_FAVOUR = (Strength.RECOMMENDED, Strength.CONSIDER)
_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


@dataclass
class _NeedsCollector:
    """Accumulates, per unknown fact, which rules it would decide, why, and the highest stake
    among them (`engine/stakes.py`): facts are listed by what they could change, then by how
    many decisions they settle."""

    stakes: Mapping[str, int]
    why: dict[str, list[str]] = field(default_factory=dict)
    rules: dict[str, list[str]] = field(default_factory=dict)
    stake: dict[str, int] = field(default_factory=dict)

    def add(self, fact: str, reason: str, rule_id: str) -> None:
        reasons = self.why.setdefault(fact, [])
        if reason not in reasons:
            reasons.append(reason)
        ids = self.rules.setdefault(fact, [])
        if rule_id not in ids:
            ids.append(rule_id)
        self.stake[fact] = max(self.stake.get(fact, 0), self.stakes.get(rule_id, 0))

    def entries(self, remembered: _Remembered) -> list[NeedsData]:
        definitions = catalogue()
        ordered = sorted(
            self.why, key=lambda name: (-self.stake[name], -len(self.rules[name]), name)
        )
        entries: list[NeedsData] = []
        for name in ordered:
            why = self.why[name]
            rules = sorted(self.rules[name])
            key = ("needs", name, tuple(why), tuple(rules))
            entry = remembered.get(key)
            if entry is None:
                entry = NeedsData.model_validate(
                    {
                        "fact": name,
                        "description": definitions[name].description,
                        "settled_by": list(definitions[name].settled_by),
                        "why": why,
                        "rules": rules,
                    }
                )
                remembered.put(key, entry)
            entries.append(entry)
        return entries


class _Remembered:
    """Output parts already validated, by everything they are built from; reused as they are.

    The `Assessment` is validated once from plain data, but a frozen model instance inside
    it passes through pydantic without being validated again. A recommendation or a
    needs-data entry depends on a few values (the rule, its final strength, the rules that
    capped it...) that recur from patient to patient, so each distinct one is validated once
    per knowledge base. Bounded: past `limit` entries, new parts are validated every time.
    Outputs are immutable (frozen models; nothing in VenaPath mutates their lists).
    """

    def __init__(self, limit: int = 50_000) -> None:
        self._parts: dict[tuple[object, ...], BaseModel] = {}
        self._limit = limit

    def get(self, key: tuple[object, ...]) -> Any:
        return self._parts.get(key)

    def put(self, key: tuple[object, ...], part: BaseModel) -> None:
        if len(self._parts) < self._limit:
            self._parts[key] = part


@dataclass
class _Run:
    """Working state of one evaluation."""

    facts: dict[str, FactValue]
    trace_on: bool
    plan: _Plan
    needs: _NeedsCollector
    trace: list[Doc] = field(default_factory=list)
    errors: list[Doc] = field(default_factory=list)
    alerts: list[Doc] = field(default_factory=list)
    fired_caps: list[Rule] = field(default_factory=list)
    pending_caps: list[Rule] = field(default_factory=list)
    candidates: list[Rule] = field(default_factory=list)
    cap_unknowns: dict[str, list[str]] = field(default_factory=dict)
    """Per pending contraindication, its deciding unknown facts (asked once per run)."""

    def record(self, rule_id: str, outcome: str, reasons: list[str]) -> None:
        self.trace.append({"rule_id": rule_id, "outcome": outcome, "reasons": reasons})


def evaluate(
    kb: KnowledgeBase,
    facts: Mapping[str, FactValue],
    now: datetime,
    *,
    case_id: str = "anonymous",
    trace: bool = True,
) -> Assessment:
    """Evaluate every rule of `kb` against `facts` (case facts; scores are added here)."""
    plan = _plan_for(kb)
    run = _Run(facts=dict(facts), trace_on=trace, plan=plan, needs=_NeedsCollector(plan.stakes))
    scores = _add_scores(run)
    pathway_truth = _pathways(kb, run)
    for pathway_id, rules in kb.rules_by_pathway.items():
        gate = pathway_truth.get(pathway_id)  # True for the safety pathway (contraindications)
        if gate is False:  # skip the whole pathway at once
            if trace:
                reason = [f"pathway {pathway_id} does not apply"]
                run.trace.extend(
                    {"rule_id": r.id, "outcome": "not_fired", "reasons": reason} for r in rules
                )
            continue
        _evaluate_rules(rules, gate, run)
    run.candidates.sort(key=lambda rule: rule.id)
    run.trace.sort(key=lambda entry: entry["rule_id"])
    ordered = sorted((_recommend(rule, run) for rule in run.candidates), key=_first)
    recommendations = [recommendation for _order, recommendation in ordered]
    run.alerts.extend(_engine_alerts(kb, pathway_truth, run.candidates, recommendations))
    document: Doc = {
        "case_id": case_id,
        "evaluated_at": now,
        "knowledge_version": kb.version,
        "pathways": [
            run.plan.pathways[p.id, bool(pathway_truth[p.id])]
            for p in kb.pathways
            if pathway_truth[p.id] is not False
        ],
        "urgency": _overall_urgency(recommendations),
        "recommendations": recommendations,
        "contraindications": [_contraindication(rule) for rule in run.fired_caps],
        "time_windows": _time_windows(kb, pathway_truth, run),
        "scores": scores,
        "needs_data": run.needs.entries(run.plan.outputs),
        "alerts": sorted(run.alerts, key=lambda a: (_SEVERITY_ORDER[a["severity"]], a["id"])),
        "errors": run.errors,
        "trace": run.trace,
    }
    return Assessment.model_validate(document)


def _evaluate_rules(rules: tuple[Rule, ...], gate: Truth, run: _Run) -> None:
    """Every rule of one pathway whose entry condition is `gate` (true or unknown).

    The hottest loop of the engine: one pass per pathway rather than a call per rule, with
    the `provided` check and the Kleene AND of gate and value written out inline."""
    facts = run.facts
    for rule in rules:
        try:
            value = rule.check(facts)
            if rule.provided_check is not None and rule.provided_check(facts) is False:
                value = False  # a checked safety fact rules it out
            if rule.unless_check is not None and rule.unless_check(facts) is True:
                value = False  # a recorded fact calls for the opposite (unknown: nothing)
        except Exception as error:  # a broken rule must not take the others down
            run.errors.append({"rule_id": rule.id, "message": f"{type(error).__name__}: {error}"})
            run.record(rule.id, "error", [str(error)])
            continue
        if value is False:
            outcome: Truth = False
        elif gate is None:
            outcome = None  # a possible pathway: its rules never fire, they can ask for data
        else:
            outcome = value
        if run.trace_on:
            run.record(rule.id, *_explain(rule, outcome, gate, value, facts))
        if outcome is True:
            _fired(rule, run)
        elif outcome is None:
            if rule.kind is RuleKind.CONTRAINDICATION:
                run.pending_caps.append(rule)
            elif value is None and gate is True:  # open in a pathway that applies
                _note_unknown_rule(rule, run)
            # In a pathway that only may apply, the facts deciding the pathway are asked
            # first (`_pathways`); asking for every rule inside it would bury them.


def _fired(rule: Rule, run: _Run) -> None:
    if rule.kind is RuleKind.CONTRAINDICATION:
        run.fired_caps.append(rule)
    elif rule.kind is RuleKind.ALERT:
        run.alerts.append(_alert(rule))
    else:
        run.candidates.append(rule)


def _provided(rule: Rule, facts: Mapping[str, FactValue]) -> Truth:
    """The rule's `provided` safety check: True when it has none."""
    return True if rule.provided_check is None else rule.provided_check(facts)


def _withdrawn(rule: Rule, facts: Mapping[str, FactValue]) -> bool:
    """The rule's `unless` is known true; unknown never withdraws anything."""
    return rule.unless_check is not None and rule.unless_check(facts) is True


def _add_scores(run: _Run) -> dict[str, Any]:
    try:
        results = registry.compute_applicable(run.facts)
        run.facts.update(registry.score_facts(run.facts, results))
    except Exception as error:  # a broken score must not take the rules down
        run.errors.append({"rule_id": "scores", "message": f"{type(error).__name__}: {error}"})
        return {}
    return dict(results)


def _pathways(kb: KnowledgeBase, run: _Run) -> dict[str, Truth]:
    truth: dict[str, Truth] = {SAFETY_PATHWAY: True}
    for pathway in kb.pathways:
        try:
            value = pathway.check(run.facts)
        except Exception as error:  # its rules then stay unfired: they can only ask for data
            run.errors.append(
                {"rule_id": f"pathway:{pathway.id}", "message": f"{type(error).__name__}: {error}"}
            )
            truth[pathway.id] = None
            continue
        truth[pathway.id] = value
        if value is None:
            reason = f"decides whether the {pathway.title} pathway applies"
            for fact in run.plan.unknowns[f"pathway:{pathway.id}"](run.facts):
                run.needs.add(fact, reason, f"pathway:{pathway.id}")
    return truth


def _note_unknown_rule(rule: Rule, run: _Run) -> None:
    reason = run.plan.open_reasons[rule.id]
    for fact in run.plan.unknowns[rule.id](run.facts):
        run.needs.add(fact, reason, rule.id)


def _open_reason(rule: Rule) -> str:
    """What an open rule's unknown facts would decide, as `needs_data` says it."""
    if rule.recommend is not None:
        return (
            f"would decide whether {rule.recommend.action.value} is "
            f"{rule.recommend.strength.value} ({rule.title})"
        )
    return f"would decide: {rule.title}"


def _recommend(rule: Rule, run: _Run) -> tuple[tuple[int, int, str, str], Recommendation]:
    """The recommendation of a fired rule, with its sort key (most urgent, strongest first)."""
    spec = rule.recommend
    assert spec is not None
    strength = spec.strength
    capped_by: list[str] = []
    for cap in run.fired_caps:
        covered, ceiling = run.plan.caps[cap.id]
        if spec.action in covered and strength.rank > ceiling.rank:
            strength = strength.capped_at(ceiling)
            capped_by.append(cap.id)
    pending = _pending_caps(spec.action, strength, run) if strength in _IN_FAVOUR else []
    unchecked = _unchecked_facts(rule, strength, run)
    order = (-spec.urgency.rank, -strength.rank, spec.action.value, rule.id)
    key = ("recommendation", rule.id, strength, tuple(capped_by), tuple(pending), tuple(unchecked))
    recommendation = run.plan.outputs.get(key)
    if recommendation is None:
        recommendation = Recommendation.model_validate(
            {
                **run.plan.recommendations[rule.id],
                "strength": strength,
                "capped_by": capped_by,
                "certainty": "provisional" if pending or unchecked else "firm",
                "pending_contraindications": pending,
                "unchecked_facts": unchecked,
            }
        )
        run.plan.outputs.put(key, recommendation)
    return order, recommendation


def _first(pair: tuple[tuple[int, int, str, str], Recommendation]) -> tuple[int, int, str, str]:
    return pair[0]


def _unchecked_facts(rule: Rule, strength: Strength, run: _Run) -> list[str]:
    """Unknown safety facts of the rule's `provided` check: the option stays, provisional."""
    if (
        rule.provided is None
        or strength not in _IN_FAVOUR
        or _provided(rule, run.facts) is not None
    ):
        return []
    assert rule.recommend is not None
    facts = run.plan.provided_unknowns[rule.id](run.facts)
    reason = f"must be checked before {rule.recommend.action.value} ({rule.title})"
    for fact in facts:
        run.needs.add(fact, reason, rule.id)
    return facts


def _pending_caps(action: Action, strength: Strength, run: _Run) -> list[str]:
    """Unchecked contraindications that would lower this in-favour recommendation."""
    pending: list[str] = []
    for cap in run.pending_caps:
        covered, ceiling = run.plan.caps[cap.id]
        if action in covered and strength.rank > ceiling.rank:
            pending.append(cap.id)
            unknowns = run.cap_unknowns.get(cap.id)
            if unknowns is None:
                unknowns = run.cap_unknowns[cap.id] = run.plan.unknowns[cap.id](run.facts)
            for fact in unknowns:
                run.needs.add(fact, f"could contraindicate {action.value} ({cap.title})", cap.id)
    return pending


@dataclass(frozen=True)
class _Plan:
    """What the engine works out once per knowledge base rather than on every call."""

    recommendations: dict[str, Doc]
    """Per recommendation rule, the output fields that never vary between patients."""
    caps: dict[str, tuple[frozenset[Action], Strength]]
    """Per contraindication rule, every action it caps (refinements of a named action
    included, as `Action.capped_by` says) and its ceiling."""
    unknowns: dict[str, UnknownsOf]
    """`deciding_unknowns` compiled, per rule id and per `pathway:<id>`."""
    provided_unknowns: dict[str, UnknownsOf]
    """The same for each rule's `provided` check."""
    open_reasons: dict[str, str]
    """Per rule, the `why` its unknown facts get in `needs_data`."""
    pathways: dict[tuple[str, bool], PathwayOut]
    """Each pathway's output line, by (pathway id, applies)."""
    stakes: Mapping[str, int]
    """What each rule could change, for ordering `needs_data` (`engine/stakes.py`)."""
    outputs: _Remembered = field(default_factory=_Remembered)


_PLANS: dict[int, tuple[KnowledgeBase, _Plan]] = {}


def _plan_for(kb: KnowledgeBase) -> _Plan:
    """The plan of `kb`, built on its first evaluation. Keyed by identity; the entry holds
    the knowledge base itself, so its id cannot be reused while the entry exists."""
    entry = _PLANS.get(id(kb))
    if entry is None or entry[0] is not kb:
        entry = _PLANS[id(kb)] = (kb, _build_plan(kb))
    return entry[1]


def _build_plan(kb: KnowledgeBase) -> _Plan:
    recommendations: dict[str, Doc] = {}
    caps: dict[str, tuple[frozenset[Action], Strength]] = {}
    unknowns = {f"pathway:{p.id}": compile_unknowns(p.condition) for p in kb.pathways}
    provided_unknowns: dict[str, UnknownsOf] = {}
    open_reasons: dict[str, str] = {}
    for rule in kb.rules:
        unknowns[rule.id] = compile_unknowns(rule.condition)
        open_reasons[rule.id] = _open_reason(rule)
        if rule.provided is not None:
            provided_unknowns[rule.id] = compile_unknowns(rule.provided)
        if rule.recommend is not None:
            spec = rule.recommend
            recommendations[rule.id] = {
                "action": spec.action,
                "urgency": spec.urgency,
                "rule_id": rule.id,
                "pathway": rule.pathway,
                "title": rule.title,
                "rationale": rule.rationale,
                "citations": _citations(rule.citations),
                "detail": dict(spec.detail),
                "rule_strength": spec.strength,
            }
        if rule.contraindication is not None:
            named = rule.contraindication.actions
            covered = frozenset(action for action in Action if action.capped_by(named))
            caps[rule.id] = (covered, rule.contraindication.ceiling)
    pathways = {
        (p.id, applies): PathwayOut(
            id=p.id,
            title=p.title,
            status=PathwayStatus.APPLIES if applies else PathwayStatus.POSSIBLE,
        )
        for p in kb.pathways
        for applies in (True, False)
    }
    return _Plan(
        pathways=pathways,
        recommendations=recommendations,
        caps=caps,
        unknowns=unknowns,
        provided_unknowns=provided_unknowns,
        open_reasons=open_reasons,
        stakes=stakes(kb),
    )


_CITATION_CACHE: dict[int, tuple[tuple[Citation, ...], list[CitationOut]]] = {}


def _citations(citations: tuple[Citation, ...]) -> list[CitationOut]:
    """Citation outputs never change for a rule, so build each list once.

    They are frozen model instances, which pydantic accepts without revalidating. Keyed by
    identity; the cache holds the tuple itself, so its id cannot be reused.
    """
    entry = _CITATION_CACHE.get(id(citations))
    if entry is None or entry[0] is not citations:
        built = [
            CitationOut(
                id=c.source.id,
                title=c.source.title,
                year=c.source.year,
                kind=c.source.kind,
                evidence=c.evidence,
                locator=c.locator,
                quote=c.quote,
                checked=c.checked,
                url=str(c.source.url) if c.source.url else None,
            )
            for c in citations
        ]
        entry = _CITATION_CACHE[id(citations)] = (citations, built)
    return entry[1]


def _alert(rule: Rule) -> Doc:
    assert rule.alert is not None
    return {
        "id": rule.id,
        "severity": rule.alert.severity.value,
        "message": rule.alert.message,
        "rule_id": rule.id,
        "rationale": rule.rationale,
        "citations": _citations(rule.citations),
    }


def _contraindication(rule: Rule) -> Doc:
    spec = rule.contraindication
    assert spec is not None
    return {
        "rule_id": rule.id,
        "title": rule.title,
        "actions": list(spec.actions),
        "ceiling": spec.ceiling,
        "severity": spec.severity,
        "rationale": rule.rationale,
        "citations": _citations(rule.citations),
    }


def _overall_urgency(recommendations: list[Recommendation]) -> Urgency | None:
    in_favour = [r.urgency for r in recommendations if r.strength in _IN_FAVOUR]
    return max(in_favour, key=lambda u: u.rank) if in_favour else None


def _explain(
    rule: Rule, outcome: Truth, gate: Truth, value: Truth, facts: Mapping[str, FactValue]
) -> tuple[str, list[str]]:
    if outcome is None and gate is None:
        return "unknown", [f"pathway {rule.pathway} may apply; its entry facts are unknown"]
    if outcome is None:
        return "unknown", [f"unknown: {name}" for name in deciding_unknowns(rule.condition, facts)]
    if outcome is False and rule.provided is not None and _provided(rule, facts) is False:
        return "not_fired", ["provided: " + r for r in deciding_leaves(rule.provided, facts)]
    if outcome is False and rule.unless is not None and _withdrawn(rule, facts):
        return "not_fired", ["unless: " + r for r in deciding_leaves(rule.unless, facts)]
    reasons = deciding_leaves(rule.condition, facts)
    if outcome and rule.provided is not None and _provided(rule, facts) is None:
        unknown = deciding_unknowns(rule.provided, facts)
        reasons += [f"to check before acting: {name}" for name in unknown]
    return ("fired" if outcome else "not_fired"), reasons


def _time_windows(kb: KnowledgeBase, pathway_truth: Mapping[str, Truth], run: _Run) -> list[Doc]:
    windows = []
    for window in kb.time_windows:
        if pathway_truth.get(window.pathway) is not True:
            continue
        elapsed = run.facts.get(window.clock)
        if elapsed is None:
            status, shown = "unknown", None
            run.needs.add(
                window.clock, f"places the case against the time window: {window.label}", window.id
            )
        else:
            shown = float(elapsed)
            status = "within" if shown <= window.limit else "passed"
        windows.append(
            {
                "id": window.id,
                "label": window.label,
                "actions": list(window.actions),
                "clock": window.clock,
                "limit": window.limit,
                "unit": window.unit,
                "bound": window.bound,
                "elapsed": shown,
                "status": status,
                "meaning": window.meaning,
                "citations": _citations(window.citations),
            }
        )
    return windows


def _engine_alerts(
    kb: KnowledgeBase,
    pathway_truth: Mapping[str, Truth],
    fired: list[Rule],
    recommendations: list[Recommendation],
) -> list[Doc]:
    alerts: list[Doc] = []
    if all(pathway_truth[p.id] is False for p in kb.pathways):
        alerts.append(
            {
                "id": "ENGINE-NO-PATHWAY",
                "severity": "info",
                "message": "No VenaPath pathway applies to this case: no venous thrombosis, suspicion "
                "or venous-procedure follow-up is recorded.",
            }
        )
    fired_ids = {rule.id for rule in fired}
    strengths = {rec.rule_id: rec.strength for rec in recommendations}
    pairs = sorted(
        {
            tuple(sorted((rule.id, other)))
            for rule in fired
            for other in rule.disagrees_with
            if other in fired_ids
        }
    )  # one alert per pair, whichever side declared the disagreement
    for first, second in pairs:
        alerts.append(
            {
                "id": f"ENGINE-DISAGREE-{first}-{second}",
                "severity": "info",
                "message": f"Sources disagree: {first} ({strengths[first].value}) and "
                f"{second} ({strengths[second].value}); both are shown with their "
                "evidence for shared decision-making.",
            }
        )
    return alerts
