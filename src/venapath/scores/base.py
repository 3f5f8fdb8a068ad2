"""What a risk score is, and how one is computed when some items are unknown.

A score with unknown items is not scored as if they were absent. It is reported as a range
(`min_points`..`max_points`); its band is given only when every value in that range falls
in the same band, and the facts that would narrow it are listed in `missing`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

from pydantic import BaseModel, ConfigDict

from venapath.domain.facts import FactValue
from venapath.domain.kleene import COMPARISONS, Truth, k_or

Facts = Mapping[str, FactValue]


@dataclass(frozen=True)
class ScoreCitation:
    id: str
    title: str
    year: int
    evidence: str
    url: str | None = None


class ItemKind(StrEnum):
    """How an item turns facts into points. Closed, so the screen can compile every item."""

    FLAG = "flag"  # `weight` when a boolean fact is true
    THRESHOLD = "threshold"  # `weight` when a number passes a comparison
    ANY_OF = "any_of"  # `weight` when any of several tests holds (Kleene OR)
    LEVELS = "levels"  # points looked up by the value of a choice fact
    GRADED = "graded"  # a number that is its own points, 0..`weight`


@dataclass(frozen=True)
class Test:
    """A yes/no test on one fact: `is` a boolean value, or a comparison (COMPARISONS) with a number.

    Data rather than a lambda, so the population screen can compile it to SQL.
    """

    __test__ = False  # a class named Test: pytest must not collect it where it is imported

    fact: str
    op: str = "is"
    value: bool | float = True
    unless: str | None = None
    """A boolean fact that, when true, makes the test false while `fact` is not recorded: a
    record stating "normal" without a number (e.g. blood_pressure_recorded_normal). A number,
    when given, decides: it is the more specific record, and letting a "normal" note hide a
    measured abnormal value would lower a bleeding-risk score (and forgetting the note would
    then raise it, so the unknown-widens-the-answer property would fail)."""

    def __post_init__(self) -> None:
        if self.op != "is" and self.op not in COMPARISONS:
            raise ValueError(
                f"test on {self.fact!r}: op must be 'is' or one of {sorted(COMPARISONS)}"
            )

    def holds(self, facts: Facts) -> Truth:
        value = facts.get(self.fact)
        if self.op == "is" and value is not None:
            return value is self.value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return bool(COMPARISONS[self.op](float(value), self.value))
        # Absent, or a flag or a word where a number test needs a number: only then may a
        # note saying "normal" settle the test.
        if self.unless is not None and facts.get(self.unless) is True:
            return False
        return None


_MAX_LINES_PER_ITEM = 64
"""Bound on the reused output lines of one item (flag items have 3, graded ones a few more)."""


@dataclass(frozen=True)
class Item:
    """One scored item, as data: which facts feed it and how they give points.

    `weight` is the points given when the item's tests hold (flag, threshold, any_of) or the
    top grade (graded); `table` maps a choice to its points (levels; unlisted choices 0).
    `points(facts)` is None when the facts cannot decide the item.
    """

    id: str
    label: str
    kind: ItemKind
    facts: tuple[str, ...]
    weight: int = 0
    tests: tuple[Test, ...] = ()
    table: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        needs_tests = self.kind in (ItemKind.FLAG, ItemKind.THRESHOLD, ItemKind.ANY_OF)
        if needs_tests != bool(self.tests):
            raise ValueError(f"item {self.id!r}: tests belong to flag/threshold/any_of items")
        if (self.kind is ItemKind.LEVELS) != bool(self.table):
            raise ValueError(f"item {self.id!r}: a points table belongs to levels items")

    def points(self, facts: Facts) -> int | None:
        if self.kind is ItemKind.LEVELS:
            value = facts.get(self.facts[0])
            if not isinstance(value, str):
                return None
            return self._points_by_level.get(value, 0)
        if self.kind is ItemKind.GRADED:
            value = facts.get(self.facts[0])
            if value is None or isinstance(value, bool | str):
                return None
            return int(value)
        tests = self.tests
        # Most items hold one test: skip the generator k_or needs for several.
        met = tests[0].holds(facts) if len(tests) == 1 else k_or(t.holds(facts) for t in tests)
        if met is None:
            return None
        return self.weight if met else 0

    # The properties below are cached on the (frozen, never changing) item: `compute` reads
    # them for every unknown item of every score of every evaluation.

    @cached_property
    def min_points(self) -> int:
        return min(0, *self._possible_points())

    @cached_property
    def max_points(self) -> int:
        return max(0, *self._possible_points())

    @cached_property
    def _points_by_level(self) -> dict[str, int]:
        return dict(self.table)

    @cached_property
    def _results(self) -> dict[int | None, ScoreItemResult]:
        return {}

    def result(self, points: int | None) -> ScoreItemResult:
        """This item's output line for `points`, validated once per value and then reused.

        An item's line depends only on its points (a handful of values), and a frozen model
        instance is accepted by `ScoreResult` without being validated again.
        """
        line = self._results.get(points)
        if line is None:
            line = ScoreItemResult.model_validate(
                {"id": self.id, "label": self.label, "points": points, "facts": list(self.facts)}
            )
            if len(self._results) < _MAX_LINES_PER_ITEM:  # a graded item's points come from data
                self._results[points] = line
        return line

    def _possible_points(self) -> tuple[int, ...]:
        if self.kind is ItemKind.LEVELS:
            return tuple(points for _choice, points in self.table)
        return (self.weight,)


@dataclass(frozen=True)
class Band:
    """An inclusive range of points with a label; None means open-ended."""

    label: str
    low: int | None
    high: int | None
    interpretation: str = ""

    def contains(self, points: int) -> bool:
        return (self.low is None or points >= self.low) and (
            self.high is None or points <= self.high
        )


@dataclass(frozen=True)
class OutputFact:
    """A boolean fact the score produces: true when the band is one of `true_bands`."""

    name: str
    description: str
    true_bands: frozenset[str]


@dataclass(frozen=True)
class ScoreDefinition:
    id: str
    title: str
    citation: ScoreCitation
    items: tuple[Item, ...]
    bands: tuple[Band, ...]
    applies_when: tuple[str, ...]
    outputs: tuple[OutputFact, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    override_fact: str | None = None
    override_band: str | None = None
    """A boolean fact that forces a band whatever the points (Villalta: an ulcer is severe)."""

    def band_of(self, points: int) -> Band | None:
        return next((band for band in self.bands if band.contains(points)), None)

    @cached_property
    def result_cache(self) -> dict[tuple[object, ...], ScoreResult]:
        """Results already built, by what they depend on (see `compute`)."""
        return {}

    @cached_property
    def citation_out(self) -> ScoreCitationOut:
        """The citation as output, validated once (it never changes)."""
        citation = self.citation
        return ScoreCitationOut.model_validate(
            {
                "id": citation.id,
                "title": citation.title,
                "year": citation.year,
                "evidence": citation.evidence,
                "url": citation.url,
            }
        )


# ------------------------------------------------------------------- item builders


def flag(id_: str, label: str, fact: str, points: int) -> Item:
    """Points when a boolean fact is true, zero when false, unknown when unknown."""
    return Item(id_, label, ItemKind.FLAG, (fact,), points, (Test(fact),))


def threshold(
    id_: str,
    label: str,
    fact: str,
    points: int,
    op: str,
    value: float,
    *,
    unless: str | None = None,
) -> Item:
    """Points when a numeric fact compares true: `threshold(..., op="gt", value=160)`;
    zero when the `unless` fact is true (the record says the value is normal)."""
    facts = (fact,) if unless is None else (fact, unless)
    return Item(id_, label, ItemKind.THRESHOLD, facts, points, (Test(fact, op, value, unless),))


def levels(id_: str, label: str, fact: str, points_by_level: Mapping[str, int]) -> Item:
    """Points by the value of a choice fact (e.g. level of consciousness)."""
    return Item(id_, label, ItemKind.LEVELS, (fact,), table=tuple(points_by_level.items()))


def graded(id_: str, label: str, fact: str, maximum: int) -> Item:
    """A 0..maximum item whose value is its points (Villalta items)."""
    return Item(id_, label, ItemKind.GRADED, (fact,), maximum)


def any_of(id_: str, label: str, facts_: tuple[str, ...], points: int) -> Item:
    """Points when any of several boolean facts is true (Kleene OR)."""
    return tests_item(id_, label, tuple(Test(name) for name in facts_), points)


def tests_item(id_: str, label: str, tests: tuple[Test, ...], points: int) -> Item:
    """Points when any of several tests holds (Kleene OR): a flag or a number over a limit."""
    named = [name for test in tests for name in (test.fact, test.unless) if name is not None]
    facts = tuple(dict.fromkeys(named))
    return Item(id_, label, ItemKind.ANY_OF, facts, points, tests)


# ----------------------------------------------------------------------- results


class ScoreItemResult(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: str
    label: str
    points: int | None
    facts: list[str]


class ScoreCitationOut(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: str
    title: str
    year: int
    evidence: str
    url: str | None = None


class ScoreResult(BaseModel):
    """A computed score. `points` is set only when every item is known."""

    model_config = ConfigDict(frozen=True)
    id: str
    title: str
    points: int | None
    min_points: int
    max_points: int
    band: str | None
    possible_bands: list[str]
    interpretation: str | None
    items: list[ScoreItemResult]
    missing: list[str]
    citation: ScoreCitationOut
    notes: list[str] = []


def compute(definition: ScoreDefinition, facts: Facts) -> ScoreResult:
    """Score `facts`, carrying unknown items as a range instead of guessing them.

    The result depends only on each item's points, which facts of the unknown items are
    missing, and the override fact's state; a few such combinations cover most patients, so
    each score keeps the results it has built under that key (bounded, see `_result_cache`)
    and only the items' points are worked out on every call.
    """
    points = tuple(item.points(facts) for item in definition.items)
    missing: list[str] = []
    for item, item_points in zip(definition.items, points, strict=True):
        if item_points is None:
            missing.extend(
                name for name in item.facts if facts.get(name) is None and name not in missing
            )
    override = _override_state(definition, facts)
    key = (points, tuple(missing), override)
    cache = definition.result_cache
    result = cache.get(key)
    if result is None:
        result = _build_result(definition, points, missing, override)
        if len(cache) < _MAX_RESULTS_PER_SCORE:  # numeric (graded) items can vary widely
            cache[key] = result
    return result


_MAX_RESULTS_PER_SCORE = 4096
"""Bound on the remembered results of one score (a result is a few hundred bytes)."""


def _override_state(definition: ScoreDefinition, facts: Facts) -> bool | None:
    """The override fact as the result reads it: True, None (unknown) or False (anything else)."""
    if definition.override_fact is None:
        return False
    value = facts.get(definition.override_fact)
    return None if value is None else value is True


def _build_result(
    definition: ScoreDefinition,
    points: tuple[int | None, ...],
    missing: list[str],
    override: bool | None,
) -> ScoreResult:
    low = high = 0
    for item, item_points in zip(definition.items, points, strict=True):
        if item_points is None:
            low += item.min_points
            high += item.max_points
        else:
            low += item_points
            high += item_points
    missing = list(missing)
    possible = _bands_between(definition, low, high)
    possible = _apply_override(definition, override, possible, missing)
    band = possible[0] if len(possible) == 1 else None
    interpretation = None
    if band is not None:
        interpretation = next(b.interpretation for b in definition.bands if b.label == band) or None
    # Validated from plain data and the items' and citation's ready-made (already validated)
    # lines: pydantic's compiled validator is faster than model_construct in Python, and
    # passes a frozen model instance through without validating it again.
    return ScoreResult.model_validate(
        {
            "id": definition.id,
            "title": definition.title,
            "points": low if low == high and not missing else None,
            "min_points": low,
            "max_points": high,
            "band": band,
            "possible_bands": possible,
            "interpretation": interpretation,
            "items": [
                item.result(item_points)
                for item, item_points in zip(definition.items, points, strict=True)
            ],
            "missing": missing,
            "citation": definition.citation_out,
            "notes": list(definition.notes),
        }
    )


def _apply_override(
    definition: ScoreDefinition, override: bool | None, possible: list[str], missing: list[str]
) -> list[str]:
    if definition.override_fact is None or definition.override_band is None:
        return possible
    if override is True:
        return [definition.override_band]
    if override is None:
        if definition.override_fact not in missing:
            missing.append(definition.override_fact)
        if definition.override_band not in possible:
            return [*possible, definition.override_band]
    return possible


def _bands_between(definition: ScoreDefinition, low: int, high: int) -> list[str]:
    """Labels of the bands that overlap [low, high], in definition order."""
    labels: list[str] = []
    for band in definition.bands:
        starts_before_high = band.low is None or band.low <= high
        ends_after_low = band.high is None or band.high >= low
        if starts_before_high and ends_after_low and band.label not in labels:
            labels.append(band.label)
    return labels


def output_facts(definition: ScoreDefinition, result: ScoreResult) -> dict[str, bool | None]:
    """The boolean facts this score feeds to the rules, three-valued from the possible bands."""
    facts: dict[str, bool | None] = {}
    for output in definition.outputs:
        hits = [label in output.true_bands for label in result.possible_bands]
        if hits and all(hits):
            facts[output.name] = True
        elif hits and not any(hits):
            facts[output.name] = False
        else:
            facts[output.name] = None
    return facts
