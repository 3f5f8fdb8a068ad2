"""`assess(facts, kb)`: the engine's `evaluate` for a whole population, as one Ibis query.

Why: the per-patient engine (`engine/evaluate.py`) is the reference, but a million patients
one at a time in Python is hours. Here the SAME knowledge base objects (pathway and rule
conditions, contraindication ceilings, recommendation specs, time windows, disagreements)
compile to SQL, which DuckDB or Spark runs in one pass. SQL NULL is the engine's unknown.

The query follows the engine's order of work, one stage (one SELECT) per step:
1. facts: the case-fact columns, plus the score output facts (`screen/scores.py`);
2. truths: every pathway's entry condition and every rule's own condition;
3. ranks: each fired recommendation's strength after contraindication ceilings (a rule
   filed under a FALSE pathway is never evaluated, as in the engine);
4. open questions: which recommendations an unchecked contraindication leaves provisional,
   and which open rules ask for data;
5. need counts: per fact, how many pathways, rules and windows it would decide;
6. outputs: arrays in the engine's orders: pathways in KB order, recommendations by
   (urgency, strength, action, rule id), contraindications in evaluation order, needed
   facts by (most rules first, then name), alerts by (severity, id).

`tests/screen/test_rules.py` compares every output column with `evaluate` on generated
patients, on DuckDB and on Spark.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from venapath.domain.facts import FactDefinition, FactType, catalogue
from venapath.domain.vocabulary import Strength, Urgency
from venapath.engine.stakes import stakes
from venapath.kb.conditions import facts_read
from venapath.kb.model import SAFETY_PATHWAY, KnowledgeBase, Rule, RuleKind
from venapath.screen.conditions import (
    TRUE,
    UNKNOWN,
    ConditionCompiler,
    FactColumn,
    all_of,
    any_of,
    constant,
    is_false,
    is_true,
    is_unknown,
)
from venapath.screen.scores import facts_read_by_scores, with_score_facts

PATIENT_ID = "patient_id"
IN_FAVOUR = (Strength.RECOMMENDED, Strength.CONSIDER)
"""The engine's `_IN_FAVOUR`: only these set the urgency and can be left provisional."""
ALERT_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
"""The engine's `_SEVERITY_ORDER`."""
NO_PATHWAY_ALERT = "ENGINE-NO-PATHWAY"
DISAGREEMENT_ALERT = "ENGINE-DISAGREE-{first}-{second}"

RECOMMENDATION = dt.Struct(
    {
        "rule_id": dt.string,
        "action": dt.string,
        "strength": dt.string,
        "urgency": dt.string,
        "certainty": dt.string,
    }
)
OUTPUT_SCHEMA = ibis.schema(
    {
        PATIENT_ID: dt.string,
        "pathways": dt.Array(dt.string),
        "possible_pathways": dt.Array(dt.string),
        "urgency": dt.string,
        "recommendations": dt.Array(RECOMMENDATION),
        "contraindications": dt.Array(dt.string),
        "needs_data": dt.Array(dt.string),
        "alerts": dt.Array(dt.string),
    }
)
"""What `assess` returns: one row per input row, Parquet-writable from DuckDB and Spark."""

_COLUMN_TYPES = {
    FactType.BOOLEAN: dt.boolean,
    FactType.NUMBER: dt.float64,
    FactType.CHOICE: dt.string,
}


class FactColumnsError(ValueError):
    """The facts table lacks a column the knowledge base reads, or has one of the wrong type."""


# ------------------------------------------------------------------------ the input


def required_facts(kb: KnowledgeBase) -> list[str]:
    """The case facts `assess` needs as columns: every one the KB or a score reads.

    Score output facts are not among them: `assess` computes those itself.
    """
    read: set[str] = set(facts_read_by_scores())
    for pathway in kb.pathways:
        read |= facts_read(pathway.condition)
    for rule in kb.rules:
        read |= rule.facts  # its condition and its `provided` safety check
    read.update(window.clock for window in kb.time_windows)
    return [name for name, d in catalogue().items() if name in read and d.source == "case"]


def check_facts_table(facts: ir.Table, kb: KnowledgeBase) -> None:
    """Raise FactColumnsError naming every missing or mistyped column, before any query runs."""
    definitions = catalogue()
    schema = facts.schema()
    missing = [name for name in (PATIENT_ID, *required_facts(kb)) if name not in schema]
    if missing:
        raise FactColumnsError(
            f"the facts table lacks {len(missing)} column(s) the knowledge base reads: "
            + ", ".join(missing)
        )
    wrong = [
        f"{name} ({schema[name]}; expected {_COLUMN_TYPES[definitions[name].type]})"
        for name in required_facts(kb)
        if not _type_fits(schema[name], definitions[name])
    ]
    if wrong:
        raise FactColumnsError("fact columns of the wrong type: " + ", ".join(wrong))


def _type_fits(actual: dt.DataType, definition: FactDefinition) -> bool:
    if actual.is_null():  # an all-unknown column read without a type
        return True
    if definition.type is FactType.NUMBER:
        return bool(actual.is_numeric()) and not actual.is_boolean()
    return bool(actual == _COLUMN_TYPES[definition.type])


# ---------------------------------------------------------------------- the query


def assess(facts: ir.Table, kb: KnowledgeBase) -> ir.Table:
    """Per patient, what `evaluate(kb, facts, now)` decides; columns as in OUTPUT_SCHEMA.

    `facts`: `patient_id` and one column per case fact (`required_facts`); NULL is unknown.
    Extra columns are ignored. Raises FactColumnsError when a needed column is missing.
    Nothing runs here: the result is a lazy Ibis table for the caller's backend.
    """
    check_facts_table(facts, kb)
    plan = _Plan.of(kb)
    table = _stage(with_score_facts(_typed_facts(facts, kb)))
    table = _stage(_with_truths(table, plan))
    table = _stage(_with_ranks(table, plan))
    table = _stage(_with_open_questions(table, plan))
    table = _stage(_with_need_counts(table, plan))
    return _outputs(table, plan)


def _stage(table: ir.Table) -> ir.Table:
    """A boundary Ibis does not merge across.

    Left to itself Ibis inlines a stage's columns into the next stage wherever they are
    read, so a rule's rank would be computed once per reader; the engine computes each
    stage once (and Ibis compiles in half the time).
    """
    return table.view()


def _typed_facts(facts: ir.Table, kb: KnowledgeBase) -> ir.Table:
    """The required columns in the catalogue's types; extra columns are left behind."""
    definitions = catalogue()
    columns = {}
    for name in required_facts(kb):
        column = facts[name].cast(_COLUMN_TYPES[definitions[name].type])
        if definitions[name].type is FactType.NUMBER:
            column = _nan_as_unknown(column)
        columns[name] = column
    return facts.select(facts[PATIENT_ID].cast(dt.string).name(PATIENT_ID), **columns)


def _nan_as_unknown(number: ir.FloatingValue) -> ir.FloatingValue:
    """NaN is how pandas spells a missing number (a Spark upload through pandas keeps it),
    and SQL compares NaN as a value larger than any other. The catalogue never derives NaN,
    so it can only be a missing value in transit: read it as unknown, like NULL."""
    return number.isnan().ifelse(ibis.null(dt.float64), number)


def _columns_of(table: ir.Table) -> FactColumn:
    def column(name: str) -> ir.Value:
        if name not in table.columns:
            raise FactColumnsError(f"fact {name!r} is read but is neither a column nor a score")
        return table[name]

    return column


# ------------------------------------------------------------- what the KB fixes


@dataclass(frozen=True)
class _Plan:
    """Everything about the query that depends on the KB only, in the engine's orders."""

    kb: KnowledgeBase
    evaluated: tuple[tuple[str, Rule], ...]
    """(pathway id it is filed under, rule) in the engine's evaluation order."""

    @staticmethod
    def of(kb: KnowledgeBase) -> _Plan:
        order = tuple(
            (pathway_id, rule)
            for pathway_id, rules in kb.rules_by_pathway.items()
            for rule in rules
        )
        return _Plan(kb, order)

    def of_kind(self, kind: RuleKind) -> list[tuple[str, Rule]]:
        return [(pathway_id, rule) for pathway_id, rule in self.evaluated if rule.kind is kind]

    def recommendation_rules(self) -> list[Rule]:
        return [rule for _pathway, rule in self.of_kind(RuleKind.RECOMMENDATION)]

    def covering_caps(self, rule: Rule) -> list[tuple[str, Rule, int]]:
        """(pathway id, contraindication, ceiling rank) for each one naming the rule's action."""
        assert rule.recommend is not None
        covering = []
        for pathway_id, cap in self.of_kind(RuleKind.CONTRAINDICATION):
            assert cap.contraindication is not None
            if rule.recommend.action.capped_by(cap.contraindication.actions):
                covering.append((pathway_id, cap, cap.contraindication.ceiling.rank))
        return covering

    def covered_rules(self, cap: Rule) -> list[Rule]:
        """The recommendation rules whose action this contraindication names."""
        assert cap.contraindication is not None
        actions = cap.contraindication.actions
        return [
            rule
            for rule in self.recommendation_rules()
            if rule.recommend is not None and rule.recommend.action.capped_by(actions)
        ]


def _slug(rule: Rule) -> str:
    return rule.id.replace("-", "_")


def _pathway_column(pathway_id: str) -> str:
    return f"pathway__{pathway_id}"


def _value_column(rule: Rule) -> str:
    return f"value__{_slug(rule)}"


def _rank_column(rule: Rule) -> str:
    return f"rank__{_slug(rule)}"


def _provisional_column(rule: Rule) -> str:
    return f"provisional__{_slug(rule)}"


def _provided_column(rule: Rule) -> str:
    return f"provided__{_slug(rule)}"


def _unless_column(rule: Rule) -> str:
    return f"unless__{_slug(rule)}"


def _asks_column(rule: Rule) -> str:
    return f"asks__{_slug(rule)}"


def _need_column(fact: str) -> str:
    return f"need__{fact}"


def _stake_column(fact: str) -> str:
    return f"stake__{fact}"


class _Decided:
    """Reads a table's truth columns the way the engine reads `pathway_truth` and outcomes."""

    def __init__(self, table: ir.Table, plan: _Plan) -> None:
        self.table = table
        self.plan = plan
        self.conditions = ConditionCompiler(_columns_of(table))
        for pathway in plan.kb.pathways:
            self.conditions.use(pathway.condition, self.pathway(pathway.id))
        for _pathway_id, rule in plan.evaluated:
            self.conditions.use(rule.condition, table[_value_column(rule)])
            if rule.provided is not None:
                self.conditions.use(rule.provided, table[_provided_column(rule)])

    def pathway(self, pathway_id: str) -> ir.BooleanValue:
        """`pathway_truth.get(pathway_id)`: the safety pathway is TRUE, an unknown id NULL."""
        if any(p.id == pathway_id for p in self.plan.kb.pathways):
            return self.table[_pathway_column(pathway_id)]
        return TRUE if pathway_id == SAFETY_PATHWAY else UNKNOWN

    def reached(self, pathway_id: str) -> ir.BooleanValue:
        """The engine skips every rule filed under a FALSE pathway without evaluating it."""
        truth = self.pathway(pathway_id)
        return TRUE if constant(truth) is True else ~is_false(truth)

    def outcome(self, rule: Rule) -> ir.BooleanValue:
        """The engine's `_combine(gate, value)`: a contraindication's gate is always TRUE."""
        if rule.kind is RuleKind.CONTRAINDICATION:
            return self.table[_value_column(rule)]
        parts = [self.pathway(rule.pathway), self.table[_value_column(rule)]]
        if rule.provided is not None:  # a FALSE safety check rules it out (`_provided`)
            parts.append(~is_false(self.provided(rule)))
        if rule.unless is not None:  # a TRUE `unless` withdraws it (`_withdrawn`)
            parts.append(~is_true(self.table[_unless_column(rule)]))
        return all_of(parts)

    def provided(self, rule: Rule) -> ir.BooleanValue:
        """The rule's `provided` safety check (TRUE when it has none)."""
        return TRUE if rule.provided is None else self.table[_provided_column(rule)]

    def fired(self, pathway_id: str, rule: Rule) -> ir.BooleanValue:
        """Evaluated, and its outcome TRUE."""
        return all_of([self._reached_unless_implied(pathway_id, rule), is_true(self.outcome(rule))])

    def open(self, pathway_id: str, rule: Rule) -> ir.BooleanValue:
        """Evaluated and unknown: a pending contraindication, or a rule that may need data."""
        return all_of(
            [self._reached_unless_implied(pathway_id, rule), is_unknown(self.outcome(rule))]
        )

    def _reached_unless_implied(self, pathway_id: str, rule: Rule) -> ir.BooleanValue:
        """A rule gated by the pathway it is filed under cannot be TRUE or unknown when that
        pathway is FALSE, so its outcome already says it was reached (shorter SQL)."""
        gated = rule.kind is not RuleKind.CONTRAINDICATION and rule.pathway == pathway_id
        return TRUE if gated else self.reached(pathway_id)

    def rank(self, rule: Rule) -> ir.IntegerValue:
        """A fired recommendation's final strength rank; NULL when it did not fire."""
        return self.table[_rank_column(rule)]


# ------------------------------------------------------------------ stage: truth


def _with_truths(table: ir.Table, plan: _Plan) -> ir.Table:
    """Each pathway's entry truth and each rule's own condition value (NULL = unknown)."""
    compiler = ConditionCompiler(_columns_of(table))
    pathways = {_pathway_column(p.id): compiler.truth(p.condition) for p in plan.kb.pathways}
    values = {_value_column(rule): compiler.truth(rule.condition) for _p, rule in plan.evaluated}
    provided = {
        _provided_column(rule): compiler.truth(rule.provided)
        for _p, rule in plan.evaluated
        if rule.provided is not None
    }
    unless = {
        _unless_column(rule): compiler.truth(rule.unless)
        for _p, rule in plan.evaluated
        if rule.unless is not None
    }
    return table.mutate(**pathways, **values, **provided, **unless)


# ------------------------------------------------------------------ stage: ranks


def _with_ranks(table: ir.Table, plan: _Plan) -> ir.Table:
    """Each recommendation rule's final strength rank: NULL unless it fired, and lowered to
    every fired contraindication ceiling on its action (the engine's `_recommend`)."""
    decided = _Decided(table, plan)
    ranks = {
        _rank_column(rule): _final_rank(pathway_id, rule, decided)
        for pathway_id, rule in plan.of_kind(RuleKind.RECOMMENDATION)
    }
    return table.mutate(**ranks)


def _final_rank(pathway_id: str, rule: Rule, decided: _Decided) -> ir.IntegerValue:
    assert rule.recommend is not None
    written = rule.recommend.strength.rank
    ceilings = [
        decided.fired(cap_pathway, cap).ifelse(_rank(ceiling), _rank(written))
        for cap_pathway, cap, ceiling in decided.plan.covering_caps(rule)
        if ceiling < written
    ]
    final = ibis.least(_rank(written), *ceilings) if ceilings else _rank(written)
    return decided.fired(pathway_id, rule).ifelse(final, ibis.null("int64"))


def _in_favour(rank: ir.IntegerValue) -> ir.BooleanValue:
    return is_true(rank.isin([strength.rank for strength in IN_FAVOUR]))


def _rank(number: int) -> ir.IntegerValue:
    return ibis.literal(number, type="int64")


# -------------------------------------------------------- stage: open questions


def _with_open_questions(table: ir.Table, plan: _Plan) -> ir.Table:
    """Per recommendation, whether it is provisional; per rule, whether it asks for data.

    Provisional (`_pending_caps`): in favour, and an unknown contraindication on its
    action has a ceiling below it. A rule asks for its unknown facts when it is open itself
    (not only through its pathway; `_note_unknown_rule`); a contraindication only when it
    is open and would lower an in-favour recommendation.
    """
    decided = _Decided(table, plan)
    provisional = {
        _provisional_column(rule): _provisional(rule, decided)
        for rule in plan.recommendation_rules()
    }
    asks = {
        _asks_column(rule): _asks(pathway_id, rule, decided) for pathway_id, rule in plan.evaluated
    }
    return table.mutate(**provisional, **asks)


def _provisional(rule: Rule, decided: _Decided) -> ir.BooleanValue:
    rank = decided.rank(rule)
    would_lower = [
        decided.open(cap_pathway, cap) & (rank > _rank(ceiling))
        for cap_pathway, cap, ceiling in decided.plan.covering_caps(rule)
    ]
    if rule.provided is not None:  # an unchecked safety fact (`_unchecked_facts`)
        would_lower.append(is_unknown(decided.provided(rule)))
    return is_true(_in_favour(rank) & any_of(would_lower))


def _asks(pathway_id: str, rule: Rule, decided: _Decided) -> ir.BooleanValue:
    if rule.kind is not RuleKind.CONTRAINDICATION:  # open in a pathway that applies
        own_value = decided.table[_value_column(rule)]
        applies = is_true(decided.pathway(pathway_id))
        return decided.open(pathway_id, rule) & is_unknown(own_value) & applies
    assert rule.contraindication is not None
    ceiling = _rank(rule.contraindication.ceiling.rank)
    lowered = [
        _in_favour(decided.rank(covered)) & is_true(decided.rank(covered) > ceiling)
        for covered in decided.plan.covered_rules(rule)
    ]
    return decided.open(pathway_id, rule) & any_of(lowered)


# ------------------------------------------------------------ stage: need counts


def _with_need_counts(table: ir.Table, plan: _Plan) -> ir.Table:
    """Per fact, how many distinct pathways, rules and windows it would decide right now.

    These are the engine's `_NeedsCollector.add` calls; its entries are ranked by the
    number of distinct ids per fact, which is this count.
    """
    decided = _Decided(table, plan)
    reasons = _NeedReasons()
    for pathway in plan.kb.pathways:
        for fact in sorted(facts_read(pathway.condition)):
            where = decided.conditions.deciding_unknown(pathway.condition, fact)
            reasons.add(fact, f"pathway:{pathway.id}", where)
    for _pathway_id, rule in plan.evaluated:
        for fact in sorted(facts_read(rule.condition)):
            where = table[_asks_column(rule)] & decided.conditions.deciding_unknown(
                rule.condition, fact
            )
            reasons.add(fact, rule.id, where)
        if rule.provided is not None:  # `_unchecked_facts`: fired, in favour, check unknown
            for fact in sorted(facts_read(rule.provided)):
                where = _in_favour(decided.rank(rule)) & decided.conditions.deciding_unknown(
                    rule.provided, fact
                )
                reasons.add(fact, rule.id, where)
    for window in plan.kb.time_windows:  # an applying pathway's window with no clock
        where = is_true(decided.pathway(window.pathway)) & is_unknown(table[window.clock])
        reasons.add(window.clock, window.id, where)
    table = table.mutate(
        **{_need_column(fact): reasons.count(fact) for fact in _askable_facts(plan)}
    )
    weights = stakes(plan.kb)
    return table.mutate(
        **{_stake_column(fact): reasons.stake(fact, weights) for fact in _askable_facts(plan)}
    )


def _askable_facts(plan: _Plan) -> list[str]:
    """Every fact the engine could ever list in `needs_data`, by name."""
    facts: set[str] = {window.clock for window in plan.kb.time_windows}
    for pathway in plan.kb.pathways:
        facts |= facts_read(pathway.condition)
    for _pathway_id, rule in plan.evaluated:
        facts |= rule.facts
    return sorted(facts)


class _NeedReasons:
    """Per fact, per id it would decide (ids are deduplicated as the engine does): where."""

    def __init__(self) -> None:
        self._by_fact: dict[str, dict[str, list[ir.BooleanValue]]] = {}

    def add(self, fact: str, decides: str, where: ir.BooleanValue) -> None:
        self._by_fact.setdefault(fact, {}).setdefault(decides, []).append(where)

    def count(self, fact: str) -> ir.IntegerValue:
        total = _rank(0)
        for rows in self._by_fact.get(fact, {}).values():
            total = total + any_of(rows).cast("int64")
        return total

    def stake(self, fact: str, stakes: dict[str, int]) -> ir.IntegerValue:
        """The highest stake among the ids it would decide right now (`_NeedsCollector`)."""
        best = _rank(0)
        for decides, rows in self._by_fact.get(fact, {}).items():
            here = is_true(any_of(rows)).ifelse(_rank(stakes.get(decides, 0)), _rank(0))
            best = ibis.greatest(best, here)
        return best


# ---------------------------------------------------------------- stage: outputs


def _outputs(table: ir.Table, plan: _Plan) -> ir.Table:
    decided = _Decided(table, plan)
    pathways = plan.kb.pathways
    return table.select(
        table[PATIENT_ID],
        pathways=_present([(is_true(decided.pathway(p.id)), p.id) for p in pathways]),
        possible_pathways=_present([(is_unknown(decided.pathway(p.id)), p.id) for p in pathways]),
        urgency=_overall_urgency(decided),
        recommendations=_recommendations(decided),
        contraindications=_present(
            [
                (decided.fired(pathway_id, cap), cap.id)
                for pathway_id, cap in plan.of_kind(RuleKind.CONTRAINDICATION)
            ]
        ),
        needs_data=_needs_data(table, plan),
        alerts=_alerts(decided),
    )


def _present(entries: Iterable[tuple[ir.BooleanValue, str]]) -> ir.ArrayValue:
    """The strings whose condition is TRUE, in the order given."""
    return _kept([(condition, ibis.literal(text)) for condition, text in entries], dt.string)


def _kept(entries: list[tuple[ir.BooleanValue, ir.Value]], element: dt.DataType) -> ir.ArrayValue:
    """The values whose condition is TRUE, in the order given (NULLs mark the others)."""
    if not entries:
        return ibis.literal([], type=dt.Array(element))
    values = [is_true(condition).ifelse(value, ibis.null(element)) for condition, value in entries]
    return ibis.array(values).filter(lambda value: value.notnull())


def _overall_urgency(decided: _Decided) -> ir.StringValue:
    """The highest urgency among in-favour recommendations (`_overall_urgency`), else NULL."""
    branches = []
    for urgency in sorted(Urgency, key=lambda u: u.rank, reverse=True):
        carried = [
            _in_favour(decided.rank(rule))
            for rule in decided.plan.recommendation_rules()
            if rule.recommend is not None and rule.recommend.urgency is urgency
        ]
        if carried:
            branches.append((any_of(carried), ibis.literal(urgency.value)))
    if not branches:
        return ibis.null("string")
    return ibis.cases(*branches, else_=ibis.null("string"))


def _recommendations(decided: _Decided) -> ir.ArrayValue:
    """Fired recommendations as structs, in `_recommendation_order`.

    That order reads the final strength, so each (rule, strength) pair gets its place in it
    ahead of time; the array is sorted on that place, then the place is dropped.
    """
    rules = decided.plan.recommendation_rules()
    if not rules:
        return ibis.literal([], type=dt.Array(RECOMMENDATION))
    place = _recommendation_places(rules)
    entries = [
        (decided.rank(rule).notnull(), _recommendation(rule, place, decided)) for rule in rules
    ]
    ordered = _kept(entries, entries[0][1].type()).sort()
    return ordered.map(lambda r: ibis.struct({name: r[name] for name in RECOMMENDATION.names}))


def _recommendation(
    rule: Rule, place: dict[tuple[str, Strength], int], decided: _Decided
) -> ir.StructValue:
    spec = rule.recommend
    assert spec is not None
    rank = decided.rank(rule)
    reachable = [s for s in Strength if s.rank <= spec.strength.rank]  # caps only lower
    return ibis.struct(
        {
            "place": ibis.cases(*[(rank == s.rank, _rank(place[rule.id, s])) for s in reachable]),
            "rule_id": ibis.literal(rule.id),
            "action": ibis.literal(spec.action.value),
            "strength": ibis.cases(*[(rank == s.rank, ibis.literal(s.value)) for s in reachable]),
            "urgency": ibis.literal(spec.urgency.value),
            "certainty": decided.table[_provisional_column(rule)].ifelse(
                ibis.literal("provisional"), ibis.literal("firm")
            ),
        }
    )


def _recommendation_places(rules: list[Rule]) -> dict[tuple[str, Strength], int]:
    """Each (rule, final strength) pair's place in the engine's `_recommendation_order`:
    (-urgency rank, -strength rank, action, rule id)."""
    keyed = []
    for rule in rules:
        spec = rule.recommend
        assert spec is not None
        for strength in Strength:
            key = (-spec.urgency.rank, -strength.rank, spec.action.value, rule.id)
            keyed.append((key, rule.id, strength))
    keyed.sort(key=lambda entry: entry[0])
    return {(rule_id, strength): place for place, (_key, rule_id, strength) in enumerate(keyed)}


def _needs_data(table: ir.Table, plan: _Plan) -> ir.ArrayValue:
    """Needed facts, highest stake first, then most rules, then by name
    (`_NeedsCollector.entries`)."""
    entries = []
    for fact in _askable_facts(plan):
        count = table[_need_column(fact)]
        order = {"stake": -table[_stake_column(fact)], "order": -count, "fact": ibis.literal(fact)}
        entries.append((count > 0, ibis.struct(order)))
    if not entries:
        return ibis.literal([], type=dt.Array(dt.string))
    return _kept(entries, entries[0][1].type()).sort().map(lambda entry: entry["fact"])


def _alerts(decided: _Decided) -> ir.ArrayValue:
    """Fired alert rules, the no-pathway alert and disagreements, by (severity, id)."""
    plan = decided.plan
    info = ALERT_SEVERITY_ORDER["info"]
    possible: list[tuple[tuple[int, str], ir.BooleanValue]] = []
    for pathway_id, rule in plan.of_kind(RuleKind.ALERT):
        assert rule.alert is not None
        severity = ALERT_SEVERITY_ORDER[rule.alert.severity.value]
        possible.append(((severity, rule.id), decided.fired(pathway_id, rule)))
    no_pathway = all_of([is_false(decided.pathway(p.id)) for p in plan.kb.pathways])
    possible.append(((info, NO_PATHWAY_ALERT), no_pathway))
    for (first, second), both in _disagreements(decided).items():
        possible.append(((info, DISAGREEMENT_ALERT.format(first=first, second=second)), both))
    possible.sort(key=lambda entry: entry[0])
    return _present([(fired, alert_id) for (_severity, alert_id), fired in possible])


def _disagreements(decided: _Decided) -> dict[tuple[str, str], ir.BooleanValue]:
    """Each pair of recommendation rules declared to disagree: TRUE when both fired."""
    fired = {rule.id: decided.rank(rule).notnull() for rule in decided.plan.recommendation_rules()}
    pairs: dict[tuple[str, str], ir.BooleanValue] = {}
    for rule in decided.plan.recommendation_rules():
        for other in rule.disagrees_with:
            if other in fired:
                first, second = sorted((rule.id, other))
                pairs[first, second] = fired[first] & fired[second]
    return pairs
