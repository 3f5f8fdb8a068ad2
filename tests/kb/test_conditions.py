"""Three-valued logic of the condition language, on the compiled and explained paths."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from venapath.domain.facts import catalogue
from venapath.kb.conditions import (
    Leaf,
    compile_condition,
    compile_unknowns,
    deciding_leaves,
    deciding_unknowns,
    evaluate_tree,
    leaves,
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
    assert compile_unknowns(tree)(facts) == deciding_unknowns(tree, facts)
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


def test_compiled_unknowns_agree_with_the_tree_walk_on_every_rule() -> None:
    """The engine asks the compiled form; on every condition of the knowledge base, with
    each fact it reads unknown, true, false or a number either side of its limits, the
    compiled answer is the tree walk's, order included."""
    from venapath.kb.loader import load_knowledge_base

    kb = load_knowledge_base()
    conditions = [rule.condition for rule in kb.rules]
    conditions += [rule.provided for rule in kb.rules if rule.provided is not None]
    conditions += [pathway.condition for pathway in kb.pathways]
    for index, condition in enumerate(conditions):
        compiled = compile_unknowns(condition)
        for variant in range(6):
            facts = {
                leaf.fact: _sample_value(leaf, variant + position)
                for position, leaf in enumerate(leaves(condition))
            }
            assert compiled(facts) == deciding_unknowns(condition, facts), (index, facts)


def _sample_value(leaf: Leaf, variant: int) -> object:
    """Unknown every third time; otherwise a value the leaf's test can accept."""
    if variant % 3 == 0:
        return None
    if leaf.op == "is":
        return variant % 2 == 0
    if leaf.op == "in":
        assert isinstance(leaf.value, tuple)
        return leaf.value[variant % len(leaf.value)]
    if isinstance(leaf.value, str):
        return leaf.value
    assert isinstance(leaf.value, int | float)
    return leaf.value + (1 if variant % 2 else -1)
