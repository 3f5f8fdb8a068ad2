"""Three-valued logic of the condition language, on the compiled and explained paths."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from venapath.domain.facts import catalogue
from venapath.kb.conditions import (
    compile_condition,
    deciding_leaves,
    deciding_unknowns,
    evaluate_tree,
    parse,
)

CATALOGUE = catalogue()
TRUTH = st.sampled_from([True, False, None])


def _compile(raw: dict[str, object]):  # type: ignore[no-untyped-def]
    tree = parse(raw, CATALOGUE)
    return tree, compile_condition(tree)


@pytest.mark.parametrize(
    ("a", "b", "all_", "any_"),
    [
        (True, True, True, True),
        (True, False, False, True),
        (True, None, None, True),
        (False, None, False, None),
        (None, None, None, None),
        (False, False, False, False),
    ],
)
def test_kleene_truth_tables(a, b, all_, any_) -> None:  # type: ignore[no-untyped-def]
    facts = {"coma": a, "herniation": b}
    _, conj = _compile({"all": [{"fact": "coma"}, {"fact": "herniation"}]})
    _, disj = _compile({"any": [{"fact": "coma"}, {"fact": "herniation"}]})
    assert conj(facts) is all_
    assert disj(facts) is any_


def test_not_keeps_unknown_unknown() -> None:
    _, negation = _compile({"not": {"fact": "coma"}})
    assert negation({"coma": None}) is None
    assert negation({"coma": True}) is False


def test_comparisons_and_membership_are_unknown_on_missing_values() -> None:
    _, low = _compile({"fact": "platelets_10e9_l", "lt": 100})
    _, member = _compile({"fact": "symptom_response", "in": ["none", "worsening"]})
    assert low({}) is None
    assert low({"platelets_10e9_l": 99}) is True
    assert low({"platelets_10e9_l": 100}) is False
    assert member({}) is None
    assert member({"symptom_response": "none"}) is True


@given(coma=TRUTH, herniation=TRUTH, seizure=TRUTH, gcs=st.one_of(st.none(), st.integers(3, 15)))
def test_compiled_and_explained_evaluation_agree(coma, herniation, seizure, gcs) -> None:  # type: ignore[no-untyped-def]
    raw = {
        "any": [
            {"all": [{"fact": "coma"}, {"not": {"fact": "herniation"}}]},
            {"fact": "seizure", "is": False},
            {"fact": "gcs", "le": 8},
        ]
    }
    tree, compiled = _compile(raw)
    facts = {"coma": coma, "herniation": herniation, "seizure": seizure, "gcs": gcs}
    value = compiled(facts)
    assert value is evaluate_tree(tree, facts)
    if value is None:
        unknowns = deciding_unknowns(tree, facts)
        assert unknowns
        assert all(facts[name] is None for name in unknowns)
    else:
        assert deciding_leaves(tree, facts)


def test_deciding_unknowns_skips_children_that_cannot_change_the_result() -> None:
    tree, _ = _compile(
        {"all": [{"fact": "coma"}, {"any": [{"fact": "seizure"}, {"fact": "herniation"}]}]}
    )
    assert deciding_unknowns(tree, {"coma": None, "seizure": True, "herniation": None}) == ["coma"]
    assert deciding_unknowns(tree, {"coma": False, "seizure": None}) == []
