"""Hypothesis strategies over the fact catalogue, and helpers to satisfy a condition."""

from __future__ import annotations

import random

from hypothesis import strategies as st

from venapath.domain.facts import FactDefinition, FactType, FactValue, catalogue
from venapath.kb.conditions import All, Condition, Leaf, Not

CASE_FACTS: dict[str, FactDefinition] = {
    name: definition for name, definition in catalogue().items() if definition.derive is not None
}
_NUMBER_RANGES = {
    "h": (0, 400),
    "d": (0, 400),
    "years": (0, 120),
    "mmHg": (40, 260),
    "10^9/L": (0, 600),
    "%": (0, 100),
    "points": (0, 15),
}


def _value_strategy(definition: FactDefinition) -> st.SearchStrategy[FactValue]:
    if definition.type is FactType.BOOLEAN:
        return st.sampled_from([None, True, False])
    if definition.type is FactType.CHOICE:
        return st.sampled_from([None, *definition.choices])
    low, high = _NUMBER_RANGES.get(definition.unit or "", (0, 300))
    if definition.name.startswith("villalta_"):
        low, high = 0, 3
    return st.one_of(st.none(), st.integers(low, high))


@st.composite
def fact_sets(draw: st.DrawFn) -> dict[str, FactValue]:
    """A random assignment of every case-derived fact (unknown included)."""
    return {name: draw(_value_strategy(d)) for name, d in CASE_FACTS.items()}


def satisfy(condition: Condition, rng: random.Random, *, want: bool = True) -> dict[str, FactValue]:
    """Some assignment of facts that makes `condition` evaluate to `want` (not unknown)."""
    if isinstance(condition, Leaf):
        return {condition.fact: leaf_value(condition, want)}
    if isinstance(condition, Not):
        return satisfy(condition.child, rng, want=not want)
    every = isinstance(condition, All) == want  # all-true, or any-false: every child
    if every:
        merged: dict[str, FactValue] = {}
        for child in condition.children:
            merged.update(satisfy(child, rng, want=want))
        return merged
    return satisfy(rng.choice(condition.children), rng, want=want)


def _leaf_value(leaf: Leaf, want: bool) -> FactValue:
    value = leaf.value
    if leaf.op == "is":
        return value if want else not value
    if leaf.op == "in":
        assert isinstance(value, tuple)
        if want:
            return value[0]
        others = [c for c in CASE_FACTS[leaf.fact].choices if c not in value]
        return others[0]
    assert isinstance(value, int | float)
    nudged = {
        "lt": (value - 1, value),
        "le": (value, value + 1),
        "gt": (value + 1, value),
        "ge": (value, value - 1),
        "eq": (value, value + 1),
        "ne": (value + 1, value),
    }
    return nudged[leaf.op][0 if want else 1]


def _choice_leaf_value(leaf: Leaf, want: bool) -> FactValue:
    choices = CASE_FACTS[leaf.fact].choices
    if (leaf.op == "eq") == want:
        return leaf.value  # type: ignore[return-value]
    return next(c for c in choices if c != leaf.value)


def leaf_value(leaf: Leaf, want: bool) -> FactValue:
    if (
        CASE_FACTS.get(leaf.fact)
        and CASE_FACTS[leaf.fact].type is FactType.CHOICE
        and leaf.op in ("eq", "ne")
    ):
        return _choice_leaf_value(leaf, want)
    return _leaf_value(leaf, want)
