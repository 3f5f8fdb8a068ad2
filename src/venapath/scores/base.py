"""What a risk score is, and how one is computed when some items are unknown.

A score with unknown items is not scored as if they were absent. It is reported as a range
(`min_points`..`max_points`); its band is given only when every value in that range falls
in the same band, and the facts that would narrow it are listed in `missing`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from venapath.domain.facts import FactValue

Facts = Mapping[str, FactValue]
PointsFn = Callable[[Facts], int | None]


@dataclass(frozen=True)
class ScoreCitation:
    id: str
    title: str
    year: int
    evidence: str
    url: str | None = None


@dataclass(frozen=True)
class Item:
    """One scored item: which facts feed it and the points it gives (None when unknown)."""

    id: str
    label: str
    facts: tuple[str, ...]
    points: PointsFn
    min_points: int
    max_points: int


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


# ------------------------------------------------------------------- item builders


def flag(id_: str, label: str, fact: str, points: int) -> Item:
    """Points when a boolean fact is true, zero when false, unknown when unknown."""

    def score(facts: Facts) -> int | None:
        value = facts.get(fact)
        if value is None:
            return None
        return points if value is True else 0

    return Item(id_, label, (fact,), score, min(0, points), max(0, points))


def threshold(
    id_: str, label: str, fact: str, points: int, predicate: Callable[[float], bool]
) -> Item:
    """Points when a numeric fact satisfies `predicate`."""

    def score(facts: Facts) -> int | None:
        value = facts.get(fact)
        if value is None or isinstance(value, bool | str):
            return None
        return points if predicate(float(value)) else 0

    return Item(id_, label, (fact,), score, min(0, points), max(0, points))


def levels(id_: str, label: str, fact: str, points_by_level: Mapping[str, int]) -> Item:
    """Points by the value of a choice fact (e.g. level of consciousness)."""
    table = dict(points_by_level)

    def score(facts: Facts) -> int | None:
        value = facts.get(fact)
        if not isinstance(value, str):
            return None
        return table.get(value, 0)

    return Item(id_, label, (fact,), score, min(0, *table.values()), max(0, *table.values()))


def graded(id_: str, label: str, fact: str, maximum: int) -> Item:
    """A 0..maximum item whose value is its points (Villalta items)."""

    def score(facts: Facts) -> int | None:
        value = facts.get(fact)
        if value is None or isinstance(value, bool | str):
            return None
        return int(value)

    return Item(id_, label, (fact,), score, 0, maximum)


def any_of(id_: str, label: str, facts_: tuple[str, ...], points: int) -> Item:
    """Points when any of several boolean facts is true (Kleene OR)."""

    def score(facts: Facts) -> int | None:
        values = [facts.get(name) for name in facts_]
        if any(value is True for value in values):
            return points
        if any(value is None for value in values):
            return None
        return 0

    return Item(id_, label, facts_, score, min(0, points), max(0, points))


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
    """Score `facts`, carrying unknown items as a range instead of guessing them."""
    items: list[dict[str, object]] = []
    low = high = 0
    missing: list[str] = []
    for item in definition.items:
        points = item.points(facts)
        items.append(
            {"id": item.id, "label": item.label, "points": points, "facts": list(item.facts)}
        )
        if points is None:
            low += item.min_points
            high += item.max_points
            missing.extend(
                name for name in item.facts if facts.get(name) is None and name not in missing
            )
        else:
            low += points
            high += points
    possible = _bands_between(definition, low, high)
    possible = _apply_override(definition, facts, possible, missing)
    band = possible[0] if len(possible) == 1 else None
    interpretation = None
    if band is not None:
        interpretation = next(b.interpretation for b in definition.bands if b.label == band) or None
    citation = definition.citation
    # Validated once from plain data: pydantic's compiled validator is faster than building
    # each nested model in Python.
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
            "items": items,
            "missing": missing,
            "citation": {
                "id": citation.id,
                "title": citation.title,
                "year": citation.year,
                "evidence": citation.evidence,
                "url": citation.url,
            },
            "notes": list(definition.notes),
        }
    )


def _apply_override(
    definition: ScoreDefinition, facts: Facts, possible: list[str], missing: list[str]
) -> list[str]:
    if definition.override_fact is None or definition.override_band is None:
        return possible
    flag_value = facts.get(definition.override_fact)
    if flag_value is True:
        return [definition.override_band]
    if flag_value is None:
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
