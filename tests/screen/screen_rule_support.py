"""Shared by the screen's rule and score tests: generated patients, typed tables, the engine.

Patients are drawn fact by fact from the catalogue: each case fact is independently unknown
or a value of its type. Numbers are drawn around the limits the knowledge base and the
scores compare them with (collected from the conditions' leaves and the score items), so
every comparison is exercised on both sides and at the boundary. Some patients are then
pushed into a few randomly chosen rules (their condition and pathway made true), because
rules with five conjuncts almost never fire on independent coin flips.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import ibis
import pyarrow as pa

from venapath.domain.facts import FactDefinition, FactType, FactValue, catalogue
from venapath.engine.evaluate import evaluate
from venapath.kb.conditions import All, AnyOf, Condition, Leaf, Not, leaves
from venapath.kb.model import KnowledgeBase
from venapath.scores.base import ItemKind
from venapath.scores.registry import SCORES

NOW = datetime(2026, 1, 1, tzinfo=UTC)
TABLE = "screen_facts"
"""The name the generated batches are registered under for the once-compiled query."""

CASE_FACTS: list[FactDefinition] = [d for d in catalogue().values() if d.source == "case"]
ARROW_TYPES = {
    FactType.BOOLEAN: pa.bool_(),
    FactType.NUMBER: pa.float64(),
    FactType.CHOICE: pa.string(),
}
COMPARED = (
    "pathways",
    "possible_pathways",
    "urgency",
    "recommendations",
    "contraindications",
    "needs_data",
    "alerts",
)

Patient = dict[str, FactValue]


# --------------------------------------------------------------------- generation


def number_limits(kb: KnowledgeBase) -> dict[str, list[float]]:
    """Per number fact, every limit a condition leaf or a score item compares it with."""
    limits: dict[str, set[float]] = {}
    conditions = [p.condition for p in kb.pathways] + [r.condition for r in kb.rules]
    for condition in conditions:
        for leaf in leaves(condition):
            if isinstance(leaf.value, int | float) and not isinstance(leaf.value, bool):
                limits.setdefault(leaf.fact, set()).add(float(leaf.value))
    for definition in SCORES.values():
        for item in definition.items:
            for test in item.tests:
                if test.op != "is":
                    limits.setdefault(test.fact, set()).add(float(test.value))
    for window in kb.time_windows:
        limits.setdefault(window.clock, set()).add(window.limit)
    return {fact: sorted(values) for fact, values in limits.items()}


def graded_facts() -> frozenset[str]:
    """Facts read as their own points (Villalta): drawn as grades, halves and negatives."""
    return frozenset(
        item.facts[0]
        for definition in SCORES.values()
        for item in definition.items
        if item.kind is ItemKind.GRADED
    )


class PatientMaker:
    """Draws patients from a `random.Random` (Hypothesis's, so failures replay)."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.limits = number_limits(kb)
        self.graded = graded_facts()
        self.pushable = [
            (rule.condition, self._pathway_condition(rule.pathway)) for rule in kb.rules
        ]

    def patient(self, rng: random.Random, known_share: float, pushes: int) -> Patient:
        facts = {
            d.name: self.value(d, rng) if rng.random() < known_share else None for d in CASE_FACTS
        }
        for _ in range(rng.randint(0, pushes)):
            condition, entry = rng.choice(self.pushable)
            for target in (entry, condition):
                if target is not None:
                    pushed = satisfy(target, rng, self)
                    facts.update((k, v) for k, v in pushed.items() if k in facts)  # no scores
        return facts

    def value(self, definition: FactDefinition, rng: random.Random) -> FactValue:
        if definition.type is FactType.BOOLEAN:
            return rng.random() < 0.5
        if definition.type is FactType.CHOICE:
            return rng.choice(definition.choices)
        return self.number(definition.name, rng)

    def number(self, fact: str, rng: random.Random) -> float:
        if fact in self.graded:
            return rng.choice([0.0, 1.0, 2.0, 3.0, 0.5, 2.5, 2.999, -0.5, -1.5, 7.0])
        limits = self.limits.get(fact)
        if limits and rng.random() < 0.8:
            limit = rng.choice(limits)
            return limit + rng.choice([0.0, 0.0, -1.0, 1.0, -0.001, 0.001, -0.5, 0.5])
        return round(rng.uniform(-5.0, 400.0), rng.choice([0, 1, 3]))

    def scored(self, output: str, value: bool) -> Patient:
        """Item facts that put a score's output fact at `value`: every item at its maximum
        for TRUE (the outputs flag the high bands), at its minimum for FALSE."""
        definition = next(d for d in SCORES.values() if output in {o.name for o in d.outputs})
        facts: Patient = {definition.applies_when[0]: True}
        if definition.override_fact is not None:
            facts[definition.override_fact] = False
        for item in definition.items:
            target = item.max_points if value else item.min_points
            choices = [self._candidates(name) for name in item.facts]
            facts.update(
                next(
                    dict(zip(item.facts, combination, strict=True))
                    for combination in itertools.product(*choices)
                    if item.points(dict(zip(item.facts, combination, strict=True))) == target
                )
            )
        return facts

    def _candidates(self, fact: str) -> list[FactValue]:
        definition = catalogue()[fact]
        if definition.type is FactType.BOOLEAN:
            return [True, False]
        if definition.type is FactType.CHOICE:
            return list(definition.choices)
        limits = self.limits.get(fact, [])
        return [0.0, 1.0, 2.0, 3.0] + [v + d for v in limits for d in (-1.0, 1.0)]

    def _pathway_condition(self, pathway_id: str) -> Condition | None:
        return next((p.condition for p in self.kb.pathways if p.id == pathway_id), None)


def satisfy(
    condition: Condition, rng: random.Random, maker: PatientMaker, want: bool = True
) -> Patient:
    """Facts that make `condition` evaluate to `want` (they may contradict other facts)."""
    if isinstance(condition, Leaf):
        if catalogue()[condition.fact].source != "case":  # a score output: set its items
            return maker.scored(condition.fact, condition.value is want)
        return {condition.fact: _leaf_value(condition, want, maker, rng)}
    if isinstance(condition, Not):
        return satisfy(condition.child, rng, maker, not want)
    every = isinstance(condition, All) == want
    assert isinstance(condition, All | AnyOf)
    chosen = condition.children if every else [rng.choice(condition.children)]
    facts: Patient = {}
    for child in chosen:
        facts.update(satisfy(child, rng, maker, want))
    return facts


def _leaf_value(leaf: Leaf, want: bool, maker: PatientMaker, rng: random.Random) -> FactValue:
    definition = catalogue()[leaf.fact]
    if leaf.op == "is":
        return leaf.value if want else not leaf.value
    if definition.type is FactType.CHOICE:
        members = leaf.value if isinstance(leaf.value, tuple) else (leaf.value,)
        inside = leaf.op in ("in", "eq")
        pool = [c for c in definition.choices if (c in members) == (inside == want)]
        return rng.choice(pool) if pool else None
    assert isinstance(leaf.value, int | float)
    limit = float(leaf.value)
    step = {"lt": -1.0, "le": 0.0, "gt": 1.0, "ge": 0.0, "eq": 0.0, "ne": 1.0}[leaf.op]
    flipped = {"lt": 0.0, "le": 1.0, "gt": 0.0, "ge": -1.0, "eq": 1.0, "ne": 0.0}[leaf.op]
    return limit + (step if want else flipped)


# ------------------------------------------------------------------------ tables


def facts_arrow(patients: list[Patient], names: Iterable[str] | None = None) -> pa.Table:
    """`patient_id` (the row number) and one typed column per case fact (or per `names`)."""
    definitions = catalogue()
    wanted = [d.name for d in CASE_FACTS] if names is None else list(names)
    schema = pa.schema(
        [("patient_id", pa.string())]
        + [(name, ARROW_TYPES[definitions[name].type]) for name in wanted]
    )
    rows = [
        {"patient_id": str(index), **{name: facts.get(name) for name in wanted}}
        for index, facts in enumerate(patients)
    ]
    return pa.Table.from_pylist(rows, schema=schema)


def unbound_facts(names: Iterable[str] | None = None) -> ibis.Table:
    """The facts table's schema under TABLE, for compiling a query once and running it often."""
    empty = facts_arrow([], names)
    return ibis.table(ibis.Schema.from_pyarrow(empty.schema), name=TABLE)


class CompiledOnDuckDB:
    """A query compiled once and run on many batches.

    Ibis needs seconds to compile the whole knowledge base (the SQL is about half a
    megabyte); DuckDB plans and runs it on a batch in half a second. Each batch is
    registered under TABLE and the same SQL runs again. (Not a prepared statement: DuckDB
    folds the plan on the statistics of the table it was prepared against.)
    """

    def __init__(
        self, build: Callable[[ibis.Table], ibis.Table], names: Iterable[str] | None = None
    ) -> None:
        self.backend = ibis.duckdb.connect()
        self.sql = str(ibis.to_sql(build(unbound_facts(names)), dialect="duckdb"))

    def run(self, batch: pa.Table) -> list[dict[str, Any]]:
        connection = self.backend.con
        connection.register(TABLE, batch)
        try:
            result = connection.sql(self.sql).arrow()
            table = result if isinstance(result, pa.Table) else result.read_all()
        finally:
            connection.unregister(TABLE)
        rows = table.to_pylist()
        rows.sort(key=lambda row: int(row["patient_id"]))
        return rows


# ---------------------------------------------------------------------- the engine


def engine_answer(kb: KnowledgeBase, facts: Mapping[str, FactValue]) -> dict[str, Any]:
    """What `evaluate` decides for `facts`, in the screen's column shapes."""
    assessment = evaluate(kb, facts, NOW, trace=False)
    return {
        "pathways": [p.id for p in assessment.pathways if p.status.value == "applies"],
        "possible_pathways": [p.id for p in assessment.pathways if p.status.value == "possible"],
        "urgency": assessment.urgency.value if assessment.urgency else None,
        "recommendations": [
            {
                "rule_id": r.rule_id,
                "action": r.action.value,
                "strength": r.strength.value,
                "urgency": r.urgency.value,
                "certainty": str(r.certainty),
            }
            for r in assessment.recommendations
        ],
        "contraindications": [c.rule_id for c in assessment.contraindications],
        "needs_data": [n.fact for n in assessment.needs_data],
        "alerts": [a.id for a in assessment.alerts],
    }


def differences(
    kb: KnowledgeBase, patients: list[Patient], screened: list[dict[str, Any]]
) -> list[str]:
    """Every (patient, column) where the screen and the engine disagree, readably."""
    assert [row["patient_id"] for row in screened] == [str(i) for i in range(len(patients))]
    problems = []
    for facts, row in zip(patients, screened, strict=True):
        expected = engine_answer(kb, facts)
        for column in COMPARED:
            if row[column] != expected[column]:
                known = {k: v for k, v in facts.items() if v is not None}
                problems.append(
                    f"patient {row['patient_id']} {column}:\n  engine {expected[column]}\n"
                    f"  screen {row[column]}\n  known facts {known}"
                )
    return problems
