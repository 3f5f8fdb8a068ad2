"""Untrusted YAML and JSON are read without aliases, tags or unbounded size, naming the limit."""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hypothesis_profiles import examples
from venapath.domain.reading import (
    CASE_LIMITS,
    FHIR_LIMITS,
    Limits,
    _first_violation,
    _within_limits,
    check_limits,
    read_json,
    read_yaml,
)
from venapath.errors import InputError, TooLargeError

ALIAS_BOMB = (
    "format_version: 1\nrefs:\n"
    '  a0: &a0 ["xxxxxxxx","xxxxxxxx","xxxxxxxx","xxxxxxxx","xxxxxxxx"]\n'
    "  a1: &a1 [*a0,*a0,*a0,*a0,*a0,*a0,*a0,*a0,*a0,*a0]\n"
    "  a2: &a2 [*a1,*a1,*a1,*a1,*a1,*a1,*a1,*a1,*a1,*a1]\n"
    "case_id: *a2\n"
)


def test_plain_yaml_reads_as_data() -> None:
    assert read_yaml("a: 1\nb: [x, 'y']\n", CASE_LIMITS) == {"a": 1, "b": ["x", "y"]}


def test_an_alias_bomb_is_refused_at_its_first_anchor_naming_the_line() -> None:
    with pytest.raises(InputError) as caught:
        read_yaml(ALIAS_BOMB, CASE_LIMITS)
    assert "line 3" in str(caught.value)
    assert "aliases" in str(caught.value)
    assert not isinstance(caught.value, TooLargeError)


@pytest.mark.parametrize(
    "text",
    [
        "case_id: !!binary aGVsbG8=\n",
        "x: !!python/object/apply:os.system ['true']\n",
        "x: !custom 1\n",
        "x: !!map {a: 1}\n",
    ],
)
def test_tags_are_refused_naming_the_line(text: str) -> None:
    with pytest.raises(InputError, match="line 1: YAML tags"):
        read_yaml(text, CASE_LIMITS)


@pytest.mark.parametrize("depth", [33, 1_000, 100_000])
def test_yaml_nested_beyond_the_limit_is_too_large(depth: int) -> None:
    with pytest.raises(TooLargeError) as caught:
        read_yaml("[" * depth + "]" * depth, CASE_LIMITS)
    assert caught.value.limit_name == "max_depth"


def test_yaml_within_the_depth_limit_reads() -> None:
    assert read_yaml("[" * 32 + "]" * 32, CASE_LIMITS) is not None


@pytest.mark.parametrize("depth", [65, 1_000, 100_000])
def test_json_nested_beyond_the_limit_is_too_large_never_a_recursion_error(depth: int) -> None:
    with pytest.raises(TooLargeError) as caught:
        read_json("[" * depth + "]" * depth, FHIR_LIMITS)
    assert caught.value.limit_name == "max_depth"


def test_long_strings_and_lists_are_refused_with_their_pointer() -> None:
    small = Limits(max_depth=8, max_string=10, max_items=3)
    with pytest.raises(TooLargeError) as caught:
        read_json(json.dumps({"a": {"b": "x" * 11}}), small)
    assert caught.value.problems[0].pointer == "/a/b"
    assert "x" * 11 not in str(caught.value)
    with pytest.raises(TooLargeError) as caught:
        read_json(json.dumps({"a": [1, 2, 3, 4]}), small)
    assert caught.value.problems[0].pointer == "/a"
    with pytest.raises(TooLargeError, match="more than 3 entries"):
        read_yaml("a: [1, 2, 3, 4]\n", small)
    with pytest.raises(TooLargeError, match="longer than 10"):
        read_yaml(f"a: {'y' * 11}\n", small)


def test_a_bundle_over_the_entry_limit_is_refused() -> None:
    entries = [{"resource": {"resourceType": "Basic"}}] * (FHIR_LIMITS.max_items + 1)
    with pytest.raises(TooLargeError) as caught:
        read_json(json.dumps({"resourceType": "Bundle", "entry": entries}), FHIR_LIMITS)
    assert caught.value.problems[0].pointer == "/entry"


SMALL = Limits(max_depth=3, max_string=5, max_items=3)
_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=7),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=7), children, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=examples(500))
@given(
    data=st.one_of(
        st.lists(_JSON_VALUES, max_size=4),
        st.dictionaries(st.text(max_size=7), _JSON_VALUES, max_size=4),
    )
)
# The edges, one limit each: exactly at it, and one past it.
@example(data=[[[]]])
@example(data=[[[[]]]])
@example(data={"k": [{"x": 1}]})
@example(data={"k": [{"x": [1]}]})
@example(data=["12345", {"12345": 1}, [1, 2, 3]])
@example(data=["123456"])
@example(data={"123456": 1})
@example(data=[[1, 2, 3, 4]])
def test_the_fast_limit_walk_agrees_with_the_walk_that_names_the_place(data: object) -> None:
    """Every body takes the fast walk; only a refusal takes the naming walk. They must agree on
    what is refused (depth, string length in keys and values, entries), on data small limits
    make likely to pass them."""
    assert isinstance(data, dict | list)
    fast = _within_limits(data, SMALL)
    assert fast == (_first_violation(data, SMALL, with_pointer=False) is None)
    if fast:
        check_limits(data, SMALL)
    else:
        with pytest.raises(TooLargeError):
            check_limits(data, SMALL)
