"""Structural checks on every definition, and that they agree with the fact catalogue."""

from __future__ import annotations

import pytest
from scoring_support import read_facts, theoretical_range

from venapath.domain.facts import FactType, catalogue
from venapath.scores.base import ScoreDefinition, compute
from venapath.scores.registry import SCORES

DEFINITIONS = pytest.mark.parametrize("definition", list(SCORES.values()), ids=list(SCORES))


@DEFINITIONS
def test_every_fact_a_score_reads_is_in_the_catalogue(definition: ScoreDefinition) -> None:
    known = catalogue()
    assert [name for name in read_facts(definition) if name not in known] == []
    assert [name for name in definition.applies_when if name not in known] == []


@DEFINITIONS
def test_triggers_and_override_are_boolean_case_facts(definition: ScoreDefinition) -> None:
    facts = catalogue()
    for name in (*definition.applies_when, definition.override_fact):
        if name is None:
            continue
        assert facts[name].type is FactType.BOOLEAN
        assert facts[name].source == "case"


@DEFINITIONS
def test_items_read_case_facts_not_other_scores(definition: ScoreDefinition) -> None:
    facts = catalogue()
    assert all(facts[name].source == "case" for name in read_facts(definition))


@DEFINITIONS
def test_bands_cover_the_range_once(definition: ScoreDefinition) -> None:
    low, high = theoretical_range(definition)
    for points in range(low, high + 1):
        holders = [band.label for band in definition.bands if band.contains(points)]
        assert len(holders) == 1, (points, holders)
    labels = [band.label for band in definition.bands]
    assert len(set(labels)) == len(labels)
    assert all(band.interpretation for band in definition.bands)


@DEFINITIONS
def test_outputs_and_override_name_real_bands(definition: ScoreDefinition) -> None:
    labels = {band.label for band in definition.bands}
    for output in definition.outputs:
        assert output.true_bands <= labels
        assert output.true_bands != labels, "an output true in every band says nothing"
    if definition.override_band is not None:
        assert definition.override_band in labels
        assert definition.override_fact is not None


@DEFINITIONS
def test_item_ids_are_unique_and_ranges_ordered(definition: ScoreDefinition) -> None:
    ids = [item.id for item in definition.items]
    assert len(set(ids)) == len(ids)
    assert all(item.min_points <= item.max_points for item in definition.items)


@DEFINITIONS
def test_citation_is_complete(definition: ScoreDefinition) -> None:
    citation = definition.citation
    assert citation.id
    assert citation.title
    assert citation.evidence
    assert 1990 <= citation.year <= 2030
    assert citation.url is not None
    assert citation.url.startswith("https://")
    result = compute(definition, {})
    assert result.citation.url == citation.url


def test_score_ids_match_the_catalogue_sources() -> None:
    for fact in catalogue().values():
        if fact.source.startswith("score:"):
            score_id = fact.source.removeprefix("score:")
            assert score_id in SCORES, fact.name
            assert fact.name in {output.name for output in SCORES[score_id].outputs}
            assert fact.type is FactType.BOOLEAN


def test_catalogue_score_facts_equal_registry_outputs() -> None:
    declared = {name for name, fact in catalogue().items() if fact.source.startswith("score:")}
    produced = {output.name for d in SCORES.values() for output in d.outputs}
    assert declared == produced


def test_choice_levels_cover_the_catalogue_choices() -> None:
    # CVT-GS reads `consciousness`; every catalogue choice must score (alert is 0 by design).
    definition = SCORES["cvt_grading_scale"]
    for choice in catalogue()["consciousness"].choices:
        item = next(i for i in definition.items if i.facts == ("consciousness",))
        assert item.points({"consciousness": choice}) is not None
