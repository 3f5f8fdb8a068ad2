"""Compute one score from typed item values: the one door for REST and the command line.

Every item is checked before anything is added up: its type, and for a number the range the
case format allows for the same fact (`domain/ranges.py`), so a Villalta item of -5 or 7, or
an age of 400, is refused naming the item instead of giving a score that means nothing.
"""

from __future__ import annotations

from typing import Any

from venapath.domain.facts import FactType, FactValue, catalogue
from venapath.domain.ranges import number_range
from venapath.errors import InputError, Problem
from venapath.scores import registry
from venapath.scores.base import ScoreResult, compute


class ScoreInputError(InputError):
    """An item that cannot be used: `field` names it (a JSON pointer), `message` says why."""

    title = "Invalid score items"

    def __init__(self, field: str, message: str) -> None:
        super().__init__([Problem(field, message)], f"{field}: {message}")
        self.field = field
        self.message = message


def score_items(score_id: str) -> set[str]:
    definition = registry.get(score_id)
    return {fact for item in definition.items for fact in item.facts}


def compute_score(score_id: str, items: dict[str, Any]) -> ScoreResult:
    """Score `items` (fact name -> value); items not given stay unknown and widen the range."""
    definition = registry.get(score_id)
    readable = score_items(score_id)
    definitions = catalogue()
    facts: dict[str, FactValue] = {}
    for name, value in items.items():
        if name not in readable:
            raise ScoreInputError(
                f"/items/{name}", f"not an item of {score_id}; items: {', '.join(sorted(readable))}"
            )
        if value is None:
            continue
        definition_of = definitions[name]
        field = f"/items/{name}"
        typed = _typed(field, value, definition_of.type, definition_of.choices)
        facts[name] = _in_range(field, name, typed)
    return compute(definition, facts)


def _in_range(field: str, name: str, value: FactValue) -> FactValue:
    """`value` when it fits the range of number fact `name`; refused naming `field` if not."""
    bounds = number_range(name)
    if bounds is None or not isinstance(value, float):
        return value
    problem = bounds.problem(value)
    if problem is not None:
        raise ScoreInputError(field, problem)
    return value


def _typed(field: str, value: Any, kind: FactType, choices: tuple[str, ...]) -> FactValue:
    if kind is FactType.BOOLEAN:
        if isinstance(value, bool):
            return value
        raise ScoreInputError(field, "expected true or false")
    if kind is FactType.NUMBER:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if value != value or value in (float("inf"), float("-inf")):
                raise ScoreInputError(field, "expected a finite number")
            return float(value)
        raise ScoreInputError(field, "expected a number")
    if isinstance(value, str) and value in choices:
        return value
    raise ScoreInputError(field, f"expected one of {', '.join(choices)}")
