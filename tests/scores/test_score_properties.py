"""Properties every score must have, checked on random fact assignments (hypothesis).

The central one is soundness under missing data: forgetting facts may only widen the
reported range and the set of possible bands, never move them away from the answer the
full facts give. A rule reading a score output may then trust any value that is not None.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scoring_support import full_assignment, read_facts, theoretical_range

from hypothesis_profiles import examples
from venapath.domain.facts import FactValue
from venapath.scores.base import ScoreDefinition, ScoreResult, compute, output_facts
from venapath.scores.registry import SCORES


def _consistent(definition: ScoreDefinition, facts: dict[str, FactValue]) -> bool:
    """No record that contradicts itself: a note saying "normal" (a test's `unless`) beside a
    measured value that the test counts as abnormal. For such a record the measured value
    decides (tests/scores/test_has_bled.py), and then forgetting the value lets the note
    decide, so no answer can be monotone in what is forgotten; real records are checked
    for that conflict at the bedside, not here."""
    return not any(
        test.unless is not None
        and facts.get(test.unless) is True
        and facts.get(test.fact) is not None
        and dataclasses.replace(test, unless=None).holds(facts) is True
        for item in definition.items
        for test in item.tests
    )


DEFINITIONS = pytest.mark.parametrize("definition", list(SCORES.values()), ids=list(SCORES))


@DEFINITIONS
@settings(max_examples=examples(150))
@given(data=st.data())
def test_full_information_gives_points_in_range_and_one_band(
    definition: ScoreDefinition, data: st.DataObject
) -> None:
    facts = data.draw(full_assignment(read_facts(definition)))
    result = compute(definition, facts)
    low, high = theoretical_range(definition)
    assert result.points is not None
    assert low <= result.points <= high
    assert result.min_points == result.max_points == result.points
    assert result.missing == []
    assert result.band is not None
    assert result.interpretation


@DEFINITIONS
@settings(max_examples=examples(300))
@given(data=st.data())
def test_forgetting_facts_only_widens_the_answer(
    definition: ScoreDefinition, data: st.DataObject
) -> None:
    names = read_facts(definition)
    full = data.draw(full_assignment(names))
    assume(_consistent(definition, full))
    forgotten = data.draw(st.sets(st.sampled_from(names)))
    partial: dict[str, FactValue] = {**full, **dict.fromkeys(forgotten)}

    known = compute(definition, full)
    guessed = compute(definition, partial)
    low, high = theoretical_range(definition)

    assert known.points is not None
    assert low <= guessed.min_points <= known.points <= guessed.max_points <= high
    assert known.band in guessed.possible_bands
    if guessed.band is not None:
        assert guessed.band == known.band
    assert set(guessed.missing) <= forgotten
    if guessed.points is not None:
        assert guessed.points == known.points

    known_outputs = output_facts(definition, known)
    assert None not in known_outputs.values()
    for name, value in output_facts(definition, guessed).items():
        assert value is None or value == known_outputs[name]


@DEFINITIONS
def test_nothing_known_gives_the_whole_range(definition: ScoreDefinition) -> None:
    result = compute(definition, {})
    assert (result.min_points, result.max_points) == theoretical_range(definition)
    assert result.points is None
    assert set(result.missing) == set(read_facts(definition))


@DEFINITIONS
@settings(max_examples=examples(150))
@given(data=st.data())
def test_reused_item_lines_and_citation_keep_the_result_contract(
    definition: ScoreDefinition, data: st.DataObject
) -> None:
    """`compute` reuses validated item lines and the citation; the result must still be exactly
    what validating it from plain data gives, item by item."""
    facts = data.draw(full_assignment(read_facts(definition)))
    forget = data.draw(st.sets(st.sampled_from(sorted(facts))))
    partial = {name: value for name, value in facts.items() if name not in forget}
    for assignment in (facts, partial):
        result = compute(definition, assignment)
        assert ScoreResult.model_validate_json(result.model_dump_json()) == result
        for item, line in zip(definition.items, result.items, strict=True):
            assert (line.id, line.label, line.facts) == (item.id, item.label, list(item.facts))
            assert line.points == item.points(assignment)
        assert result.citation.id == definition.citation.id
        assert result.citation.evidence == definition.citation.evidence


@DEFINITIONS
@settings(max_examples=examples(200))
@given(data=st.data())
def test_a_remembered_result_is_the_one_these_facts_give(
    definition: ScoreDefinition, data: st.DataObject
) -> None:
    """`compute` remembers results by item points, missing facts and override state. After
    scoring other facts first, the result for these facts must equal what a score with
    nothing remembered gives: a key that left out something the result depends on fails."""
    names = read_facts(definition)
    full = data.draw(full_assignment(names))
    other = data.draw(full_assignment(names))
    earlier, current = (
        {**assignment, **dict.fromkeys(data.draw(st.sets(st.sampled_from(names))))}
        for assignment in (data.draw(st.sampled_from((full, other))), full)
    )
    compute(definition, earlier)
    remembered = compute(definition, current)
    nothing_remembered = dataclasses.replace(definition)
    assert "result_cache" not in vars(nothing_remembered)
    assert remembered == compute(nothing_remembered, current)
    assert remembered.model_dump() == compute(nothing_remembered, current).model_dump()


@pytest.mark.parametrize(
    ("score_id", "earlier", "current"),
    [
        # Same item points (bleeding unknown), different missing fact.
        (
            "has_bled",
            {"previous_major_bleeding": False},
            {"bleeding_disorder": False},
        ),
        # Same item points (all unknown), different override state (an ulcer is severe).
        ("villalta", {"venous_ulcer": False}, {"venous_ulcer": True}),
        ("villalta", {"venous_ulcer": True}, {}),
    ],
)
def test_results_that_share_item_points_are_not_confused(
    score_id: str, earlier: dict[str, FactValue], current: dict[str, FactValue]
) -> None:
    definition = SCORES[score_id]
    compute(definition, earlier)
    assert compute(definition, current) == compute(dataclasses.replace(definition), current)
