"""Untrusted YAML and JSON are read without aliases, tags or unbounded size, naming the limit."""

from __future__ import annotations

import json

import pytest

from venapath.domain.reading import CASE_LIMITS, FHIR_LIMITS, Limits, read_json, read_yaml
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
