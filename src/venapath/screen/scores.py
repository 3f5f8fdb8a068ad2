"""The risk scores' output facts, computed in the engine for a whole population.

Why compiled rather than computed in Python: rules read score bands (Wells likely, HAS-BLED
high), so the screen needs them per patient, inside the same query. Each `Item` of
`scores/base.py` is data (flag, threshold, any_of, levels, graded), so it compiles here.

The semantics are the engine's `_add_scores`, step by step:
- a score applies when one of its `applies_when` facts is TRUE; when it does not, its
  outputs are NULL (unknown, never "low risk");
- an unknown item contributes its whole range, so points are a range [low, high];
- a band is possible when it overlaps that range (`_bands_between`); an override fact
  (Villalta's ulcer) forces its band when TRUE and adds it when unknown (`_apply_override`);
- an output fact is TRUE when every possible band is one of its bands, FALSE when none is,
  and NULL otherwise, or when no band is possible (`output_facts`).
"""

from __future__ import annotations

from collections.abc import Mapping

import ibis
import ibis.expr.types as ir

from venapath.scores.base import Item, ItemKind, ScoreDefinition, Test
from venapath.scores.registry import SCORES
from venapath.screen.conditions import (
    FALSE,
    TRUE,
    FactColumn,
    all_of,
    any_of,
    compare,
    is_false,
    is_true,
)

INTEGER = "int64"
"""Points are summed as int64: small literals would otherwise be int8 and overflow in DuckDB."""


def with_score_facts(
    table: ir.Table, definitions: Mapping[str, ScoreDefinition] = SCORES
) -> ir.Table:
    """`table` plus one column per score output fact, as `registry.score_facts` gives it.

    Two steps: each score's point range first, as columns, so that every band test reads
    two columns instead of repeating the sum of the items.
    """
    ranges: dict[str, ir.IntegerValue] = {}
    for definition in definitions.values():
        if definition.outputs:
            low, high = point_range(definition, _column_reader(table))
            ranges[_low_column(definition)] = low
            ranges[_high_column(definition)] = high
    ranged = table.mutate(**ranges)
    outputs: dict[str, ir.BooleanValue] = {}
    for definition in definitions.values():  # registry order: a later score wins a name
        if definition.outputs:
            low, high = ranged[_low_column(definition)], ranged[_high_column(definition)]
            outputs.update(output_facts(definition, _column_reader(ranged), low, high))
    return ranged.mutate(**outputs).drop(*ranges)


def _column_reader(table: ir.Table) -> FactColumn:
    return lambda name: table[name]


def _low_column(definition: ScoreDefinition) -> str:
    return f"score_low__{definition.id}"


def _high_column(definition: ScoreDefinition) -> str:
    return f"score_high__{definition.id}"


def facts_read_by_scores(definitions: Mapping[str, ScoreDefinition] = SCORES) -> frozenset[str]:
    """Every fact a score reads: triggers, items and override."""
    names: set[str] = set()
    for definition in definitions.values():
        names.update(definition.applies_when)
        for item in definition.items:
            names.update(item.facts)
        if definition.override_fact is not None:
            names.add(definition.override_fact)
    return frozenset(names)


def applies(definition: ScoreDefinition, column: FactColumn) -> ir.BooleanValue:
    """TRUE when a trigger fact is TRUE; an unknown trigger does not apply the score."""
    return is_true(any_of(column(name) for name in definition.applies_when))


def item_points(item: Item, column: FactColumn) -> ir.IntegerValue:
    """The item's points, NULL when its facts cannot decide it (`Item.points`)."""
    if item.kind is ItemKind.LEVELS:
        return _level_points(item, column(item.facts[0]))
    if item.kind is ItemKind.GRADED:
        return _truncated(column(item.facts[0]))
    met = any_of(_test(test, column) for test in item.tests)
    return ibis.cases(
        (met, _points(item.weight)),
        (~met, _points(0)),
        else_=ibis.null(INTEGER),
    )


def point_range(
    definition: ScoreDefinition, column: FactColumn
) -> tuple[ir.IntegerValue, ir.IntegerValue]:
    """(low, high): an unknown item counts its minimum in `low` and its maximum in `high`."""
    low = high = _points(0)
    for item in definition.items:
        points = item_points(item, column)
        low = low + points.fill_null(_points(item.min_points))
        high = high + points.fill_null(_points(item.max_points))
    return low, high


def possible_bands(
    definition: ScoreDefinition,
    column: FactColumn,
    low: ir.IntegerValue,
    high: ir.IntegerValue,
) -> dict[str, ir.BooleanValue]:
    """Per band label: TRUE when the band is among the score's possible bands (never NULL)."""
    by_points: dict[str, ir.BooleanValue] = {}
    for band in definition.bands:
        overlaps = _overlaps(band.low, band.high, low, high)
        earlier = by_points.get(band.label)
        by_points[band.label] = overlaps if earlier is None else earlier | overlaps
    return _with_override(definition, column, by_points)


def output_facts(
    definition: ScoreDefinition,
    column: FactColumn,
    low: ir.IntegerValue,
    high: ir.IntegerValue,
) -> dict[str, ir.BooleanValue]:
    """The score's output facts: NULL unless it applies and its possible bands agree."""
    scored = applies(definition, column)
    possible = possible_bands(definition, column, low, high)
    outputs: dict[str, ir.BooleanValue] = {}
    for output in definition.outputs:
        a_true_band = any_of(seen for label, seen in possible.items() if label in output.true_bands)
        a_false_band = any_of(
            seen for label, seen in possible.items() if label not in output.true_bands
        )
        outputs[output.name] = ibis.cases(
            (scored & a_true_band & ~a_false_band, True),
            (scored & a_false_band & ~a_true_band, False),
            else_=ibis.null("boolean"),
        )
    return outputs


def _with_override(
    definition: ScoreDefinition, column: FactColumn, by_points: dict[str, ir.BooleanValue]
) -> dict[str, ir.BooleanValue]:
    """TRUE override: only its band. Unknown: its band is added. FALSE: the points decide."""
    forced_band = definition.override_band
    if definition.override_fact is None or forced_band is None:
        return by_points
    override = column(definition.override_fact)
    possible = {label: ~is_true(override) & seen for label, seen in by_points.items()}
    possible[forced_band] = ~is_false(override) | by_points.get(forced_band, FALSE)
    return possible


def _overlaps(
    band_low: int | None, band_high: int | None, low: ir.IntegerValue, high: ir.IntegerValue
) -> ir.BooleanValue:
    starts_before_high = TRUE if band_low is None else _points(band_low) <= high
    ends_after_low = TRUE if band_high is None else _points(band_high) >= low
    return all_of([starts_before_high, ends_after_low])


def _test(test: Test, column: FactColumn) -> ir.BooleanValue:
    value = column(test.fact)
    if test.op == "is":
        met = value if test.value is True else ~value
    else:
        met = compare(value, test.op, test.value)
    if test.unless is None:
        return met
    # As Test.holds: the "recorded normal" fact settles the test only without a value.
    return ibis.ifelse(value.isnull() & is_true(column(test.unless)), FALSE, met)


def _level_points(item: Item, value: ir.StringValue) -> ir.IntegerValue:
    """A listed choice scores its points, an unlisted one 0, an unknown one NULL."""
    branches = [(value == choice, _points(points)) for choice, points in item.table]
    return ibis.cases(*branches, (value.notnull(), _points(0)), else_=ibis.null(INTEGER))


def _truncated(value: ir.NumericValue) -> ir.IntegerValue:
    """Python's int(x): toward zero. A plain SQL cast rounds in DuckDB and truncates in Spark."""
    return ibis.ifelse(value >= 0, value.floor(), value.ceil()).cast(INTEGER)


def _points(number: int) -> ir.IntegerValue:
    return ibis.literal(number, type=INTEGER)
