"""The scores compiled to Ibis give what `scores.base.compute` and the registry give.

Per generated patient and per score: each item's points (NULL when unknown), the point range
with unknown items, the possible bands (override included) and the output facts the rules
read (NULL when the score does not apply).
"""

from __future__ import annotations

from random import Random
from typing import Any

import ibis
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from screen_rule_support import CompiledOnDuckDB, facts_arrow, graded_facts, number_limits

from hypothesis_profiles import examples
from venapath.domain.facts import FactType, FactValue, catalogue
from venapath.kb.loader import load_knowledge_base
from venapath.scores import registry
from venapath.scores.base import ItemKind, Test, compute, threshold
from venapath.scores.registry import SCORES
from venapath.screen.scores import (
    facts_read_by_scores,
    item_points,
    point_range,
    possible_bands,
    with_score_facts,
)

READ = [name for name in catalogue() if name in facts_read_by_scores()]
"""The facts any score reads, in catalogue order: the columns of the test table."""


def _known(name: str, limits: dict[str, list[float]]) -> st.SearchStrategy[FactValue]:
    definition = catalogue()[name]
    if definition.type is FactType.BOOLEAN:
        return st.booleans()
    if definition.type is FactType.CHOICE:
        return st.sampled_from(definition.choices)
    if name in graded_facts():  # mostly 0, or a Villalta total never falls below 5
        grades = st.sampled_from([1.0, 2.0, 3.0, 0.5, 2.5, 2.999, -0.5, -1.5, 7.0])
        return st.one_of(st.just(0.0), st.just(0.0), st.just(0.0), grades)
    near = [v + d for v in limits.get(name, [0.0]) for d in (0.0, -1.0, 1.0, -0.001, 0.5)]
    return st.one_of(
        st.sampled_from(near),
        st.floats(min_value=-10, max_value=400, allow_nan=False, allow_infinity=False),
    )


def _patient() -> st.SearchStrategy[dict[str, FactValue]]:
    """Some facts unknown, or every fact known (the only way to a FALSE output)."""
    limits = number_limits(load_knowledge_base())
    known = {name: _known(name, limits) for name in READ}
    return st.one_of(
        st.fixed_dictionaries({name: st.none() | value for name, value in known.items()}),
        st.fixed_dictionaries(known),
    )


PATIENT = _patient()


@pytest.fixture(scope="module")
def score_query() -> CompiledOnDuckDB:
    """Per score: every item's points, the range, each band's possibility; and the outputs."""

    def build(facts: ibis.Table) -> ibis.Table:
        def column(name: str) -> Any:
            return facts[name]

        columns: dict[str, Any] = {}
        for definition in SCORES.values():
            for item in definition.items:
                columns[f"item__{definition.id}__{item.id}"] = item_points(item, column)
            low, high = point_range(definition, column)
            columns[f"low__{definition.id}"] = low
            columns[f"high__{definition.id}"] = high
            for label, possible in possible_bands(definition, column, low, high).items():
                columns[f"band__{definition.id}__{label}"] = possible
        scored = with_score_facts(facts)
        outputs = [o.name for d in SCORES.values() for o in d.outputs]
        return facts.select("patient_id", **columns).join(
            scored.select("patient_id", *outputs), "patient_id"
        )

    return CompiledOnDuckDB(build, READ)


@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(patients=st.lists(PATIENT, min_size=1, max_size=20))
def test_compiled_scores_equal_compute(
    score_query: CompiledOnDuckDB, patients: list[dict[str, FactValue]]
) -> None:
    for facts, row in zip(patients, score_query.run(facts_arrow(patients, READ)), strict=True):
        for definition in SCORES.values():
            result = compute(definition, facts)
            for item in definition.items:
                assert row[f"item__{definition.id}__{item.id}"] == item.points(facts), (
                    definition.id,
                    item.id,
                )
            got_range = (row[f"low__{definition.id}"], row[f"high__{definition.id}"])
            assert got_range == (result.min_points, result.max_points), definition.id
            labels = dict.fromkeys(band.label for band in definition.bands)
            possible = [label for label in labels if row[f"band__{definition.id}__{label}"]]
            assert possible == result.possible_bands, definition.id
        expected = registry.score_facts(facts)
        assert {name: row[name] for name in expected} == expected


@pytest.mark.parametrize("value", [True, False, None])
@pytest.mark.parametrize("output", [o.name for d in SCORES.values() for o in d.outputs])
def test_the_generated_patients_reach_every_output_value(output: str, value: bool | None) -> None:
    """TRUE, FALSE and unknown for every output fact, or the property above proves little."""
    # A search, not a property: it stops at the first patient found, so it keeps its full
    # budget in every profile (a fiftieth missed rare values in the inner loop).
    quick = settings(max_examples=5000, database=None, phases=[Phase.generate])
    # Seeded: a search over random patients can miss a rare value by chance; a fixed seed
    # makes the outcome the same on every run. The rarest value (Koopman below 14, every
    # item known) takes about 300 patients on average: 1000 missed it in about 1 run in 25.
    found = find(
        PATIENT,
        lambda facts: registry.score_facts(facts)[output] is value,
        settings=quick,
        random=Random(f"{output}={value}"),
    )
    assert registry.score_facts(found)[output] is value


def test_a_graded_item_truncates_toward_zero_like_int() -> None:
    """A SQL cast rounds in DuckDB (2.7 -> 3) and truncates in Spark; Python's int() truncates."""
    item = next(i for d in SCORES.values() for i in d.items if i.kind is ItemKind.GRADED)
    values = [2.7, -1.5, -0.5, 0.0, 3.0, None]
    table = ibis.memtable({item.facts[0]: values}, schema={item.facts[0]: "float64"})
    got = ibis.duckdb.connect().to_pyarrow(
        table.select(points=item_points(item, lambda name: table[name]))
    )
    assert got["points"].to_pylist() == [item.points({item.facts[0]: v}) for v in values]
    assert got["points"].to_pylist() == [2, -1, 0, 0, 3, None]


def test_an_unknown_trigger_leaves_every_output_unknown() -> None:
    """A score shown for the wrong condition is noise: no trigger TRUE, no score."""
    definition = SCORES["has_bled"]
    maximal = {name: True for item in definition.items for name in item.facts}
    maximal |= {"systolic_bp_mmhg": 200.0, "creatinine_umol_l": 300.0, "age_years": 80.0}
    maximal |= {"alcohol_units_per_week": 20.0}
    rows = [dict(maximal), dict(maximal, on_anticoagulation=True)]
    columns = sorted({*maximal, *definition.applies_when})
    table = ibis.memtable(facts_arrow(rows, columns))
    out = ibis.duckdb.connect().to_pyarrow(with_score_facts(table, {"has_bled": definition}))
    assert out["has_bled_high_risk"].to_pylist() == [None, True]
    assert [registry.score_facts(row)["has_bled_high_risk"] for row in rows] == [None, True]


def test_score_items_are_data_the_compiler_reads() -> None:
    item = threshold("elderly", "Elderly", "age_years", 1, op="gt", value=65)
    assert (item.kind, item.tests, item.weight) == (
        ItemKind.THRESHOLD,
        (Test("age_years", "gt", 65),),
        1,
    )
    assert [item.points({"age_years": v}) for v in (65, 65.5, None)] == [0, 1, None]
    with pytest.raises(ValueError, match="op must be"):
        Test("age_years", "over", 65)
